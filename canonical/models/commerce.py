"""Quotes and orders, with their status lifecycles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from pydantic import AwareDatetime

from canonical.models._base import EntityRef, Lifecycle, table
from canonical.models.lines import PricedDocument
from canonical.models.party import Address

_QUOTE_FLOW = table(
    draft="sent canceled",
    sent="accepted declined expired canceled draft",
    accepted="",
    declined="",
    expired="draft",
    canceled="",
)

_ORDER_FLOW = table(
    draft="submitted canceled",
    submitted="confirmed canceled",
    confirmed="partially_fulfilled fulfilled canceled",
    partially_fulfilled="fulfilled",
    fulfilled="completed",
    completed="",
    canceled="",
)

_PAYMENT_STATE_FLOW = table(
    unpaid="authorized partially_paid paid voided",
    authorized="paid partially_paid voided",
    partially_paid="paid partially_refunded",
    paid="partially_refunded refunded",
    partially_refunded="refunded",
    refunded="",
    voided="",
)


class QuoteStatus(Lifecycle):
    """draft -> sent -> accepted | declined | expired (expired may be revised back to draft)."""

    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELED = "canceled"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _QUOTE_FLOW


class OrderStatus(Lifecycle):
    """draft -> submitted -> confirmed -> (partially_)fulfilled -> completed; or canceled early."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELED = "canceled"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _ORDER_FLOW


class PaymentState(Lifecycle):
    """How far an order is paid, independent of fulfilment (Shopify ``financial_status``)."""

    UNPAID = "unpaid"
    AUTHORIZED = "authorized"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _PAYMENT_STATE_FLOW


class Quote(PricedDocument):
    """A priced offer to a customer."""

    schema_version: Literal[1] = 1
    status: QuoteStatus = QuoteStatus.DRAFT
    valid_until: dt.date | None = None
    opportunity: EntityRef | None = None
    created_at: AwareDatetime | None = None


class Order(PricedDocument):
    """A confirmed purchase: what was bought, at what price, and where it ships."""

    schema_version: Literal[1] = 1
    status: OrderStatus = OrderStatus.DRAFT
    payment_state: PaymentState = PaymentState.UNPAID
    ordered_at: AwareDatetime | None = None
    order_date: dt.date | None = None
    email: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    quote: EntityRef | None = None
    opportunity: EntityRef | None = None
    tags: tuple[str, ...] = ()

    def advance(self, status: OrderStatus) -> Order:
        """Return a copy in ``status``, enforcing the lifecycle.

        Raises:
            ValueError: The move is not a legal step from the current status.
        """
        self.status.check_transition(status)
        return self.model_copy(update={"status": status})
