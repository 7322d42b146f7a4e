"""Sign any bytes as each scheme of :mod:`tests.support.ingress_routes` expects, by hand.

These follow each vendor's documentation (HMAC over the raw bytes), so they can sign what the
official packages cannot (bytes that are not UTF-8). The signature tests check the official
packages against the ingress separately.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

from actors.sources.verify_standard_webhooks import secret_key
from tests.support import ingress_routes as r

JSON_TYPE = ("Content-Type", "application/json")


def _mac(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def signed_headers(
    scheme: str,
    body: bytes,
    *,
    secret: int = 0,
    now: float | None = None,
    delivery: str = "delivery-1",
) -> dict[str, str]:
    """Headers (Content-Type included) carrying a valid signature of ``body`` for ``scheme``.

    ``secret`` picks the configured secret (0 current, 1 rotated out); ``now`` is the signing
    time (default: the wall clock); ``delivery`` is the delivery id where the scheme has one.
    """
    ts = int(time.time() if now is None else now)
    headers = {"Content-Type": "application/json"}
    match scheme:
        case "stripe":
            sig = _mac(r.STRIPE_SECRETS[secret].encode(), b"%d." % ts, body).hex()
            headers["Stripe-Signature"] = f"t={ts},v1={sig}"
        case "standard-webhooks":
            key = secret_key(r.STANDARD_SECRETS[secret])
            sig = _b64(_mac(key, f"{delivery}.{ts}.".encode(), body))
            headers |= {
                "webhook-id": delivery,
                "webhook-timestamp": str(ts),
                "webhook-signature": f"v1,{sig}",
            }
        case "github":
            sig = _mac(r.GITHUB_SECRETS[secret].encode(), body).hex()
            headers |= {"X-Hub-Signature-256": f"sha256={sig}", "X-GitHub-Delivery": delivery}
            headers["X-GitHub-Event"] = "push"
        case "shopify":
            sig = _b64(_mac(r.SHOPIFY_SECRETS[secret].encode(), body))
            headers |= {"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Webhook-Id": delivery}
            headers["X-Shopify-Topic"] = "orders/create"
        case "zendesk":
            stamp = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            sig = _b64(_mac(r.ZENDESK_SECRETS[secret].encode(), stamp.encode(), body))
            headers |= {
                "X-Zendesk-Webhook-Signature": sig,
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            }
        case "hmac":
            sig = _mac(r.HMAC_SECRETS[secret].encode(), f"v0:{ts}:".encode(), body).hex()
            headers |= {
                r.HMAC_HEADER: r.HMAC_PREFIX + sig,
                r.HMAC_TIMESTAMP_HEADER: str(ts),
                r.HMAC_ID_HEADER: delivery,
            }
        case "bearer":
            headers["Authorization"] = f"Bearer {r.BEARER_TOKENS[secret]}"
        case "none":
            pass
        case _:
            raise ValueError(f"unknown scheme {scheme!r}")
    return headers
