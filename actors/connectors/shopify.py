"""Shopify Admin REST API (``kind: shopify``); auth ``api-key`` with ``header:
X-Shopify-Access-Token``.

| operation               | call                                                         |
|-------------------------|--------------------------------------------------------------|
| ``set_inventory_level`` | ``POST /admin/api/{api_version}/inventory_levels/set.json``  |

The body is ``{"location_id", "inventory_item_id", "available"}``; setting an absolute level is
idempotent by nature (safe to resend at any age). Shopify's REST Admin API has no idempotency
keys, so a plain ``POST`` create has no key window. Shopify's 429 carries ``Retry-After``
(seconds, may be fractional).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from actors.connectors._client import ClientConfig
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps, require
from actors.connectors._windows import Rule, Window, described
from router.plugin import OutboundRequest, PermanentError, register

__all__ = ["SHOPIFY_OPERATIONS", "SHOPIFY_WINDOWS", "ShopifyConnector", "ShopifyConnectorConfig"]


class ShopifyConnectorConfig(ClientConfig):
    api_version: str = Field(default="2025-01", pattern=r"^\d{4}-\d{2}$")


def set_inventory_level(
    config: ShopifyConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del request
    op = "set_inventory_level"
    body: dict[str, Any] = {}
    for name in ("location_id", "inventory_item_id"):
        value = require(doc, name, op)
        body[name] = int(value) if value.isdigit() else value
    available = doc.get("available")
    if isinstance(available, bool) or not isinstance(available, int):
        raise PermanentError(f"{op}: `available` must be an integer")
    body["available"] = available
    path = f"/admin/api/{config.api_version}/inventory_levels/set.json"
    return Plan("POST", path, dumps(body))


SHOPIFY_OPERATIONS: dict[str, Builder[Any]] = {"set_inventory_level": set_inventory_level}

SHOPIFY_WINDOWS: dict[str, Rule] = {
    "set_inventory_level": Window(None, "sets an absolute level: a resend sets it again"),
}
NO_KEYS = Window(0.0, "the REST Admin API has no idempotency keys: a resend creates again")


class ShopifyConnector(VendorConnector[ShopifyConnectorConfig]):
    OPERATIONS = SHOPIFY_OPERATIONS
    WINDOWS = SHOPIFY_WINDOWS
    PLAIN_POST = NO_KEYS


register(
    "connector",
    "shopify",
    ShopifyConnectorConfig,
    ShopifyConnector,
    operations=set(SHOPIFY_OPERATIONS),
    key_windows=described(SHOPIFY_WINDOWS, NO_KEYS),
)
