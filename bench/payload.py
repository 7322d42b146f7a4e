"""The benchmark message: a ~1 KB vendor order, its canonical form and the transform between them.

The same payload (:func:`bench._body.body`) is used by every scenario, so the pipeline, the sum of
its parts and the HTTP load all measure the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bench._body import CUSTOMERS, SOURCE, body

__all__ = ["CUSTOMERS", "SOURCE", "TRANSFORM_NAME", "BenchOrder", "CanonicalOrder", "body"]

TRANSFORM_NAME = "bench.order_to_canonical"


class BenchAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    street: str
    city: str
    postcode: str
    country: str = Field(min_length=2, max_length=2)


class BenchLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    description: str
    quantity: int = Field(gt=0)
    unit_price: Decimal
    tax_rate: Decimal


class BenchOrder(BaseModel):
    """The vendor-shaped order the sender posts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: Literal["order.created"]
    customer: str
    created_at: datetime
    currency: str = Field(min_length=3, max_length=3)
    shipping: BenchAddress
    billing: BenchAddress
    lines: list[BenchLine]
    notes: str
    tags: list[str]


class CanonicalLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int
    net_amount: Decimal
    tax_amount: Decimal


class CanonicalOrder(BaseModel):
    """What the route hands to the connector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    customer_id: str
    ordered_at: datetime
    currency: str
    ship_to_country: str
    net_total: Decimal
    tax_total: Decimal
    lines: list[CanonicalLine]


def order_to_canonical(order: BenchOrder) -> CanonicalOrder:
    """Map the vendor order to the canonical one (the transform every pipeline message runs)."""
    lines = [
        CanonicalLine(
            sku=line.sku,
            quantity=line.quantity,
            net_amount=line.unit_price * line.quantity,
            tax_amount=(line.unit_price * line.quantity * line.tax_rate).quantize(Decimal("0.01")),
        )
        for line in order.lines
    ]
    return CanonicalOrder(
        order_id=order.id,
        customer_id=order.customer,
        ordered_at=order.created_at,
        currency=order.currency,
        ship_to_country=order.shipping.country,
        net_total=sum((line.net_amount for line in lines), Decimal(0)),
        tax_total=sum((line.tax_amount for line in lines), Decimal(0)),
        lines=lines,
    )
