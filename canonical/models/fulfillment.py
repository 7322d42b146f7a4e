"""Fulfilment: shipments of an order's lines, and stock levels per location."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from canonical.models._base import CanonicalModel, Entity, EntityRef, Quantity


class FulfillmentLine(CanonicalModel):
    """How many units of one order line are in this fulfilment."""

    order_line_id: str | None = None
    sku: str | None = None
    product: EntityRef | None = None
    quantity: Annotated[Quantity, Field(gt=0)]


class Shipment(CanonicalModel):
    """A parcel handed to a carrier."""

    carrier: str | None = None
    service: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _delivered_after_shipped(self) -> Self:
        if self.shipped_at and self.delivered_at and self.delivered_at < self.shipped_at:
            raise ValueError("delivered_at is before shipped_at")
        return self


class Fulfillment(Entity):
    """Goods leaving a location for one order."""

    schema_version: Literal[1] = 1
    order: EntityRef
    status: Literal["pending", "open", "in_transit", "delivered", "canceled", "failed"]
    location: EntityRef | None = None
    lines: Annotated[tuple[FulfillmentLine, ...], Field(min_length=1)]
    shipments: tuple[Shipment, ...] = ()
    created_at: AwareDatetime | None = None


class InventoryLevel(Entity):
    """Units of one item available at one location, as of ``updated_at``."""

    schema_version: Literal[1] = 1
    item: EntityRef
    sku: str | None = None
    location: EntityRef
    available: int = Field(description="may be negative when oversold")
    on_hand: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    updated_at: AwareDatetime
