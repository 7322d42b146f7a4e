"""Canonical orders and subscriptions -> entitlement-provisioning requests.

The provisioning service (the product's licence server) upserts an entitlement by its
``external_id``. One request grants or updates one entitlement::

    {"external_id": "salesforce-006...", "customer": {"name": ..., "external_refs": [...]},
     "product": "PLAT-SEAT-12M", "plan": "Platform seat (12 months)", "seats": 10,
     "items": [{"product": ..., "plan": ..., "seats": ...}], "starts_at": "...Z",
     "ends_at": null, "status": "active", "source": {"external_refs": [...]}}

``product``/``plan``/``seats`` describe the first recurring line; ``items`` lists every recurring
line (usually just that one). ``status`` is the entitlement's own (``active``, ``pending``,
``suspended`` or ``revoked``).

Both mappings build a canonical :class:`~canonical.models.Entitlement` first, so its invariants
(a start, limits named once, an end after the start) hold for every request.

The ``external_id`` is keyed on the *deal*: the Salesforce opportunity when the record knows one,
else the record's own upsert key. An order from a won opportunity and the Stripe subscription it
started (whose ``metadata[ref_salesforce]`` names that opportunity, see
:func:`~canonical.mappings.stripe_out.stripe_subscription_request_from_order`) therefore name the
same entitlement, and a later seat change updates it instead of granting a second one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import deal_key, is_recurring_line, whole_quantity
from canonical.mappings._read import canonical_errors
from canonical.models import (
    Entitlement,
    EntitlementLimit,
    EntitlementStatus,
    EntityRef,
    Order,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from canonical.models._base import _Referenced

_PENDING, _ACTIVE = EntitlementStatus.PENDING, EntitlementStatus.ACTIVE
_SUSPENDED, _REVOKED = EntitlementStatus.SUSPENDED, EntitlementStatus.REVOKED
_SUBSCRIPTION_STATUS = {
    SubscriptionStatus.INCOMPLETE: _PENDING,
    SubscriptionStatus.TRIALING: _ACTIVE,
    SubscriptionStatus.ACTIVE: _ACTIVE,
    SubscriptionStatus.PAST_DUE: _ACTIVE,  # access continues while Stripe retries the payment
    SubscriptionStatus.PAUSED: _SUSPENDED,
    SubscriptionStatus.UNPAID: _SUSPENDED,
    SubscriptionStatus.CANCELED: _REVOKED,
    SubscriptionStatus.INCOMPLETE_EXPIRED: _REVOKED,
}
_ORDER_STATUS = {
    OrderStatus.DRAFT: _PENDING,
    OrderStatus.SUBMITTED: _PENDING,
    OrderStatus.CANCELED: _REVOKED,
}


def _request(entitlement: Entitlement, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    data = entitlement.model_dump(mode="json")
    first = items[0]
    return {
        "external_id": key,
        "customer": data["customer"],
        "product": entitlement.target,
        "plan": first["plan"],
        "seats": first["seats"],
        "items": items,
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "status": data["status"],
        "source": data["source"],
    }


def _entitlement(
    customer: EntityRef,
    source: _Referenced,
    items: list[dict[str, Any]],
    starts_at: dt.datetime,
    ends_at: dt.datetime | None,
    status: EntitlementStatus,
) -> Entitlement:
    with canonical_errors():
        return Entitlement(
            external_refs=source.external_refs,
            customer=customer,
            target_kind="product",
            target=items[0]["product"],
            status=status,
            limits=(EntitlementLimit(name="seats", value=Decimal(items[0]["seats"]), unit="seat"),),
            starts_at=starts_at,
            ends_at=ends_at,
            source=EntityRef(external_refs=source.external_refs),
        )


def provisioning_entitlement_from_order(order: Order) -> dict[str, Any]:
    """The entitlement a won order grants: its recurring product, seats and start.

    Selling seats is only half the deal; the customer must be able to use them, so a won order is
    provisioned as soon as it is booked. Seats are the recurring line's quantity; one-off lines
    (onboarding, services) grant nothing. The entitlement starts when the order was placed (its
    order date at 00:00 UTC when only the date is known) and has no end: the subscription's
    lifecycle ends it later.

    Raises:
        MappingError: No buyer, no date, no recurring line, a recurring line without a SKU or with
            a fractional quantity, or no external refs.
    """
    if order.customer is None:
        raise MappingError("customer", "an entitlement needs the buying customer")
    if order.ordered_at is not None:
        starts_at = order.ordered_at
    elif order.order_date is not None:
        starts_at = dt.datetime.combine(order.order_date, dt.time(), dt.UTC)
    else:
        raise MappingError("order_date", "an entitlement needs the date the order was placed")
    items = []
    for i, line in enumerate(order.lines):
        if not is_recurring_line(line):
            continue
        if not line.sku:
            raise MappingError(f"lines[{i}].sku", "a recurring line needs a SKU to entitle")
        seats = whole_quantity(line.quantity, f"lines[{i}].quantity")
        items.append({"product": line.sku, "plan": line.description, "seats": seats})
    if not items:
        raise MappingError("lines", "the order has no recurring line to entitle")
    key = deal_key(order, "order")
    status = _ORDER_STATUS.get(order.status, _ACTIVE)
    entitlement = _entitlement(order.customer, order, items, starts_at, None, status)
    return _request(entitlement, key, items)


def provisioning_entitlement_from_subscription(subscription: Subscription) -> dict[str, Any]:
    """The entitlement after a subscription change: current seats, plan and status.

    When seats or the plan change in billing (``customer.subscription.updated``), the product must
    follow, or customers pay for seats they cannot use (or use seats they do not pay for). Seats
    are each item's quantity, the product its Stripe product id (else its price id) and the plan
    its price's nickname. The entitlement starts when the subscription started; it ends when a
    canceled subscription ended, or at the end of the period when it is set to cancel then.

    Raises:
        MappingError: An item has neither a Stripe product nor a price, or there is no key.
    """
    items = []
    for i, item in enumerate(subscription.items):
        product = item.product.ref("stripe") if item.product else None
        price = item.price.ref("stripe") if item.price else None
        if product is None and price is None:
            raise MappingError(f"items[{i}]", "a subscription item needs a stripe product or price")
        plan = (item.price.name if item.price else None) or price
        items.append({"product": product or price, "plan": plan, "seats": item.quantity})
    period = subscription.current_period
    starts_at = subscription.started_at or (period.start if period else None)
    if starts_at is None:
        raise MappingError("started_at", "an entitlement needs the subscription's start")
    status = _SUBSCRIPTION_STATUS[subscription.status]
    ends_at = None
    if status is _REVOKED:
        ends_at = subscription.ended_at or subscription.canceled_at
    elif subscription.cancel_at_period_end and period is not None:
        ends_at = period.end  # Stripe sets canceled_at when the cancellation is *scheduled*
    key = deal_key(subscription, "subscription")
    entitlement = _entitlement(
        subscription.customer, subscription, items, starts_at, ends_at, status
    )
    return _request(entitlement, key, items)
