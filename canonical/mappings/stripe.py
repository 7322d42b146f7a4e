"""Stripe webhook events -> canonical models.

Every function takes the whole Stripe Event object (``{"id": "evt_...", "type": ..., "data":
{"object": ...}}``) and reads ``data.object``. Both the current (2025 "basil") and the older invoice
and subscription shapes are understood: basil moved the invoice's subscription under ``parent``
and a line's price under ``pricing``, and moved subscription periods onto the items.

Amounts are integers in minor units. Stripe follows ISO 4217 exponents except where its
documentation says otherwise: MGA is zero-decimal in Stripe, and ISK stays two-decimal in the API
(:func:`stripe_exponent`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.mappings._common import entity_ref, make_address, refs
from canonical.mappings._read import Node, canonical_errors
from canonical.models import (
    Address,
    Contact,
    Customer,
    CustomerStatus,
    Discount,
    EntityRef,
    ExternalRef,
    Invoice,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentApplication,
    PaymentMethod,
    PaymentStatus,
    Period,
    Recurrence,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    TaxId,
    TaxLine,
)
from canonical.models._base import within_one_minor_unit
from canonical.money import Money, minor_exponent

STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905 - codes read best inline
)
REF_PREFIX = "ref_"
"""Metadata keys ``ref_<system>`` carry a customer's ids in other systems through Stripe."""


def stripe_exponent(currency: str) -> int:
    """The minor-unit exponent Stripe's API uses for ``currency`` (may differ from ISO 4217)."""
    if currency in STRIPE_ZERO_DECIMAL:
        return 0
    if currency == "ISK":
        return 2  # Stripe kept ISK two-decimal "for backwards compatibility"
    return minor_exponent(currency)


def _event(event: dict[str, Any], types: frozenset[str], obj_kind: str) -> tuple[Node, Node]:
    root = Node(event)
    kind = root.text("type")
    if kind not in types:
        raise root.error("type", f"{kind!r} is not one of {', '.join(sorted(types))}")
    obj = root.child("data").child("object")
    if obj.raw("object") != obj_kind:
        raise obj.error("object", f"expected a {obj_kind}, got {obj.raw('object')!r}")
    return root, obj


def _currency(obj: Node) -> str:
    code = obj.text("currency").upper()
    try:
        minor_exponent(code)
    except ValueError as exc:
        raise obj.error("currency", str(exc)) from None
    return code


def _money(node: Node, key: str, currency: str) -> Money:
    return Money.from_minor(node.integer(key), currency, exponent=stripe_exponent(currency))


def _id_of(node: Node, key: str) -> str | None:
    """An id that may arrive as a string or as an expanded object."""
    value = node.raw(key)
    if isinstance(value, dict):
        return node.child(key).opt_text("id")
    return node.opt_text(key)


def _metadata_refs(obj: Node) -> tuple[ExternalRef, ...]:
    meta = obj.opt_child("metadata")
    if meta is None:
        return ()
    pairs = [
        (key.removeprefix(REF_PREFIX), meta.opt_text(key))
        for key in sorted(meta.data)
        if key.startswith(REF_PREFIX) and key != f"{REF_PREFIX}stripe"
    ]
    return refs(*pairs)


def _address(node: Node | None, recipient: str | None = None) -> Address | None:
    if node is None:
        return None
    return make_address(
        recipient=recipient,
        line1=node.opt_text("line1"),
        line2=node.opt_text("line2"),
        city=node.opt_text("city"),
        region=node.opt_text("state"),
        postal_code=node.opt_text("postal_code"),
        country=node.opt_text("country"),
    )


def stripe_customer_to_canonical(event: dict[str, Any]) -> Customer:
    """Map ``customer.created`` / ``customer.updated`` / ``customer.deleted`` to a Customer.

    Raises:
        MappingError: Wrong event type, or the customer has neither a name nor an email.
    """
    root, obj = _event(
        event, frozenset({"customer.created", "customer.updated", "customer.deleted"}), "customer"
    )
    name = obj.opt_text("name") or obj.opt_text("email")
    if name is None:
        raise obj.error("name", "a customer needs a name or an email to be mapped")
    meta = obj.opt_child("metadata")
    display = (meta.opt_text("display_name") if meta else None) or name
    email, phone = obj.opt_text("email"), obj.opt_text("phone")
    contacts: tuple[Contact, ...] = ()
    if email or phone:
        contacts = (Contact(name=name, email=email, phone=phone, is_primary=True),)
    shipping = obj.opt_child("shipping")
    tax_ids = tuple(
        TaxId(kind=t.text("type"), value=t.text("value"), country=t.opt_text("country"))
        for t in (obj.child("tax_ids").children("data") if obj.has("tax_ids") else [])
    )
    status = CustomerStatus.ON_HOLD if obj.flag("delinquent") else CustomerStatus.ACTIVE
    if root.text("type") == "customer.deleted":
        status = CustomerStatus.INACTIVE
    with canonical_errors():
        return Customer(
            external_refs=refs(("stripe", obj.text("id"))) + _metadata_refs(obj),
            legal_name=name,
            display_name=display,
            contacts=contacts,
            billing_address=_address(obj.opt_child("address")),
            shipping_address=_address(
                shipping.opt_child("address") if shipping else None,
                shipping.opt_text("name") if shipping else None,
            ),
            tax_ids=tax_ids,
            currency=_currency(obj) if obj.has("currency") else None,
            status=status,
            updated_at=root.timestamp("created"),
        )


