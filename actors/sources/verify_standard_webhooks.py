"""``standard-webhooks``: the Standard Webhooks spec (Svix, Resend, OpenAI, ...).

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (a space-
separated list of ``v1,<base64>``), or the same three spelled ``svix-*``, as Svix-hosted senders
send them (the ``svix`` library accepts both; a request's three come from one spelling). The secret
is ``whsec_<base64 key>``; the MAC is HMAC-SHA256 over ``f"{id}.{timestamp}.{body}"``. The
idempotency key is ``webhook-id``, which the spec makes stable across retries and which is covered
by the signature.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from actors.sources._headers import (
    check_tolerance,
    delivery_id,
    fail,
    get_header,
    parse_unix_timestamp,
    require_header,
)
from actors.sources._signing import Keyring, Secrets, decode_base64, guarded
from router.plugin import Verified, register

__all__ = ["StandardWebhooksConfig", "StandardWebhooksVerifier"]

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key inside ``whsec_<base64>``; the prefix is optional, padding too (as upstream)."""
    encoded = secret.removeprefix(PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)


class StandardWebhooksConfig(BaseModel):
    """``verify: {scheme: standard-webhooks, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets
    tolerance_s: int = Field(
        default=300, ge=1, le=86_400, description="Accepted clock distance, both directions"
    )

    @field_validator("secrets")
    @classmethod
    def _base64_keys(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for secret in secrets:
            try:
                key = secret_key(secret.get_secret_value())
            except (binascii.Error, ValueError):
                key = b""
            if not key:  # the message must not echo the secret
                raise ValueError("each secret must be 'whsec_' followed by a base64 key")
        return secrets


class StandardWebhooksVerifier:
    def __init__(self, config: StandardWebhooksConfig) -> None:
        self._keyring = Keyring(secret_key(s.get_secret_value()) for s in config.secrets)
        self._tolerance_s = config.tolerance_s

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        prefix = "webhook-" if get_header(headers, "webhook-id") is not None else "svix-"
        msg_id = delivery_id(headers, f"{prefix}id")
        if msg_id is None:
            fail("missing webhook-id header")
        timestamp = parse_unix_timestamp(require_header(headers, f"{prefix}timestamp"))
        signatures = require_header(headers, f"{prefix}signature")
        check_tolerance(timestamp, now, self._tolerance_s)
        candidates = [
            decode_base64(signature)
            for version, _, signature in (entry.partition(",") for entry in signatures.split())
            # Other versions (v1a, asymmetric) are skipped, as the spec asks.
            if version == "v1"
        ]
        if not candidates:
            fail()
        self._keyring.check(candidates, b"%s.%d." % (msg_id.encode(), timestamp), body)
        return Verified(idempotency_key=msg_id)


register("verifier", "standard-webhooks", StandardWebhooksConfig, StandardWebhooksVerifier)
