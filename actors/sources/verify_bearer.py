"""``bearer``: ``Authorization: Bearer <token>`` against a list of accepted tokens.

For senders that can only attach a static credential. It proves who sent a request, not what was
sent, and stops no replay: prefer a signing scheme whenever the sender offers one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from actors.sources._headers import fail, require_header
from actors.sources._signing import Secrets, guarded
from router.plugin import Verified, register

__all__ = ["BearerTokenConfig", "BearerTokenVerifier"]


class BearerTokenConfig(BaseModel):
    """``verify: {scheme: bearer, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    tokens: Secrets
    header: str = Field(
        default="Authorization",
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="Header carrying 'Bearer <token>'",
    )


class BearerTokenVerifier:
    def __init__(self, config: BearerTokenConfig) -> None:
        # Digests, not tokens, are compared: equal lengths, so the timing says nothing of length.
        self._digests = tuple(
            hashlib.sha256(t.get_secret_value().encode()).digest() for t in config.tokens
        )
        self._header = config.header

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        del body, now  # unused here; the Verifier protocol fixes the signature
        scheme, _, token = require_header(headers, self._header).strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:  # the scheme name is case-insensitive
            fail()
        presented = hashlib.sha256(token.encode()).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(presented, digest)
        if not matched:
            fail()
        return Verified()


register("verifier", "bearer", BearerTokenConfig, BearerTokenVerifier)
