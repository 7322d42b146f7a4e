"""``zendesk``: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(timestamp + body)).

The timestamp is the ``X-Zendesk-Webhook-Signature-Timestamp`` header exactly as sent (ISO 8601,
e.g. ``2021-03-25T05:09:27Z``), concatenated with no separator. The idempotency key is None: the
source decides (a payload id, else the SHA-256 of the body).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from actors.sources._headers import check_tolerance, parse_iso_timestamp, require_header
from actors.sources._signing import Keyring, Secrets, decode_base64, guarded
from router.plugin import Verified, register

__all__ = ["ZendeskSignatureConfig", "ZendeskSignatureVerifier"]

HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


class ZendeskSignatureConfig(BaseModel):
    """``verify: {scheme: zendesk, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets
    tolerance_s: int | None = Field(
        default=300,
        ge=1,
        le=86_400,
        description="Accepted clock distance, both directions; null skips the replay window",
    )


class ZendeskSignatureVerifier:
    def __init__(self, config: ZendeskSignatureConfig) -> None:
        self._keyring = Keyring.from_secrets(config.secrets)
        self._tolerance_s = config.tolerance_s

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        signature = decode_base64(require_header(headers, HEADER))
        timestamp = require_header(headers, TIMESTAMP_HEADER)
        # Parsed even without a window, so that junk never reaches the MAC.
        moment = parse_iso_timestamp(timestamp)
        if self._tolerance_s is not None:
            check_tolerance(moment, now, self._tolerance_s)
        self._keyring.check([signature], timestamp.encode(), body)
        return Verified()


register("verifier", "zendesk", ZendeskSignatureConfig, ZendeskSignatureVerifier)
