"""Subscriptions, the amendments that change them, and the entitlements they grant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from canonical.models._base import (
    CanonicalModel,
    Entity,
    EntityRef,
    Lifecycle,
    Period,
    ShortStr,
    _Referenced,
    check_single_currency,
    table,
)
from canonical.models.catalog import Recurrence
from canonical.money import Currency, Money

_SUBSCRIPTION_FLOW = table(
    incomplete="active trialing incomplete_expired",
    incomplete_expired="",
    trialing="active past_due canceled paused",
    active="past_due canceled paused unpaid",
    past_due="active canceled unpaid",
    unpaid="active canceled",
    paused="active canceled",
    canceled="",
)
_ENTITLEMENT_FLOW = table(
    pending="active revoked",
    active="suspended revoked",
    suspended="active revoked",
    revoked="",
)


class SubscriptionStatus(Lifecycle):
    """Stripe's subscription lifecycle, the richest of the vendors we map."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _SUBSCRIPTION_FLOW


class SubscriptionItem(_Referenced):
    """One priced line of a subscription (its own refs are the vendor item ids)."""

    product: EntityRef | None = None
    price: EntityRef | None = None
    quantity: Annotated[int, Field(ge=0)] = 1
    unit_amount: Money | None = None
    recurrence: Recurrence | None = None


class Subscription(Entity):
    """A customer's recurring agreement: items, billing period and status."""

    schema_version: Literal[1] = 1
    customer: EntityRef
    status: SubscriptionStatus
    currency: Currency
    items: Annotated[tuple[SubscriptionItem, ...], Field(min_length=1)]
    current_period: Period | None = None
    started_at: AwareDatetime | None = None
    trial_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_single_currency(self, self.currency)
        if self.status is SubscriptionStatus.CANCELED and self.canceled_at is None:
            raise ValueError("a canceled subscription needs canceled_at")
        return self


class _Amendment(Entity):
    schema_version: Literal[1] = 1
    subscription: EntityRef
    effective_date: dt.date
    prorate: bool = Field(True, description="credit/charge the unused part of the period")


class PlanChange(_Amendment):
    """Move one item to another price: an upgrade or a downgrade."""

    kind: Literal["upgrade", "downgrade"]
    item: EntityRef | None = Field(None, description="the item changed; None for a single item")
    from_price: EntityRef
    to_price: EntityRef


class QuantityChange(_Amendment):
    """Change the seat count (or any quantity) of one item."""

    kind: Literal["quantity_change"] = "quantity_change"
    item: EntityRef | None = None
    from_quantity: Annotated[int, Field(ge=0)]
    to_quantity: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _changes(self) -> Self:
        if self.from_quantity == self.to_quantity:
            raise ValueError("a quantity change must change the quantity")
        return self


class Cancellation(_Amendment):
    """End the subscription, now or at the end of the current period."""

    kind: Literal["cancel"] = "cancel"
    at_period_end: bool = False
    reason: str | None = None


class Pause(_Amendment):
    """Pause billing, optionally until a resume date."""

    kind: Literal["pause"] = "pause"
    resumes_on: dt.date | None = None

    @model_validator(mode="after")
    def _resume_after_pause(self) -> Self:
        if self.resumes_on is not None and self.resumes_on <= self.effective_date:
            raise ValueError("resumes_on must come after effective_date")
        return self


SubscriptionAmendment = Annotated[
    PlanChange | QuantityChange | Cancellation | Pause, Field(discriminator="kind")
]
"""Any change to a subscription; ``kind`` selects the variant."""


class EntitlementLimit(CanonicalModel):
    """A usage limit such as ``seats <= 25`` (``value`` None means unlimited)."""

    name: ShortStr
    value: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None
    unit: str | None = None
    per: Literal["period", "day", "month", "year"] | None = None


class EntitlementStatus(Lifecycle):
    """pending -> active <-> suspended; any but revoked -> revoked (the licence server's states)."""

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _ENTITLEMENT_FLOW


class Entitlement(Entity):
    """A right to use a product or feature, with limits and a status, for a time range."""

    # v2 added `status`: v1 could only say *when* a grant applied, so a suspended (unpaid, paused)
    # or not yet granted (pending) entitlement looked active. canonical.versioning upcasts a v1
    # payload with status "active", which is what every v1 entitlement meant.
    schema_version: Literal[2] = 2
    customer: EntityRef
    target_kind: Literal["product", "feature"]
    target: ShortStr = Field(description="product SKU/ref or feature key")
    status: EntitlementStatus = Field(description="whether the grant is in force within its range")
    limits: tuple[EntitlementLimit, ...] = ()
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    source: EntityRef | None = Field(None, description="the subscription or order granting it")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        names = [limit.name for limit in self.limits]
        if len(names) != len(set(names)):
            raise ValueError("limit names must be unique")
        return self

    def active_at(self, when: dt.datetime) -> bool:
        """True when the entitlement is active and ``when`` lies in ``[starts_at, ends_at)``."""
        in_range = self.starts_at <= when and (self.ends_at is None or when < self.ends_at)
        return self.status is EntitlementStatus.ACTIVE and in_range
