"""``hmac``: a configurable HMAC scheme for senders that have no scheme of their own.

The signed bytes follow ``signed_payload``, a template over ``{body}`` (required, once),
``{timestamp}`` (the ``timestamp_header`` value, Unix seconds) and ``{id}`` (the ``id_header``
value). Templates are tokenised once here, never passed to ``str.format`` (which would let a
config reach attributes), and the body is fed to the MAC as is, never copied or re-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.sources._headers import (
    check_tolerance,
    delivery_id,
    fail,
    parse_unix_timestamp,
    require_header,
)
from actors.sources._signing import Algorithm, Keyring, Secrets, decode_base64, decode_hex, guarded
from router.plugin import Verified, register

__all__ = ["HmacSignatureConfig", "HmacSignatureVerifier"]

_PLACEHOLDER = re.compile(r"(\{body\}|\{timestamp\}|\{id\})")
_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"  # an RFC 9110 token


class HmacSignatureConfig(BaseModel):
    """``verify: {scheme: hmac, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets
    header: str = Field(pattern=_HEADER_NAME, description="Header carrying the signature")
    algorithm: Algorithm = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", description="Stripped before decoding, e.g. 'sha256='")
    timestamp_header: str | None = Field(default=None, pattern=_HEADER_NAME)
    tolerance_s: int = Field(default=300, ge=1, le=86_400, description="With timestamp_header")
    signed_payload: str = Field(
        default="{body}", description="Template over {body}, {timestamp}, {id}"
    )
    id_header: str | None = Field(
        default=None, pattern=_HEADER_NAME, description="Header whose value is the idempotency key"
    )

    @model_validator(mode="after")
    def _template_is_consistent(self) -> HmacSignatureConfig:
        tokens = _PLACEHOLDER.split(self.signed_payload)
        if tokens.count("{body}") != 1:
            raise ValueError("signed_payload must contain {body} exactly once")
        if any("{" in t or "}" in t for t in tokens if not _PLACEHOLDER.fullmatch(t)):
            raise ValueError("signed_payload knows only {body}, {timestamp} and {id}")
        # An unsigned timestamp stops no replay: demand that it is signed, and has a header.
        if ("{timestamp}" in tokens) != (self.timestamp_header is not None):
            raise ValueError("timestamp_header and {timestamp} in signed_payload go together")
        if "{id}" in tokens and self.id_header is None:
            raise ValueError("{id} in signed_payload needs id_header")
        return self


class HmacSignatureVerifier:
    def __init__(self, config: HmacSignatureConfig) -> None:
        self._config = config
        self._keyring = Keyring.from_secrets(config.secrets, config.algorithm)
        self._decode = decode_hex if config.encoding == "hex" else decode_base64
        # Placeholders stay str, literals become bytes once: the request path only substitutes.
        self._tokens = tuple(
            t if _PLACEHOLDER.fullmatch(t) else t.encode()
            for t in _PLACEHOLDER.split(config.signed_payload)
            if t
        )

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        config = self._config
        signature = require_header(headers, config.header)
        if not signature.startswith(config.prefix):
            fail()
        candidate = self._decode(signature[len(config.prefix) :])
        values = {"{body}": body}
        if config.timestamp_header is not None:
            sent = require_header(headers, config.timestamp_header)
            check_tolerance(parse_unix_timestamp(sent), now, config.tolerance_s)
            values["{timestamp}"] = sent.encode()  # the signed text is the header as sent
        key = None if config.id_header is None else delivery_id(headers, config.id_header)
        if key is not None:
            values["{id}"] = key.encode()
        elif "{id}" in self._tokens:
            fail(f"missing {config.id_header} header")
        parts = [values[t] if isinstance(t, str) else t for t in self._tokens]
        self._keyring.check([candidate], *parts)
        return Verified(idempotency_key=key)


register("verifier", "hmac", HmacSignatureConfig, HmacSignatureVerifier)
