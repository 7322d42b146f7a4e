"""Sign demo webhooks the way each vendor does.

The demo must be accepted by the router's own verifiers (see routes/sources.yaml), so it signs
with :func:`router.testing.sign`, which follows each vendor's documented scheme and shares no code
with the verifiers: a mistake on either side shows up as a rejected trigger instead of cancelling
out (and the signature tests check that signer against the vendors' own libraries).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from router.testing import sign


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


# The salesforce source's `verify:` block in routes/sources.yaml (a Flow signs with an HMAC).
SALESFORCE_LAYOUT = {
    "header": "X-Salesforce-Signature",
    "encoding": "base64",
    "timestamp_header": "X-Salesforce-Timestamp",
    "signed_payload": "{timestamp}.{body}",
    "id_header": "X-Salesforce-Event-Id",
}


def salesforce_headers(body: bytes, secret: str, timestamp: int, event_id: str) -> dict[str, str]:
    """A Flow's ``Crypto.generateMac('hmacSHA256', timestamp + '.' + body, secret)``, base64."""
    return sign("hmac", secret, body, now=timestamp, delivery=event_id, verify=SALESFORCE_LAYOUT)


def stripe_headers(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """``Stripe-Signature: t=<ts>,v1=<hex>``: the endpoint secret is used as text, not decoded."""
    return sign("stripe", secret, body, now=timestamp)


def shopify_headers(body: bytes, secret: str, topic: str, webhook_id: str) -> dict[str, str]:
    """``X-Shopify-Hmac-Sha256``: base64 of the body's MAC; Shopify signs no timestamp."""
    return sign("shopify", secret, body, delivery=webhook_id) | {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "interlock-demo.myshopify.com",
    }
