"""Document lines and totals shared by quotes, orders, invoices and credit notes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from canonical.models._base import (
    CanonicalModel,
    Entity,
    EntityRef,
    Period,
    Quantity,
    check_single_currency,
    within_one_minor_unit,
)
from canonical.money import Currency, Money, money_sum

Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]


class Discount(CanonicalModel):
    """A discount: a fixed amount or a percentage of the line, never both."""

    description: str | None = None
    amount: Money | None = None
    percent: Percent | None = None
    code: str | None = Field(None, description="coupon or promotion code")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a discount has exactly one of amount or percent")
        return self

    def applied_to(self, gross: Money) -> Money:
        """The discount's value against ``gross``."""
        if self.amount is not None:
            return self.amount
        assert self.percent is not None
        return gross * (self.percent / 100)


class TaxLine(CanonicalModel):
    """One tax charged on a line or document."""

    name: str = "tax"
    rate: Percent | None = None
    amount: Money
    inclusive: bool = False
    jurisdiction: str | None = None


class LineItem(CanonicalModel):
    """One line of a quote, order, invoice or credit note.

    ``amount`` is the gross line value (before discounts, excluding exclusive tax). When
    ``unit_price`` is known it must agree with ``amount`` to within one minor unit, the rounding a
    vendor applies per line.
    """

    line_id: str | None = None
    product: EntityRef | None = None
    sku: str | None = None
    description: str | None = None
    quantity: Quantity = Decimal(1)
    unit_price: Money | None = None
    amount: Money
    discounts: tuple[Discount, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    period: Period | None = None

    @model_validator(mode="after")
    def _amount_matches_unit_price(self) -> Self:
        if self.unit_price is not None:
            expected = self.unit_price * self.quantity
            if not within_one_minor_unit(expected, self.amount):
                raise ValueError(
                    f"amount {self.amount} != quantity {self.quantity} x unit_price "
                    f"{self.unit_price}"
                )
        return self

    @property
    def discount_total(self) -> Money:
        """Sum of the line's discounts."""
        return money_sum((d.applied_to(self.amount) for d in self.discounts), self.amount.currency)

    @property
    def tax_total(self) -> Money:
        """Sum of the line's taxes (inclusive and exclusive)."""
        return money_sum((t.amount for t in self.taxes), self.amount.currency)


class PricedDocument(Entity):
    """A document with lines and header totals in one currency.

    Invariant: ``total = subtotal - discount_total + shipping_total + tax_total``, where tax is
    left out when ``tax_inclusive`` (it is already inside the subtotal).
    """

    number: str | None = None
    customer: EntityRef | None = None
    currency: Currency
    lines: tuple[LineItem, ...] = ()
    subtotal: Money
    discount_total: Money
    tax_total: Money
    shipping_total: Money | None = None
    total: Money
    tax_inclusive: bool = False
    memo: str | None = None

    @model_validator(mode="after")
    def _totals(self) -> Self:
        check_single_currency(self, self.currency)
        expected = self.subtotal - self.discount_total
        if self.shipping_total is not None:
            expected = expected + self.shipping_total
        if not self.tax_inclusive:
            expected = expected + self.tax_total
        if expected != self.total:
            raise ValueError(
                f"total {self.total} != subtotal - discounts + shipping"
                f"{'' if self.tax_inclusive else ' + tax'} = {expected}"
            )
        return self
