"""Canonical models -> NetSuite REST Record API request bodies.

Bodies are keyed by ``externalId`` (see :func:`~canonical.mappings._common.external_key`), so a
redelivered message upserts the same record (``PUT /record/v1/<type>/eid:<externalId>``). Reference
fields are written as ``{"externalId": ...}``, NetSuite's documented alternative to an internal id;
the account gives lookup records external ids once: currencies their ISO code, terms ``net-30`` /
``due-on-receipt``, items their SKU, and a discount item ``interlock-discount``. Amounts are JSON
numbers (NetSuite's own type); tax is computed by NetSuite (SuiteTax), so no tax amounts are sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import deal_key, external_key, is_recurring_line
from canonical.mappings._read import canonical_errors
from canonical.models import (
    Address,
    Customer,
    CustomerStatus,
    Invoice,
    Order,
    OrderStatus,
    PricedDocument,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from canonical.models._base import _Referenced

DISCOUNT_ITEM = "interlock-discount"
RECURRING_COLUMN = "custcol_interlock_recurring"
"""A line column marking a subscription line, so an amendment knows which lines billing owns."""


def _num(value: Decimal) -> float | int:
    """A JSON number for NetSuite (which stores doubles); integral values stay ints."""
    return int(value) if value == value.to_integral_value() else float(value)


def _ref(record: _Referenced, path: str) -> dict[str, str]:
    own = record.ref("netsuite")
    return {"id": own} if own else {"externalId": external_key(record, path)}


def _address_body(address: Address) -> dict[str, Any]:
    body: dict[str, Any] = {
        "addressee": address.recipient,
        "addr1": address.line1,
        "addr2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": {"id": address.country} if address.country else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def netsuite_customer_from_canonical(customer: Customer) -> dict[str, Any]:
    """Body for ``PUT /record/v1/customer/eid:<externalId>`` (an upsert).

    Raises:
        MappingError: The customer has no external refs to key on.
    """
    contact = customer.primary_contact
    body: dict[str, Any] = {
        "externalId": external_key(customer, "customer"),
        "isPerson": False,
        "companyName": customer.legal_name,
        "entityId": customer.display_name,
        "isInactive": customer.status is CustomerStatus.INACTIVE,
        "creditHoldOverride": "ON" if customer.status is CustomerStatus.ON_HOLD else "AUTO",
    }
    if contact is not None:
        body |= {k: v for k, v in (("email", contact.email), ("phone", contact.phone)) if v}
    if customer.website:
        body["url"] = customer.website
    if customer.currency:
        body["currency"] = {"externalId": customer.currency}
    if customer.payment_terms is not None:
        terms = customer.payment_terms
        key = f"net-{terms.days}" if terms.kind == "net" else "due-on-receipt"
        body["terms"] = {"externalId": key}
    book = []
    if customer.billing_address is not None:
        same = customer.shipping_address in (None, customer.billing_address)
        book.append(
            {
                "defaultBilling": True,
                "defaultShipping": same and customer.shipping_address is not None,
                "label": "Billing",
                "addressBookAddress": _address_body(customer.billing_address),
            }
        )
    if (
        customer.shipping_address is not None
        and customer.shipping_address != customer.billing_address
    ):
        book.append(
            {
                "defaultBilling": False,
                "defaultShipping": True,
                "label": "Shipping",
                "addressBookAddress": _address_body(customer.shipping_address),
            }
        )
    if book:
        body["addressBook"] = {"items": book}
    return body


def _item_lines(doc: PricedDocument) -> dict[str, Any]:
    items = []
    for i, line in enumerate(doc.lines):
        if line.sku:
            item: dict[str, str] = {"externalId": line.sku}
        elif line.product is not None and line.product.external_refs:
            item = _ref(line.product, f"lines[{i}].product")
        else:
            raise MappingError(f"lines[{i}]", "a NetSuite line needs a sku or a product ref")
        entry: dict[str, Any] = {
            "item": item,
            "quantity": _num(line.quantity),
            "amount": _num(line.amount.amount),
        }
        if line.unit_price is not None:
            entry["rate"] = _num(line.unit_price.amount)
        if line.description:
            entry["description"] = line.description
        items.append(entry)
    return {"items": items}


def _document(doc: PricedDocument, path: str) -> dict[str, Any]:
    if doc.customer is None:
        raise MappingError(f"{path}.customer", "a NetSuite transaction needs a customer")
    body: dict[str, Any] = {
        "externalId": external_key(doc, path),
        "entity": _ref(doc.customer, f"{path}.customer"),
        "currency": {"externalId": doc.currency},
        "item": _item_lines(doc),
    }
    if doc.number:
        body["tranId"] = doc.number
    if doc.memo:
        body["memo"] = doc.memo
    if doc.discount_total.amount:
        body["discountItem"] = {"externalId": DISCOUNT_ITEM}
        body["discountRate"] = _num(-doc.discount_total.amount)
    if doc.shipping_total is not None and doc.shipping_total.amount:
        body["shippingCost"] = _num(doc.shipping_total.amount)
    return body


def netsuite_sales_order_from_order(order: Order) -> dict[str, Any]:
    """Body for ``PUT /record/v1/salesOrder/eid:<externalId>``.

    A confirmed order is sent as Pending Fulfillment (``B``), anything earlier as Pending Approval
    (``A``).

    Raises:
        MappingError: No customer, no key, or a line with neither SKU nor product ref.
    """
    body = _document(order, "order")
    for line, entry in zip(order.lines, body["item"]["items"], strict=True):
        if is_recurring_line(line):  # billing owns it: an amendment changes only these lines
            entry[RECURRING_COLUMN] = True
    confirmed = order.status not in (OrderStatus.DRAFT, OrderStatus.SUBMITTED)
    body["orderStatus"] = {"id": "B" if confirmed else "A"}
    if order.order_date or order.ordered_at:
        day = order.order_date or (order.ordered_at.date() if order.ordered_at else None)
        body["tranDate"] = day.isoformat() if day else None
    if order.shipping_address is not None:
        body["shippingAddress"] = _address_body(order.shipping_address)
    if order.billing_address is not None:
        body["billingAddress"] = _address_body(order.billing_address)
    return body


def netsuite_invoice_from_invoice(invoice: Invoice) -> dict[str, Any]:
    """Body for ``PUT /record/v1/invoice/eid:<externalId>``.

    Raises:
        MappingError: No customer, no key, or a line with neither SKU nor product ref.
    """
    body = _document(invoice, "invoice")
    if invoice.issued_on:
        body["tranDate"] = invoice.issued_on.isoformat()
    if invoice.due_date:
        body["dueDate"] = invoice.due_date.isoformat()
    return body


def netsuite_payment_from_invoice(invoice: Invoice) -> dict[str, Any]:
    """Body for ``PUT /record/v1/customerPayment/eid:<externalId>`` recording an invoice's payment.

    The payment is applied to the invoice through its own upsert key, so the invoice must have
    been sent with :func:`netsuite_invoice_from_invoice` first (or carry a ``netsuite`` ref).

    Raises:
        MappingError: Nothing has been paid, or there is no customer or key.
    """
    if invoice.amount_paid.amount <= 0:
        raise MappingError("amount_paid", "the invoice has no payment to record")
    if invoice.customer is None:
        raise MappingError("customer", "a NetSuite payment needs a customer")
    paid = _num(invoice.amount_paid.amount)
    body: dict[str, Any] = {
        "externalId": f"{external_key(invoice, 'invoice')}-payment",
        "customer": _ref(invoice.customer, "customer"),
        "currency": {"externalId": invoice.currency},
        "payment": paid,
        "memo": f"Payment of invoice {invoice.number or external_key(invoice, 'invoice')}",
        "apply": {"items": [{"doc": _ref(invoice, "invoice"), "apply": True, "amount": paid}]},
    }
    when = invoice.paid_at.date() if invoice.paid_at else invoice.issued_on
    if when is not None:
        body["tranDate"] = when.isoformat()
    return body


_ENDED = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})


def _subscription_line(item: SubscriptionItem, i: int, closed: bool) -> dict[str, Any]:
    product = item.product.ref("stripe") if item.product else None
    price = item.price.ref("stripe") if item.price else None
    if product is None and price is None:
        raise MappingError(f"items[{i}]", "a subscription item needs a stripe product or price")
    entry: dict[str, Any] = {"item": {"externalId": product or price}, "quantity": item.quantity}
    if item.unit_amount is not None:
        entry["rate"] = _num(item.unit_amount.amount)
        entry["amount"] = _num(item.unit_amount.amount * item.quantity)
    name = item.price.name if item.price else None
    entry["description"] = f"{name or 'Subscription item'} (Stripe price {price or 'unknown'})"
    entry[RECURRING_COLUMN] = True
    if closed:
        entry["isClosed"] = True
    return entry


def _item_key(item: SubscriptionItem) -> str | None:
    """The NetSuite item a subscription item bills: its Stripe product (the deal's SKU), else
    its price."""
    product = item.product.ref("stripe") if item.product else None
    return product or (item.price.ref("stripe") if item.price else None)


def _amendment_memo(subscription: Subscription, sub_id: str) -> str:
    parts = []
    for item in subscription.items:
        name = (item.price.name if item.price else None) or "item"
        every = ""
        if item.recurrence is not None:
            count = item.recurrence.interval_count
            unit = item.recurrence.interval.value
            every = f"/{unit}" if count == 1 else f"/{count} {unit}s"
        price = f" at {item.unit_amount}{every}" if item.unit_amount is not None else ""
        parts.append(f"{item.quantity} x {name}{price}")
    memo = f"Amended from Stripe subscription {sub_id} ({subscription.status.value}): " + "; ".join(
        parts
    )
    if subscription.current_period is not None:
        period = subscription.current_period
        memo += f"; period {period.start.date().isoformat()} to {period.end.date().isoformat()}"
    deal = subscription.ref("salesforce")
    if deal is not None:
        memo += f"; Salesforce opportunity {deal}"
    if subscription.cancel_at_period_end:
        memo += "; cancels at period end"
    return memo


def netsuite_sales_order_from_subscription(subscription: Subscription) -> dict[str, Any]:
    """Body for ``PUT /record/v1/salesOrder/eid:<externalId>``: the subscription's recurring order.

    When billing changes in Stripe (seats, plan, cancellation), the ERP's view of the recurring
    order has to follow, or revenue and fulfilment work from stale quantities. The order is keyed
    by the subscription (``stripe-sub_...``), so every change to one subscription upserts the same
    NetSuite order, whose lines are the subscription's current items (item by the Stripe product
    id, else the price id; the account gives those items matching external ids). The memo names
    the amendment. An ended subscription (canceled or expired) closes every line
    (``isClosed``), NetSuite's way of closing an order. The customer is referenced by its Stripe
    upsert key unless it has a ``netsuite`` ref; a workflow whose customer was created under
    another key overlays ``entity``.

    Raises:
        MappingError: The subscription or its customer has no key, or an item has no Stripe
            product or price.
    """
    sub_id = subscription.ref("stripe") or external_key(subscription, "subscription")
    closed = subscription.status in _ENDED
    body: dict[str, Any] = {
        "externalId": external_key(subscription, "subscription"),
        "entity": _ref(subscription.customer, "subscription.customer"),
        "currency": {"externalId": subscription.currency},
        "orderStatus": {"id": "B"},
        "item": {
            "items": [
                _subscription_line(item, i, closed) for i, item in enumerate(subscription.items)
            ]
        },
        "memo": _amendment_memo(subscription, sub_id),
    }
    if subscription.current_period is not None:
        body["tranDate"] = subscription.current_period.start.date().isoformat()
    return body


def netsuite_order_ref_from_subscription(subscription: Subscription) -> dict[str, Any]:
    """``get_record`` input for the sales order a subscription bills: the deal's order.

    Quote-to-cash books a won deal as one sales order keyed by the deal (``salesforce-006...``)
    and names the deal in the Stripe subscription's metadata, so a change to the subscription
    finds that order. A subscription no deal started is keyed by itself (``stripe-sub_...``).

    Raises:
        MappingError: The subscription has no external refs.
    """
    return {"type": "salesOrder", "externalId": deal_key(subscription, "subscription")}


def netsuite_sales_order_amendment(parts: dict[str, Any]) -> dict[str, Any]:
    """Body for ``PUT /record/v1/salesOrder/eid:<externalId>``: the order, amended in place.

    ``parts`` is ``{"subscription": <canonical Subscription>, "order": <the sales order as
    NetSuite returns it>}``. A seat or plan change must change the order the deal booked, not
    open a second one beside it: finance would see two open orders and double the revenue. So
    the order is written back whole (an upsert replaces the record), with its subscription lines
    (marked ``custcol_interlock_recurring``) set to the subscription's items: a matching item
    gets the new quantity, rate and amount, an item no longer billed is closed, a new item is
    added. One-off lines (onboarding) are kept as they are. An ended subscription (canceled or
    expired) closes every subscription line and the order itself (status ``H``, Closed).

    Raises:
        MappingError: ``parts`` lacks either part, the subscription is invalid, the order has no
            lines, or an item has no Stripe product or price.
    """
    subscription_doc, order = parts.get("subscription"), parts.get("order")
    if not isinstance(subscription_doc, dict) or not isinstance(order, dict):
        raise MappingError("input", "needs {subscription: <Subscription>, order: <salesOrder>}")
    with canonical_errors():
        subscription = Subscription.model_validate(subscription_doc)
    current = (order.get("item") or {}).get("items")
    if not isinstance(current, list):
        raise MappingError("order.item.items", "the sales order has no lines to amend")
    ended = subscription.status in _ENDED
    billed: dict[str, tuple[int, SubscriptionItem]] = {}
    for i, item in enumerate(subscription.items):
        key = _item_key(item)
        if key is None:
            raise MappingError(f"items[{i}]", "a subscription item needs a stripe product or price")
        billed.setdefault(key, (i, item))
    lines: list[dict[str, Any]] = []
    for line in current:
        ref = ((line.get("item") or {}) if isinstance(line, dict) else {}).get("externalId")
        if ref in billed:
            i, item = billed.pop(ref)
            amended = _subscription_line(item, i, ended)
            lines.append({**line, **amended, "item": line["item"]})
        elif isinstance(line, dict) and line.get(RECURRING_COLUMN):
            lines.append({**line, "isClosed": True})  # billing no longer charges for it
        else:
            lines.append(line)
    lines += [_subscription_line(item, i, ended) for i, item in billed.values()]
    body = {k: v for k, v in order.items() if k not in ("links", "id")}
    body["item"] = {"items": lines}
    sub_id = subscription.ref("stripe") or external_key(subscription, "subscription")
    body["memo"] = _amendment_memo(subscription, sub_id)
    if ended:
        body["orderStatus"] = {"id": "H"}  # Closed: the agreement it booked has ended
    return body
