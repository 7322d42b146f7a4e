"""The catalogue: products and their prices (one-off, recurring, tiered and volume)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from canonical.models._base import (
    CanonicalModel,
    Entity,
    EntityRef,
    ShortStr,
    check_single_currency,
)
from canonical.money import Currency, Money, money_sum


class Interval(StrEnum):
    """Billing interval unit."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Recurrence(CanonicalModel):
    """How often a recurring price bills, and whether usage is metered."""

    interval: Interval
    interval_count: Annotated[int, Field(ge=1, le=365)] = 1
    usage_type: Literal["licensed", "metered"] = "licensed"


class PriceTier(CanonicalModel):
    """One tier: up to ``up_to`` units (None: no upper bound) at ``unit_amount`` plus a flat fee."""

    up_to: Annotated[int, Field(ge=1)] | None
    unit_amount: Money | None = None
    flat_amount: Money | None = None

    @model_validator(mode="after")
    def _priced(self) -> Self:
        if self.unit_amount is None and self.flat_amount is None:
            raise ValueError("a tier needs unit_amount, flat_amount or both")
        return self

    def cost(self, quantity: int, currency: str) -> Money:
        """What ``quantity`` units cost inside this tier (flat fee included when quantity > 0)."""
        total = Money.zero(currency)
        if self.unit_amount is not None:
            total = total + self.unit_amount * quantity
        if self.flat_amount is not None and quantity > 0:
            total = total + self.flat_amount
        return total


class _PriceBase(Entity):
    schema_version: Literal[1] = 1
    currency: Currency
    product: EntityRef | None = None
    nickname: str | None = None
    active: bool = True

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        check_single_currency(self, self.currency)
        return self


class OneOffPrice(_PriceBase):
    """A single charge per unit."""

    kind: Literal["one_off"] = "one_off"
    unit_amount: Money

    def amount_for(self, quantity: int) -> Money:
        """Total for ``quantity`` units."""
        return self.unit_amount * quantity


class RecurringPrice(_PriceBase):
    """A per-unit charge every ``recurrence`` period."""

    kind: Literal["recurring"] = "recurring"
    unit_amount: Money
    recurrence: Recurrence

    def amount_for(self, quantity: int) -> Money:
        """Total per period for ``quantity`` units."""
        return self.unit_amount * quantity


class _Tiered(_PriceBase):
    tiers: Annotated[tuple[PriceTier, ...], Field(min_length=1)]
    recurrence: Recurrence | None = None

    @model_validator(mode="after")
    def _tiers_ascend(self) -> Self:
        bounds = [t.up_to for t in self.tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must be open-ended (up_to null)")
        finite = [b for b in bounds[:-1] if b is not None]
        if len(finite) != len(bounds) - 1 or finite != sorted(set(finite)):
            raise ValueError("tier bounds must strictly ascend, with only the last open-ended")
        return self


class TieredPrice(_Tiered):
    """Graduated pricing: each unit is priced by the tier it falls in (Stripe ``graduated``)."""

    kind: Literal["tiered"] = "tiered"

    def amount_for(self, quantity: int) -> Money:
        """Sum each tier's share of ``quantity``."""
        parts: list[Money] = []
        floor = 0
        for tier in self.tiers:
            top = quantity if tier.up_to is None else min(quantity, tier.up_to)
            if top <= floor:
                break
            parts.append(tier.cost(top - floor, self.currency))
            floor = top
        return money_sum(parts, self.currency)


class VolumePrice(_Tiered):
    """Volume pricing: every unit is priced by the one tier the total quantity falls in."""

    kind: Literal["volume"] = "volume"

    def amount_for(self, quantity: int) -> Money:
        """Price all ``quantity`` units at the tier ``quantity`` reaches."""
        tier = next(t for t in self.tiers if t.up_to is None or quantity <= t.up_to)
        return tier.cost(quantity, self.currency)


Price = Annotated[
    OneOffPrice | RecurringPrice | TieredPrice | VolumePrice, Field(discriminator="kind")
]
"""Any price; the ``kind`` field selects the variant."""


class Product(Entity):
    """A sellable good or service, with the prices it is offered at."""

    schema_version: Literal[1] = 1
    name: ShortStr
    sku: str | None = None
    description: str | None = None
    kind: Literal["good", "service", "digital"] = "service"
    unit_label: str | None = None
    active: bool = True
    prices: tuple[Price, ...] = ()
