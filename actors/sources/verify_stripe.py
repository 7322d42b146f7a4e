"""``stripe``: the ``Stripe-Signature`` header (``t=<unix>,v1=<hex>[,v1=<hex>...]``).

Stripe signs ``f"{t}.{body}"`` with HMAC-SHA256 and the endpoint secret (``whsec_...``, used as
text, not base64-decoded). During a secret roll Stripe sends one ``v1`` per active secret.

The idempotency key is None: the event ``id`` lives in the body, and ingress parses the body once
anyway, so the source's ``idempotency_key: /id`` reads it; parsing here would double that cost.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from actors.sources._headers import check_tolerance, fail, parse_unix_timestamp, require_header
from actors.sources._signing import Keyring, Secrets, decode_hex, guarded
from router.plugin import Verified, register

__all__ = ["StripeSignatureConfig", "StripeSignatureVerifier"]

HEADER = "Stripe-Signature"


class StripeSignatureConfig(BaseModel):
    """``verify: {scheme: stripe, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets
    tolerance_s: int = Field(
        default=300, ge=1, le=86_400, description="Accepted clock distance, both directions"
    )


class StripeSignatureVerifier:
    def __init__(self, config: StripeSignatureConfig) -> None:
        self._keyring = Keyring.from_secrets(config.secrets)
        self._tolerance_s = config.tolerance_s

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        timestamp: int | None = None
        candidates: list[bytes] = []
        for item in require_header(headers, HEADER).split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                fail()
            if key == "t":
                if timestamp is not None:  # two timestamps: which one was signed is ambiguous
                    fail()
                timestamp = parse_unix_timestamp(value)
            elif key == "v1":
                candidates.append(decode_hex(value))
            # Other schemes (v0 in test mode) are ignored, as Stripe's own libraries do.
        if timestamp is None or not candidates:
            fail()
        check_tolerance(timestamp, now, self._tolerance_s)
        self._keyring.check(candidates, b"%d." % timestamp, body)
        return Verified()


register("verifier", "stripe", StripeSignatureConfig, StripeSignatureVerifier)
