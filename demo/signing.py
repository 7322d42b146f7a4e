"""Sign demo webhooks the way each vendor does, with the stdlib ``hmac`` only.

The demo must be accepted by the router's own verifiers (see routes/sources.yaml), so each function
here mirrors one vendor's documented scheme rather than reusing the router's code: a mistake on
either side then shows up as a rejected trigger instead of cancelling out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Secrets:
    """The webhook signing secrets; the defaults are the ones routes/sources.yaml falls back to."""

    salesforce: str = "sf_webhook_interlock_demo_only"  # a public demo default
    stripe: str = "whsec_interlock_demo_only"  # a public demo default
    shopify: str = "shpss_interlock_demo_only"  # a public demo default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """The secrets the router would use: the same variables, the same defaults."""
        env = os.environ if env is None else env
        default = cls()
        return cls(
            salesforce=env.get("SALESFORCE_WEBHOOK_SECRET") or default.salesforce,
            stripe=env.get("STRIPE_WEBHOOK_SECRET") or default.stripe,
            shopify=env.get("SHOPIFY_WEBHOOK_SECRET") or default.shopify,
        )


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def salesforce_headers(body: bytes, secret: str, timestamp: int, event_id: str) -> dict[str, str]:
    """A Flow's ``Crypto.generateMac('hmacSHA256', timestamp + '.' + body, secret)``, base64."""
    signature = _mac(secret, f"{timestamp}.".encode() + body)
    return {
        "Content-Type": JSON,
        "X-Salesforce-Signature": base64.b64encode(signature).decode(),
        "X-Salesforce-Timestamp": str(timestamp),
        "X-Salesforce-Event-Id": event_id,
    }


def stripe_headers(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """``Stripe-Signature: t=<ts>,v1=<hex>``: the endpoint secret is used as text, not decoded."""
    signature = _mac(secret, f"{timestamp}.".encode() + body).hex()
    return {"Content-Type": JSON, "Stripe-Signature": f"t={timestamp},v1={signature}"}


def shopify_headers(body: bytes, secret: str, topic: str, webhook_id: str) -> dict[str, str]:
    """``X-Shopify-Hmac-Sha256``: base64 of the body's MAC; Shopify signs no timestamp."""
    return {
        "Content-Type": JSON,
        "X-Shopify-Hmac-Sha256": base64.b64encode(_mac(secret, body)).decode(),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "interlock-demo.myshopify.com",
    }
