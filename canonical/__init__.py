"""Interlock's canonical layer: pure pydantic models, money, versioning and vendor mappings.

Nothing here imports ``router`` or ``actors``; the router reaches these functions only through the
transforms that ``actors.transforms`` registers. The public surface is the names below (pinned by
``tests/canonical/test_canonical_public_api.py``); vendor mappings live in
:mod:`canonical.mappings`.
"""

from __future__ import annotations

from typing import Any

from canonical.errors import (
    CanonicalError,
    CurrencyMismatchError,
    InexactAmountError,
    MappingError,
    MoneyError,
    SchemaVersionError,
)
from canonical.models import (
    Address,
    Contact,
    CreditNote,
    Customer,
    Entitlement,
    EntityRef,
    ExternalRef,
    Fulfillment,
    InventoryLevel,
    Invoice,
    LineItem,
    Order,
    Payment,
    Price,
    Product,
    Quote,
    Shipment,
    Subscription,
    SubscriptionAmendment,
    SupportOrganization,
    SupportTicket,
    TaxId,
)
from canonical.money import Money, minor_exponent, money_sum
from canonical.versioning import consumer, load, upcast

__all__ = [
    "Address",
    "CanonicalError",
    "Contact",
    "CreditNote",
    "CurrencyMismatchError",
    "Customer",
    "Entitlement",
    "EntityRef",
    "ExternalRef",
    "Fulfillment",
    "InexactAmountError",
    "InventoryLevel",
    "Invoice",
    "LineItem",
    "MappingError",
    "Money",
    "MoneyError",
    "Order",
    "Payment",
    "Price",
    "Product",
    "Quote",
    "SchemaVersionError",
    "Shipment",
    "Subscription",
    "SubscriptionAmendment",
    "SupportOrganization",
    "SupportTicket",
    "TaxId",
    "consumer",
    "json_schemas",
    "load",
    "minor_exponent",
    "money_sum",
    "upcast",
]


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every canonical document model, keyed by model name.

    ``interlock schema canonical`` prints these; ``docs/schemas/canonical/*.json`` holds the
    checked-in copies (see :mod:`canonical.schemas`).
    """
    # Imported lazily so `python -m canonical.schemas` does not find its own module pre-imported.
    from canonical.schemas import json_schemas as build  # noqa: PLC0415

    return build()
