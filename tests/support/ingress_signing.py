"""Sign any bytes as each source of :mod:`tests.support.ingress_routes` expects.

:func:`router.testing.sign` follows each vendor's documentation (HMAC over the raw bytes), so it
can sign what the official packages cannot (bytes that are not UTF-8); this picks the secrets and
the ``hmac`` layout of the ingress routes. The signature tests check the official packages
(``stripe``, ``standardwebhooks``) against the ingress, and against this signer, separately.
"""

from __future__ import annotations

from typing import Any

from router.testing import sign
from tests.support import ingress_routes as r

JSON_TYPE = ("Content-Type", "application/json")


_SECRETS: dict[str, tuple[str, ...]] = {
    "stripe": r.STRIPE_SECRETS,
    "standard-webhooks": r.STANDARD_SECRETS,
    "github": r.GITHUB_SECRETS,
    "shopify": r.SHOPIFY_SECRETS,
    "zendesk": r.ZENDESK_SECRETS,
    "hmac": r.HMAC_SECRETS,
    "bearer": r.BEARER_TOKENS,
    "none": ("",),
}
_HMAC: dict[str, Any] = {
    "header": r.HMAC_HEADER,
    "prefix": r.HMAC_PREFIX,
    "timestamp_header": r.HMAC_TIMESTAMP_HEADER,
    "id_header": r.HMAC_ID_HEADER,
    "signed_payload": "v0:{timestamp}:{body}",
}
# What the ingress routes read their event type from, for the schemes whose type is a header.
_TYPES: dict[str, dict[str, str]] = {
    "github": {"X-GitHub-Event": "push"},
    "shopify": {"X-Shopify-Topic": "orders/create"},
}


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
    if scheme not in _SECRETS:
        raise ValueError(f"unknown scheme {scheme!r}")
    key = _SECRETS[scheme][secret if scheme != "none" else 0]
    verify = _HMAC if scheme == "hmac" else None
    headers = sign(scheme, key, body, now=now, delivery=delivery, verify=verify)
    return headers | _TYPES.get(scheme, {})
