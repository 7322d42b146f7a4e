"""Shopify webhooks -> canonical models.

Shopify posts the resource itself as the body (the topic travels in ``X-Shopify-Topic``), so these
functions take the order or inventory-level JSON directly. Prices are decimal strings in the shop
currency; ``taxes_included`` says whether line prices already contain tax.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import entity_ref, make_address, refs
from canonical.mappings._read import Node, canonical_errors
from canonical.models import (
    Address,
    Contact,
    Customer,
    CustomerStatus,
    Discount,
    InventoryLevel,
    LineItem,
    Order,
    OrderStatus,
    PaymentState,
    TaxLine,
)
from canonical.money import Money

_FINANCIAL = {
    "pending": "unpaid",
    "authorized": "authorized",
    "partially_paid": "partially_paid",
    "paid": "paid",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "voided",
    "expired": "voided",
}


def _address(node: Node | None) -> Address | None:
    if node is None:
        return None
    return make_address(
        recipient=node.opt_text("name") or node.opt_text("company"),
        line1=node.opt_text("address1"),
        line2=node.opt_text("address2"),
        city=node.opt_text("city"),
        region=node.opt_text("province_code") or node.opt_text("province"),
        postal_code=node.opt_text("zip"),
        country=node.opt_text("country_code"),
    )


def _line(node: Node, currency: str, inclusive: bool) -> LineItem:
    def money(n: Node, key: str) -> Money:
        return Money(amount=n.decimal(key), currency=currency)

    unit = money(node, "price")
    quantity = Decimal(node.integer("quantity"))
    return LineItem(
        line_id=node.text("id"),
        product=entity_ref("shopify", node.opt_text("product_id"), node.opt_text("title")),
        sku=node.opt_text("sku"),
        description=node.opt_text("name") or node.opt_text("title"),
        quantity=quantity,
        unit_price=unit,
        amount=unit * quantity,
        discounts=tuple(
            Discount(amount=money(d, "amount"))
            for d in node.children("discount_allocations")
            if d.decimal("amount")
        ),
        taxes=tuple(
            TaxLine(
                name=t.opt_text("title") or "tax",
                rate=t.decimal("rate") * 100 if t.has("rate") else None,
                amount=money(t, "price"),
                inclusive=inclusive,
            )
            for t in node.children("tax_lines")
        ),
    )


def _status(order: Node) -> OrderStatus:
    if order.has("cancelled_at"):
        return OrderStatus.CANCELED
    fulfillment = order.opt_text("fulfillment_status")
    if fulfillment == "fulfilled":
        return OrderStatus.FULFILLED
    if fulfillment == "partial":
        return OrderStatus.PARTIALLY_FULFILLED
    return OrderStatus.CONFIRMED


def shopify_order_to_canonical(order: dict[str, Any]) -> Order:
    """Map an ``orders/create`` or ``orders/paid`` webhook body to an Order.

    Raises:
        MappingError: A missing amount, an unknown financial status, or totals that do not add up
            (reported with a ``canonical:Order`` path).
    """
    root = Node(order)
    cur = root.text("currency").upper()
    inclusive = root.flag("taxes_included")
    lines = []
    for node in root.children("line_items"):
        with canonical_errors():
            lines.append(_line(node, cur, inclusive))
    subtotal = Money(amount=root.decimal("total_line_items_price"), currency=cur)
    after_discounts = Money(amount=root.decimal("subtotal_price"), currency=cur)
    shipping = sum(
        (
            Money(amount=s.decimal("discounted_price"), currency=cur)
            for s in root.children("shipping_lines")
        ),
        Money.zero(cur),
    )
    customer = root.opt_child("customer")
    customer_name = None
    if customer is not None:
        parts = (customer.opt_text("first_name"), customer.opt_text("last_name"))
        customer_name = " ".join(filter(None, parts)) or None
    with canonical_errors():
        return Order(
            external_refs=refs(("shopify", root.text("id"))),
            number=root.opt_text("name"),
            customer=entity_ref("shopify", customer.opt_text("id"), customer_name)
            if customer
            else None,
            currency=cur,
            status=_status(root),
            payment_state=PaymentState(root.choice("financial_status", _FINANCIAL, "unpaid")),
            lines=tuple(lines),
            subtotal=subtotal,
            discount_total=subtotal - after_discounts,
            tax_total=Money(amount=root.decimal("total_tax"), currency=cur),
            shipping_total=shipping,
            total=Money(amount=root.decimal("total_price"), currency=cur),
            tax_inclusive=inclusive,
            ordered_at=root.opt_timestamp("processed_at") or root.opt_timestamp("created_at"),
            email=root.opt_text("email") or root.opt_text("contact_email"),
            billing_address=_address(root.opt_child("billing_address")),
            shipping_address=_address(root.opt_child("shipping_address")),
            tags=tuple(t.strip() for t in (root.opt_text("tags") or "").split(",") if t.strip()),
            memo=root.opt_text("note"),
        )


def shopify_inventory_level_to_canonical(level: dict[str, Any]) -> InventoryLevel:
    """Map an ``inventory_levels/update`` webhook body to an InventoryLevel.

    Raises:
        MappingError: A missing id, count or timestamp.
    """
    root = Node(level)
    item, location = root.text("inventory_item_id"), root.text("location_id")
    with canonical_errors():
        return InventoryLevel(
            external_refs=refs(("shopify", f"{location}:{item}")),
            item=entity_ref("shopify", item),
            location=entity_ref("shopify", location),
            available=root.integer("available"),
            updated_at=root.timestamp("updated_at"),
        )


def shopify_customer_from_order(order: Order) -> Customer:
    """The buyer of a web order, as the customer the ERP must hold before it books the order.

    A storefront order carries its buyer inline (name, email, addresses), not as a record the ERP
    already knows, so the order workflow upserts this customer first. The Shopify customer id is
    the origin ref (the ERP keys the account ``shopify-<customer id>``, the same key the sales
    order binds to); the email becomes the primary contact.

    Raises:
        MappingError: The order names no buyer, or the buyer has no Shopify id or name.
    """
    buyer = order.customer
    if buyer is None or buyer.ref("shopify") is None:
        raise MappingError("customer", "the order names no Shopify customer")
    name = buyer.name or (order.shipping_address.recipient if order.shipping_address else None)
    if not name:
        raise MappingError("customer.name", "the buyer has no name")
    contacts = (Contact(name=name, email=order.email, is_primary=True),) if order.email else ()
    with canonical_errors():
        return Customer(
            external_refs=buyer.external_refs,
            legal_name=name,
            display_name=name,
            contacts=contacts,
            billing_address=order.billing_address,
            shipping_address=order.shipping_address,
            currency=order.currency,
            status=CustomerStatus.ACTIVE,
        )
