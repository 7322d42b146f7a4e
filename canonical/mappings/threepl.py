"""Canonical orders -> a third-party logistics (3PL) fulfilment request.

The 3PL's warehouse API takes one request per order and deduplicates it by ``external_id``::

    {"external_id": "shopify-820982911946154508", "order_number": "#1001",
     "ship_to": {"name", "line1", "line2", "city", "region", "postal_code", "country", "email"},
     "lines": [{"line_id", "sku", "quantity", "description"}],
     "service_level": "standard", "notes": "Leave at the loading dock"}

Warehouses pick by SKU and count whole units, so every line needs a SKU and an integral quantity.
"""

from __future__ import annotations

from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import external_key, whole_quantity
from canonical.models import Order, OrderStatus

SERVICE_LEVEL = "standard"


def threepl_fulfilment_request_from_order(order: Order) -> dict[str, Any]:
    """The request that asks the 3PL to pick, pack and ship an order.

    A paid web order is only done when it has shipped, and the warehouse is another company's
    system. ``external_id`` is the order's upsert key (``shopify-<order id>``), so a retried or
    replayed request names the same shipment and the 3PL can refuse a duplicate. The service level
    is ``standard``: the canonical order does not carry the shipping method, and upgrading a
    shipment is a decision for the warehouse rules, not a guess. The order note travels as
    ``notes`` (delivery instructions).

    Raises:
        MappingError: A canceled order, no shipping address, no lines, a line without a SKU or
            with a fractional quantity, or no external refs.
    """
    if order.status is OrderStatus.CANCELED:
        raise MappingError("status", "a canceled order must not be shipped")
    address = order.shipping_address
    if address is None:
        raise MappingError("shipping_address", "a fulfilment needs a shipping address")
    if not order.lines:
        raise MappingError("lines", "the order has no lines to ship")
    lines = []
    for i, line in enumerate(order.lines):
        if not line.sku:
            raise MappingError(f"lines[{i}].sku", "the warehouse picks by SKU; the line has none")
        entry: dict[str, Any] = {
            "line_id": line.line_id,
            "sku": line.sku,
            "quantity": whole_quantity(line.quantity, f"lines[{i}].quantity"),
            "description": line.description,
        }
        lines.append({k: v for k, v in entry.items() if v is not None})
    ship_to = {
        "name": address.recipient,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
        "email": order.email,
    }
    request: dict[str, Any] = {
        "external_id": external_key(order, "order"),
        "ship_to": {k: v for k, v in ship_to.items() if v is not None},
        "lines": lines,
        "service_level": SERVICE_LEVEL,
    }
    if order.number:
        request["order_number"] = order.number
    if order.memo:
        request["notes"] = order.memo
    return request
