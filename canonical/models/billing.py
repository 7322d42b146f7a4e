"""Invoices, payments and credit notes, with their status lifecycles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from canonical.models._base import (
    CanonicalModel,
    Entity,
    EntityRef,
    Lifecycle,
    check_single_currency,
    table,
)
from canonical.models.lines import PricedDocument
from canonical.money import Currency, Money, money_sum

_INVOICE_FLOW = table(draft="open void", open="paid uncollectible void", uncollectible="paid void")
_INVOICE_FLOW.update(table(paid="", void=""))
_PAYMENT_FLOW = table(
    pending="succeeded failed canceled",
    succeeded="partially_refunded refunded",
    partially_refunded="refunded",
    failed="",
    canceled="",
    refunded="",
)
_CREDIT_NOTE_FLOW = table(issued="void", void="")


class InvoiceStatus(Lifecycle):
    """draft -> open -> paid | uncollectible | void (Stripe's model, which NetSuite maps onto)."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _INVOICE_FLOW


class PaymentStatus(Lifecycle):
    """pending -> succeeded | failed | canceled; succeeded -> (partially_)refunded."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _PAYMENT_FLOW


class CreditNoteStatus(Lifecycle):
    """issued -> void."""

    ISSUED = "issued"
    VOID = "void"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _CREDIT_NOTE_FLOW


class Invoice(PricedDocument):
    """A bill: lines, tax, totals, due date, and how much of it is paid."""

    schema_version: Literal[1] = 1
    status: InvoiceStatus = InvoiceStatus.DRAFT
    amount_paid: Money
    amount_remaining: Money
    issued_on: dt.date | None = None
    due_date: dt.date | None = None
    paid_at: AwareDatetime | None = None
    subscription: EntityRef | None = None
    order: EntityRef | None = None
    attempt_count: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _paid_within_total(self) -> Self:
        if self.amount_paid.amount < 0 or self.amount_remaining.amount < 0:
            raise ValueError("amount_paid and amount_remaining cannot be negative")
        if self.status is InvoiceStatus.PAID and self.amount_remaining.amount != 0:
            raise ValueError("a paid invoice has nothing remaining")
        return self

    def advance(self, status: InvoiceStatus) -> Invoice:
        """Return a copy in ``status``, enforcing the lifecycle.

        Raises:
            ValueError: The move is not a legal step from the current status.
        """
        self.status.check_transition(status)
        return self.model_copy(update={"status": status})


class PaymentMethod(CanonicalModel):
    """How the money moved; card details are limited to what is safe to store."""

    kind: Literal[
        "card", "bank_transfer", "ach_debit", "sepa_debit", "check", "cash", "wallet", "other"
    ]
    brand: str | None = None
    last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")] | None = None


class PaymentApplication(CanonicalModel):
    """Part of a payment applied to one invoice."""

    invoice: EntityRef
    amount: Money


class Payment(Entity):
    """Money received from a customer, possibly applied to invoices and possibly refunded."""

    schema_version: Literal[1] = 1
    number: str | None = None
    customer: EntityRef | None = None
    currency: Currency
    amount: Money
    amount_refunded: Money | None = None
    status: PaymentStatus
    method: PaymentMethod | None = None
    received_at: AwareDatetime | None = None
    applied_to: tuple[PaymentApplication, ...] = ()
    failure_reason: str | None = None
    memo: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_single_currency(self, self.currency)
        if self.amount.amount < 0:
            raise ValueError("a payment amount cannot be negative")
        refunded = self.amount_refunded or Money.zero(self.currency)
        if refunded.amount < 0 or refunded > self.amount:
            raise ValueError("amount_refunded must lie between zero and amount")
        if self.status is PaymentStatus.REFUNDED and refunded != self.amount:
            raise ValueError("status refunded requires amount_refunded == amount")
        applied = money_sum((a.amount for a in self.applied_to), self.currency)
        if applied > self.amount:
            raise ValueError(f"applied {applied} exceeds the payment amount {self.amount}")
        return self


class CreditNote(PricedDocument):
    """A reduction of an invoice's amount (refund, credit to balance or write-off)."""

    schema_version: Literal[1] = 1
    status: CreditNoteStatus = CreditNoteStatus.ISSUED
    invoice: EntityRef | None = None
    reason: Literal[
        "duplicate", "fraudulent", "order_change", "product_unsatisfactory", "other"
    ] = "other"
    issued_on: dt.date | None = None
