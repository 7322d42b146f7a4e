"""``shopify``: ``X-Shopify-Hmac-Sha256``, base64 of HMAC-SHA256 of the body (app client secret).

The idempotency key is ``X-Shopify-Webhook-Id``, which Shopify keeps on retries. Shopify signs no
timestamp, so there is no replay window; deduplication on that id is the replay defence.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from actors.sources._headers import delivery_id, require_header
from actors.sources._signing import Keyring, Secrets, decode_base64, guarded
from router.plugin import Verified, register

__all__ = ["ShopifySignatureConfig", "ShopifySignatureVerifier"]

HEADER = "X-Shopify-Hmac-Sha256"


class ShopifySignatureConfig(BaseModel):
    """``verify: {scheme: shopify, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets


class ShopifySignatureVerifier:
    def __init__(self, config: ShopifySignatureConfig) -> None:
        self._keyring = Keyring.from_secrets(config.secrets)

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        del now  # unused here; the Verifier protocol fixes the signature
        signature = decode_base64(require_header(headers, HEADER))
        key = delivery_id(headers, "X-Shopify-Webhook-Id")
        self._keyring.check([signature], body)
        return Verified(idempotency_key=key)


register("verifier", "shopify", ShopifySignatureConfig, ShopifySignatureVerifier)
