"""NetSuite REST Record API records -> canonical models.

Records are read as ``GET /record/v1/<type>/<id>?expandSubResources=true`` returns them: references
are ``{"id", "refName", "links"}`` and sublists ``{"items": [...]}``. Amounts are JSON numbers and
enter through their shortest repr. The outbound direction is :mod:`canonical.mappings.netsuite_out`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from canonical.mappings._common import entity_ref, make_address, parse_external_key
from canonical.mappings._read import Node, canonical_errors
from canonical.models import (
    Address,
    Contact,
    Customer,
    CustomerStatus,
    EntityRef,
    ExternalRef,
    Invoice,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentApplication,
    PaymentMethod,
    PaymentStatus,
    PaymentTerms,
)
from canonical.money import Money, minor_exponent

_CARD_BRANDS = frozenset(
    {"visa", "mastercard", "master card", "amex", "american express", "discover"}
)
_INVOICE_STATUS = {
    "open": "open",
    "paid in full": "paid",
    "pending approval": "draft",
    "rejected": "void",
    "voided": "void",
}

# -- inbound ---------------------------------------------------------------------------------


def _refs(record: Node) -> tuple[ExternalRef, ...]:
    own = ExternalRef(system="netsuite", id=record.text("id"))
    origin = parse_external_key(record.opt_text("externalId"))
    return (own,) if origin is None or origin.system == "netsuite" else (own, origin)


def _currency(record: Node) -> str:
    symbol = record.opt_text("currencySymbol")
    if symbol is None and record.has("currency"):
        symbol = record.child("currency").opt_text("refName")
    code = (symbol or "").upper()
    try:
        minor_exponent(code)
    except ValueError:
        raise record.error(
            "currency", f"{symbol!r} is not an ISO 4217 code; name currencies by ISO code"
        ) from None
    return code


def _reference(record: Node, key: str) -> EntityRef | None:
    ref = record.opt_child(key)
    if ref is None:
        return None
    return entity_ref("netsuite", ref.opt_text("id"), ref.opt_text("refName"))


def _sublist(record: Node, key: str) -> list[Node]:
    sub = record.opt_child(key)
    if sub is None:
        return []
    if "items" not in sub.data:
        raise sub.error(
            "items", "sublist not expanded; GET the record with expandSubResources=true"
        )
    return sub.children("items")


def _address(node: Node | None) -> Address | None:
    if node is None:
        return None
    country = node.opt_child("country") if isinstance(node.raw("country"), dict) else None
    return make_address(
        recipient=node.opt_text("addressee"),
        line1=node.opt_text("addr1"),
        line2=node.opt_text("addr2"),
        city=node.opt_text("city"),
        region=node.opt_text("state"),
        postal_code=node.opt_text("zip"),
        country=country.opt_text("id") if country else node.opt_text("country"),
    )


def _terms(record: Node) -> PaymentTerms | None:
    ref = record.opt_child("terms")
    label = ref.opt_text("refName") if ref else None
    if label is None:
        return None
    if label.strip().lower() == "due on receipt":
        return PaymentTerms(kind="due_on_receipt")
    match = re.fullmatch(r"\s*net\s*(\d{1,3})\s*", label, flags=re.IGNORECASE)
    if match is None:
        raise record.error("terms", f"cannot read payment terms {label!r} (expected 'Net N')")
    return PaymentTerms.net(int(match.group(1)))


def netsuite_customer_to_canonical(record: dict[str, Any]) -> Customer:
    """Map a NetSuite ``customer`` record to a Customer.

    Raises:
        MappingError: A required field is missing, or terms/currency cannot be read.
    """
    rec = Node(record)
    if rec.flag("isPerson"):
        name = " ".join(filter(None, (rec.opt_text("firstName"), rec.opt_text("lastName"))))
    else:
        name = rec.text("companyName")
    email, phone = rec.opt_text("email"), rec.opt_text("phone")
    contacts: tuple[Contact, ...] = ()
    if email or phone:
        contacts = (Contact(name=name, email=email, phone=phone, is_primary=True),)
    billing = shipping = None
    for entry in _sublist(rec, "addressBook"):
        address = _address(entry.opt_child("addressBookAddress"))
        if entry.flag("defaultBilling") and billing is None:
            billing = address
        if entry.flag("defaultShipping") and shipping is None:
            shipping = address
    status = CustomerStatus.ACTIVE
    hold = rec.raw("creditHoldOverride")  # "ON" on write; {"id": "ON", "refName": "On"} on read
    if (hold.get("id") if isinstance(hold, dict) else hold) == "ON":
        status = CustomerStatus.ON_HOLD
    if rec.flag("isInactive"):
        status = CustomerStatus.INACTIVE
    with canonical_errors():
        return Customer(
            external_refs=_refs(rec),
            legal_name=name,
            display_name=rec.opt_text("entityId") or name,
            contacts=contacts,
            billing_address=billing,
            shipping_address=shipping,
            currency=_currency(rec) if rec.has("currency") else None,
            payment_terms=_terms(rec),
            status=status,
            website=rec.opt_text("url"),
            updated_at=rec.opt_timestamp("lastModifiedDate"),
        )


def _line(node: Node, currency: str) -> LineItem:
    rate = node.opt_decimal("rate")
    item = node.opt_child("item")
    return LineItem(
        line_id=node.opt_text("line"),
        product=entity_ref("netsuite", item.opt_text("id"), item.opt_text("refName"))
        if item
        else None,
        sku=item.opt_text("refName") if item else None,
        description=node.opt_text("description"),
        quantity=node.opt_decimal("quantity") or Decimal(1),
        unit_price=Money(amount=rate, currency=currency) if rate is not None else None,
        amount=Money(amount=node.decimal("amount"), currency=currency),
    )


def netsuite_invoice_to_canonical(record: dict[str, Any]) -> Invoice:
    """Map a NetSuite ``invoice`` record (with its ``item`` sublist expanded) to an Invoice.

    Raises:
        MappingError: Missing totals, an unknown status, or a sublist that was not expanded.
    """
    rec = Node(record)
    cur = _currency(rec)

    def money(key: str) -> Money:
        return Money(amount=abs(rec.opt_decimal(key) or Decimal(0)), currency=cur)

    status = rec.child("status").choice("refName", _INVOICE_STATUS) if rec.has("status") else "open"
    lines = []
    for node in _sublist(rec, "item"):
        with canonical_errors():
            lines.append(_line(node, cur))
    shipping = money("shippingCost") if rec.has("shippingCost") else None
    with canonical_errors():
        return Invoice(
            external_refs=_refs(rec),
            number=rec.opt_text("tranId"),
            customer=_reference(rec, "entity"),
            currency=cur,
            status=InvoiceStatus(status),
            lines=tuple(lines),
            subtotal=money("subtotal"),
            discount_total=money("discountTotal"),
            tax_total=money("taxTotal"),
            shipping_total=shipping,
            total=Money(amount=rec.decimal("total"), currency=cur),
            amount_paid=money("amountPaid"),
            amount_remaining=money("amountRemaining"),
            issued_on=rec.opt_date("tranDate"),
            due_date=rec.opt_date("dueDate"),
            memo=rec.opt_text("memo"),
        )


def netsuite_payment_to_canonical(record: dict[str, Any]) -> Payment:
    """Map a NetSuite ``customerPayment`` record (``apply`` sublist expanded) to a Payment.

    Raises:
        MappingError: Missing amount or customer, or an unexpanded sublist.
    """
    rec = Node(record)
    cur = _currency(rec)
    applied = tuple(
        PaymentApplication(
            invoice=EntityRef(
                external_refs=(ExternalRef(system="netsuite", id=a.child("doc").text("id")),),
                name=a.opt_text("refNum"),
            ),
            amount=Money(amount=a.decimal("amount"), currency=cur),
        )
        for a in _sublist(rec, "apply")
        if a.flag("apply")
    )
    method_ref = rec.opt_child("paymentOption") or rec.opt_child("paymentMethod")
    method_name = method_ref.opt_text("refName") if method_ref else None
    method = None
    if method_name is not None:
        kind = "card" if method_name.lower() in _CARD_BRANDS else "other"
        method = PaymentMethod(kind=kind, brand=method_name)
    status_ref = rec.opt_child("status")
    voided = status_ref is not None and (status_ref.opt_text("refName") or "").lower() == "voided"
    with canonical_errors():
        return Payment(
            external_refs=_refs(rec),
            number=rec.opt_text("tranId"),
            customer=_reference(rec, "customer"),
            currency=cur,
            amount=Money(amount=rec.decimal("payment"), currency=cur),
            status=PaymentStatus.CANCELED if voided else PaymentStatus.SUCCEEDED,
            method=method,
            received_at=rec.opt_timestamp("createdDate"),
            applied_to=applied,
            memo=rec.opt_text("memo"),
        )
