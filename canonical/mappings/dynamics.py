"""Canonical models -> Dynamics 365 (Dataverse) Web API bodies, upserted by alternate key.

Each body carries its own alternate-key column, ``ilk_externalid`` (a custom column the Interlock
solution adds to ``account``, ``salesorder`` and ``invoice`` and declares as an alternate key). The
connector upserts with ``PATCH /api/data/v9.2/<entityset>(ilk_externalid='<value>')``; redelivery
updates the same row. Related rows are bound through *their* alternate keys with ``@odata.bind``:
accounts by ``ilk_externalid``, currencies by ``isocurrencycode`` and products by
``productnumber`` (both declared as alternate keys in the environment). Lines are deep-inserted
through the ``order_details`` / ``invoice_details`` collection-valued navigation properties.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import external_key
from canonical.models import Address, Customer, CustomerStatus, Invoice, Order, PricedDocument

KEY_COLUMN = "ilk_externalid"
ENTITY_SETS = {"account": "accounts", "salesorder": "salesorders", "invoice": "invoices"}
_PAYMENT_TERMS = {30: 1, 45: 3, 60: 4}
"""Default ``paymenttermscode`` options: 1 Net 30, 2 2% 10 Net 30, 3 Net 45, 4 Net 60."""


def _quote(value: str) -> str:
    return value.replace("'", "''")  # OData string literals double their single quotes


def _bind(entity_set: str, column: str, value: str) -> str:
    return f"/{entity_set}({column}='{_quote(value)}')"


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _address(prefix: str, address: Address) -> dict[str, Any]:
    fields = {
        "name": address.recipient,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "stateorprovince": address.region,
        "postalcode": address.postal_code,
        "country": address.country,
    }
    return {f"{prefix}{k}": v for k, v in fields.items() if v is not None}


def dynamics_account_from_customer(customer: Customer) -> dict[str, Any]:
    """Body for ``PATCH accounts(ilk_externalid='...')``.

    Raises:
        MappingError: The customer has no external refs to key on.
    """
    body: dict[str, Any] = {
        KEY_COLUMN: external_key(customer, "customer"),
        "name": customer.legal_name,
        "creditonhold": customer.status is CustomerStatus.ON_HOLD,
    }
    contact = customer.primary_contact
    if contact is not None:
        body |= {
            k: v for k, v in (("emailaddress1", contact.email), ("telephone1", contact.phone)) if v
        }
    if customer.website:
        body["websiteurl"] = customer.website
    if customer.billing_address is not None:
        body |= _address("address1_", customer.billing_address)
    if customer.shipping_address is not None:
        body |= _address("address2_", customer.shipping_address)
    if customer.currency:
        body["transactioncurrencyid@odata.bind"] = _bind(
            "transactioncurrencies", "isocurrencycode", customer.currency
        )
    terms = customer.payment_terms
    if terms is not None and terms.kind == "net" and terms.days in _PAYMENT_TERMS:
        body["paymenttermscode"] = _PAYMENT_TERMS[terms.days]
    if customer.status is CustomerStatus.INACTIVE:
        body |= {"statecode": 1, "statuscode": 2}
    return body


def _document(doc: PricedDocument, path: str, lines_key: str) -> dict[str, Any]:
    if doc.customer is None:
        raise MappingError(f"{path}.customer", "a Dynamics document needs a customer account")
    body: dict[str, Any] = {
        KEY_COLUMN: external_key(doc, path),
        "name": f"{path.capitalize()} {doc.number}" if doc.number else external_key(doc, path),
        "customerid_account@odata.bind": _bind(
            "accounts", KEY_COLUMN, external_key(doc.customer, f"{path}.customer")
        ),
        "transactioncurrencyid@odata.bind": _bind(
            "transactioncurrencies", "isocurrencycode", doc.currency
        ),
        "discountamount": _num(doc.discount_total.amount),
    }
    if doc.memo:
        body["description"] = doc.memo
    if doc.shipping_total is not None:
        body["freightamount"] = _num(doc.shipping_total.amount)
    details = []
    for i, line in enumerate(doc.lines):
        detail: dict[str, Any] = {
            "lineitemnumber": i + 1,
            "quantity": _num(line.quantity),
            "ispriceoverridden": True,
            "priceperunit": _num(
                line.unit_price.amount
                if line.unit_price is not None
                else line.amount.amount / (line.quantity or 1)
            ),
            "manualdiscountamount": _num(line.discount_total.amount),
            "tax": _num(line.tax_total.amount),
        }
        if line.sku:
            detail["productid@odata.bind"] = _bind("products", "productnumber", line.sku)
        else:
            detail["isproductoverridden"] = True
            detail["productdescription"] = line.description or f"Line {i + 1}"
        details.append(detail)
    body[lines_key] = details
    return body


def dynamics_sales_order_from_order(order: Order) -> dict[str, Any]:
    """Body for ``PATCH salesorders(ilk_externalid='...')`` with deep-inserted ``order_details``.

    Raises:
        MappingError: No customer or no key.
    """
    body = _document(order, "order", "order_details")
    if order.order_date:
        body["submitdate"] = order.order_date.isoformat()
    if order.shipping_address is not None:
        body |= _address("shipto_", order.shipping_address)
    if order.billing_address is not None:
        body |= _address("billto_", order.billing_address)
    return body


def dynamics_invoice_from_invoice(invoice: Invoice) -> dict[str, Any]:
    """Body for ``PATCH invoices(ilk_externalid='...')`` with deep-inserted ``invoice_details``.

    Raises:
        MappingError: No customer or no key.
    """
    body = _document(invoice, "invoice", "invoice_details")
    if invoice.number:
        body["invoicenumber"] = invoice.number
    if invoice.due_date:
        body["duedate"] = invoice.due_date.isoformat()
    if invoice.order is not None:
        body["salesorderid@odata.bind"] = _bind(
            "salesorders", KEY_COLUMN, external_key(invoice.order, "invoice.order")
        )
    return body