_INVOICE_EVENTS = frozenset({"invoice.finalized", "invoice.paid", "invoice.payment_failed"})
_INVOICE_STATUS = {s.value: s.value for s in InvoiceStatus}


def _invoice_line(line: Node, currency: str) -> LineItem:
    exp = stripe_exponent(currency)
    amount = _money(line, "amount", currency)
    quantity = Decimal(line.opt_integer("quantity") or 1)
    pricing, price = line.opt_child("pricing"), line.opt_child("price")
    details = pricing.opt_child("price_details") if pricing else None
    source = pricing or price
    unit_text = source.opt_text("unit_amount_decimal") if source else None
    unit = None
    if unit_text is not None:
        unit = Money(amount=Decimal(unit_text).scaleb(-exp), currency=currency)
        if not within_one_minor_unit(unit * quantity, amount):
            unit = None  # prorations and tiers: the unit price does not explain the line amount
    product_id = (details.opt_text("product") if details else None) or (
        _id_of(price, "product") if price else None
    )
    period = line.opt_child("period")
    taxes = [
        TaxLine(
            amount=_money(t, "amount", currency),
            inclusive=t.raw("tax_behavior") == "inclusive" or t.flag("inclusive"),
            name="tax",
        )
        for t in line.children("taxes") + line.children("tax_amounts")
    ]
    return LineItem(
        line_id=line.opt_text("id"),
        product=entity_ref("stripe", product_id),
        description=line.opt_text("description"),
        quantity=quantity,
        unit_price=unit,
        amount=amount,
        discounts=tuple(
            Discount(amount=_money(d, "amount", currency), code=_id_of(d, "discount"))
            for d in line.children("discount_amounts")
            if d.integer("amount")
        ),
        taxes=tuple(taxes),
        period=Period(start=period.timestamp("start"), end=period.timestamp("end"))
        if period
        else None,
    )


def _invoice_subscription(obj: Node) -> str | None:
    parent = obj.opt_child("parent")
    details = parent.opt_child("subscription_details") if parent else None
    if details is not None:
        return _id_of(details, "subscription")
    return _id_of(obj, "subscription")


def stripe_invoice_to_canonical(event: dict[str, Any]) -> Invoice:
    """Map ``invoice.finalized`` / ``invoice.paid`` / ``invoice.payment_failed`` to an Invoice.

    Header totals are reconciled: ``discount_total`` is what makes ``subtotal + tax + shipping``
    equal ``total``, and it must agree with Stripe's ``total_discount_amounts``.

    Raises:
        MappingError: Wrong event type, a malformed amount, or totals that do not reconcile.
    """
    _, obj = _event(event, _INVOICE_EVENTS, "invoice")
    cur = _currency(obj)
    lines_node = obj.child("lines")
    lines = []
    for line in lines_node.children("data"):
        with canonical_errors():
            lines.append(_invoice_line(line, cur))
    if lines_node.flag("has_more"):
        raise lines_node.error("has_more", "lines are paginated; expand them before mapping")
    total = _money(obj, "total", cur)
    subtotal_key = "subtotal_excluding_tax" if obj.has("subtotal_excluding_tax") else "subtotal"
    subtotal = _money(obj, subtotal_key, cur)
    if obj.has("total_excluding_tax"):
        tax = total - _money(obj, "total_excluding_tax", cur)
    else:
        tax_nodes = obj.children("total_taxes") or obj.children("total_tax_amounts")
        tax = sum((_money(t, "amount", cur) for t in tax_nodes), Money.zero(cur))
    shipping = _money(obj, "amount_shipping", cur) if obj.has("amount_shipping") else None
    discount = subtotal + tax + (shipping or Money.zero(cur)) - total
    if obj.has("total_discount_amounts"):
        stated = sum(
            (_money(d, "amount", cur) for d in obj.children("total_discount_amounts")),
            Money.zero(cur),
        )
        if stated != discount:
            raise obj.error(
                "total_discount_amounts", f"discounts {stated} do not reconcile with totals"
            )
    transitions = obj.opt_child("status_transitions")
    status = obj.choice("status", _INVOICE_STATUS)
    with canonical_errors():
        return Invoice(
            external_refs=refs(("stripe", obj.text("id"))),
            number=obj.opt_text("number"),
            customer=entity_ref("stripe", _id_of(obj, "customer"), obj.opt_text("customer_name")),
            currency=cur,
            status=InvoiceStatus(status),
            lines=tuple(lines),
            subtotal=subtotal,
            discount_total=discount,
            tax_total=tax,
            shipping_total=shipping,
            total=total,
            amount_paid=_money(obj, "amount_paid", cur),
            amount_remaining=_money(obj, "amount_remaining", cur),
            issued_on=transitions.opt_date("finalized_at") if transitions else None,
            due_date=obj.opt_date("due_date"),
            paid_at=transitions.opt_timestamp("paid_at") if transitions else None,
            subscription=entity_ref("stripe", _invoice_subscription(obj)),
            attempt_count=obj.opt_integer("attempt_count") or 0,
            memo=obj.opt_text("description"),
        )


_SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
_SUBSCRIPTION_STATUS = {s.value: s.value for s in SubscriptionStatus}


def _subscription_item(item: Node, currency: str) -> SubscriptionItem:
    price = item.child("price")
    recurring = price.opt_child("recurring")
    return SubscriptionItem(
        external_refs=refs(("stripe", item.text("id"))),
        product=entity_ref("stripe", _id_of(price, "product")),
        price=entity_ref("stripe", price.text("id"), price.opt_text("nickname")),
        quantity=item.opt_integer("quantity") or 0,
        unit_amount=_money(price, "unit_amount", currency) if price.has("unit_amount") else None,
        recurrence=Recurrence(
            interval=recurring.text("interval"),
            interval_count=recurring.opt_integer("interval_count") or 1,
            usage_type=recurring.opt_text("usage_type") or "licensed",
        )
        if recurring
        else None,
    )


def stripe_subscription_to_canonical(event: dict[str, Any]) -> Subscription:
    """Map ``customer.subscription.created`` / ``.updated`` / ``.deleted`` to a Subscription.

    Raises:
        MappingError: Wrong event type, no items, or an unknown status.
    """
    _, obj = _event(event, _SUBSCRIPTION_EVENTS, "subscription")
    cur = _currency(obj)
    item_nodes = obj.child("items").children("data")
    if not item_nodes:
        raise obj.child("items").error("data", "a subscription needs at least one item")
    # basil (2025-03-31) moved the billing period from the subscription onto each item
    period_src = obj if obj.has("current_period_start") else item_nodes[0]
    period = None
    if period_src.has("current_period_start"):
        period = Period(
            start=period_src.timestamp("current_period_start"),
            end=period_src.timestamp("current_period_end"),
        )
    items = []
    for item in item_nodes:
        with canonical_errors():
            items.append(_subscription_item(item, cur))
    with canonical_errors():
        return Subscription(
            external_refs=refs(("stripe", obj.text("id"))) + _metadata_refs(obj),
            customer=EntityRef(external_refs=refs(("stripe", _id_of(obj, "customer")))),
            status=SubscriptionStatus(obj.choice("status", _SUBSCRIPTION_STATUS)),
            currency=cur,
            items=tuple(items),
            current_period=period,
            started_at=obj.opt_timestamp("start_date"),
            trial_end=obj.opt_timestamp("trial_end"),
            cancel_at_period_end=obj.flag("cancel_at_period_end"),
            canceled_at=obj.opt_timestamp("canceled_at"),
            ended_at=obj.opt_timestamp("ended_at"),
        )


def stripe_charge_refund_to_canonical(event: dict[str, Any]) -> Payment:
    """Map ``charge.refunded`` to a Payment carrying its refunded amount.

    Raises:
        MappingError: Wrong event type, or the charge reports no refund.
    """
    _, obj = _event(event, frozenset({"charge.refunded"}), "charge")
    cur = _currency(obj)
    amount = _money(obj, "amount", cur)
    refunded = _money(obj, "amount_refunded", cur)
    if refunded.amount == 0:
        raise obj.error("amount_refunded", "charge.refunded with nothing refunded")
    card = None
    details = obj.opt_child("payment_method_details")
    if details is not None and details.has("card"):
        node = details.child("card")
        card = PaymentMethod(
            kind="card", brand=node.opt_text("brand"), last4=node.opt_text("last4")
        )
    elif details is not None:
        card = PaymentMethod(kind="other", brand=details.opt_text("type"))
    invoice_id = _id_of(obj, "invoice")
    applied: tuple[PaymentApplication, ...] = ()
    if invoice_id:
        applied = (
            PaymentApplication(
                invoice=EntityRef(external_refs=refs(("stripe", invoice_id))), amount=amount
            ),
        )
    with canonical_errors():
        return Payment(
            external_refs=refs(("stripe", obj.text("id"))),
            number=obj.opt_text("receipt_number"),
            customer=entity_ref("stripe", _id_of(obj, "customer")),
            currency=cur,
            amount=amount,
            amount_refunded=refunded,
            status=PaymentStatus.REFUNDED
            if refunded == amount
            else PaymentStatus.PARTIALLY_REFUNDED,
            method=card,
            received_at=obj.timestamp("created"),
            applied_to=applied,
            failure_reason=obj.opt_text("failure_message"),
            memo=obj.opt_text("description"),
        )
