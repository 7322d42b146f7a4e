"""Salesforce <-> canonical models.

Inbound functions accept a record as the REST API returns it (``GET /sobjects/Account/{id}``, or a
SOQL row with an ``OpportunityLineItems`` sub-query) and, for Account and Contact, a Change Data
Capture event (``{"schema", "payload": {"ChangeEventHeader": ...}, "event": {"replayId"}}``, bare
or inside a CometD ``{"channel", "data"}`` envelope). Only CDC ``CREATE`` events carry a whole
record; an ``UPDATE`` lists changed fields only, so it is refused with a MappingError that says so.

Outbound functions build records for the sObject Collections upsert,
``PATCH /composite/sobjects/<Type>/Interlock_External_Id__c``: each record carries
``attributes.type`` and its own external-id value, and parents are linked by *their* external id.
Countries must be ISO codes (State and Country/Territory Picklists expose ``BillingCountryCode``).
:func:`salesforce_billing_status_from_invoice` is the exception: it upserts one Account by
``Stripe_Customer_Id__c`` (single-record ``upsert_by_external_id``), since an invoice knows only
the Stripe customer.

:func:`salesforce_customer_from_order` derives one canonical model from another (the buying
account of a won opportunity), for workflows that create that account in other systems first.
"""

from __future__ import annotations

from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import entity_ref, external_key, make_address, parse_external_key
from canonical.mappings._read import Node, canonical_errors
from canonical.models import (
    Address,
    Contact,
    Customer,
    CustomerStatus,
    Discount,
    ExternalRef,
    Invoice,
    InvoiceStatus,
    LineItem,
    Order,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from canonical.money import Money, money_sum

EXTERNAL_ID_FIELD = "Interlock_External_Id__c"
STRIPE_CUSTOMER_FIELD = "Stripe_Customer_Id__c"


def _record(payload: dict[str, Any], sobject: str) -> Node:
    """The record, whether REST JSON or a CDC CREATE event (bare or CometD-wrapped)."""
    root = Node(payload)
    if "data" in root.data and "channel" in root.data:
        root = root.child("data")
    if "payload" not in root.data:
        kind = root.child("attributes").opt_text("type") if root.has("attributes") else None
        if kind is not None and kind != sobject:
            raise root.child("attributes").error("type", f"expected {sobject}, got {kind}")
        return root
    body = root.child("payload")
    header = body.child("ChangeEventHeader")
    if header.opt_text("entityName") != sobject:
        raise header.error("entityName", f"expected {sobject}, got {header.opt_text('entityName')}")
    if header.text("changeType") != "CREATE":
        raise header.error(
            "changeType",
            f"{header.text('changeType')} events carry changed fields only; "
            "fetch the record over REST and map that",
        )
    ids = header.strings("recordIds")
    if len(ids) != 1:
        raise header.error("recordIds", "expected exactly one record id")
    return Node({**body.data, "Id": ids[0]}, body.path)


def _refs(rec: Node) -> tuple[ExternalRef, ...]:
    own = ExternalRef(system="salesforce", id=rec.text("Id"))
    origin = parse_external_key(rec.opt_text(EXTERNAL_ID_FIELD))
    return (own,) if origin is None or origin.system == "salesforce" else (own, origin)


def _address(rec: Node, prefix: str) -> Address | None:
    """Read ``<prefix>Street`` ... fields, or the compound ``<prefix>Address`` object of CDC."""
    compound = rec.opt_child(f"{prefix}Address")
    src, p = (compound, "") if compound is not None else (rec, prefix)
    street = (src.opt_text(f"{p}Street") or "").split("\n", 1)
    country = src.opt_text(f"{p}CountryCode") or src.opt_text(f"{p}Country")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise src.error(f"{p}Country", f"{country!r} is not an ISO 3166 code; send {p}CountryCode")
    return make_address(
        line1=street[0] or None,
        line2=street[1].strip() if len(street) > 1 else None,
        city=src.opt_text(f"{p}City"),
        region=src.opt_text(f"{p}StateCode") or src.opt_text(f"{p}State"),
        postal_code=src.opt_text(f"{p}PostalCode"),
        country=country,
    )


def salesforce_account_to_canonical(payload: dict[str, Any]) -> Customer:
    """Map an Account (REST record or CDC CREATE event) to a Customer.

    Raises:
        MappingError: A CDC UPDATE, another sObject, or a country that is not an ISO code.
    """
    rec = _record(payload, "Account")
    name = rec.text("Name")
    status = (
        CustomerStatus.PROSPECT if rec.opt_text("Type") == "Prospect" else CustomerStatus.ACTIVE
    )
    with canonical_errors():
        return Customer(
            external_refs=_refs(rec),
            legal_name=name,
            display_name=name,
            billing_address=_address(rec, "Billing"),
            shipping_address=_address(rec, "Shipping"),
            currency=rec.opt_text("CurrencyIsoCode"),
            status=status,
            website=rec.opt_text("Website"),
            updated_at=rec.opt_timestamp("LastModifiedDate"),
        )


def salesforce_contact_to_canonical(payload: dict[str, Any]) -> Contact:
    """Map a Contact (REST record or CDC CREATE event) to a Contact.

    Raises:
        MappingError: A CDC UPDATE, another sObject, or no last name.
    """
    rec = _record(payload, "Contact")
    compound = rec.opt_child("Name") if isinstance(rec.raw("Name"), dict) else None
    src = compound or rec
    first, last = src.opt_text("FirstName"), src.text("LastName")
    full = rec.opt_text("Name") if compound is None else None
    with canonical_errors():
        return Contact(
            external_refs=_refs(rec),
            name=full or " ".join(filter(None, (first, last))),
            first_name=first,
            last_name=last,
            email=rec.opt_text("Email"),
            phone=rec.opt_text("Phone") or rec.opt_text("MobilePhone"),
            title=rec.opt_text("Title"),
            account=entity_ref("salesforce", rec.opt_text("AccountId")),
            mailing_address=_address(rec, "Mailing"),
        )


def _opportunity_line(node: Node, currency: str) -> LineItem:
    quantity = node.decimal("Quantity")
    unit = Money(amount=node.decimal("UnitPrice"), currency=currency)
    product = node.opt_child("Product2")
    percent = node.opt_decimal("Discount")
    return LineItem(
        line_id=node.text("Id"),
        product=entity_ref("salesforce", node.opt_text("Product2Id"), node.opt_text("Name")),
        sku=node.opt_text("ProductCode") or (product.opt_text("ProductCode") if product else None),
        description=node.opt_text("Description") or node.opt_text("Name"),
        quantity=quantity,
        unit_price=unit,
        amount=unit * quantity,
        discounts=(Discount(percent=percent),) if percent else (),
    )


def salesforce_opportunity_to_canonical(payload: dict[str, Any]) -> Order:
    """Map a closed-won Opportunity with its ``OpportunityLineItems`` to a confirmed Order.

    Raises:
        MappingError: The opportunity is not won, has no currency (single-currency orgs must add
            ``CurrencyIsoCode`` via a formula), has no lines, or its Amount disagrees with them.
    """
    rec = _record(payload, "Opportunity")
    if not rec.flag("IsWon") or rec.opt_text("StageName") != "Closed Won":
        raise rec.error("StageName", f"{rec.opt_text('StageName')!r} is not Closed Won")
    cur = rec.text("CurrencyIsoCode").upper()
    sub = rec.child("OpportunityLineItems")
    if not sub.flag("done", default=True):
        raise sub.error("done", "line items are paginated; fetch nextRecordsUrl first")
    lines = []
    for node in sub.children("records"):
        with canonical_errors():
            lines.append(_opportunity_line(node, cur))
    if not lines:
        raise sub.error("records", "a closed-won opportunity needs line items")
    subtotal = money_sum((line.amount for line in lines), cur)
    net = money_sum(
        (Money(amount=n.decimal("TotalPrice"), currency=cur) for n in sub.children("records")), cur
    )
    account = rec.opt_child("Account")
    with canonical_errors():
        return Order(
            external_refs=_refs(rec),
            number=rec.opt_text("Name"),
            customer=entity_ref(
                "salesforce",
                rec.opt_text("AccountId"),
                account.opt_text("Name") if account else None,
            ),
            currency=cur,
            status=OrderStatus.CONFIRMED,
            lines=tuple(lines),
            subtotal=subtotal,
            discount_total=subtotal - net,
            tax_total=Money.zero(cur),
            total=Money(amount=rec.decimal("Amount"), currency=cur),
            order_date=rec.date("CloseDate"),
            opportunity=entity_ref("salesforce", rec.text("Id"), rec.opt_text("Name")),
            memo=rec.opt_text("Description"),
        )


# -- outbound --------------------------------------------------------------------------------


def _street(address: Address) -> str | None:
    return "\n".join(filter(None, (address.line1, address.line2))) or None


def _address_fields(prefix: str, address: Address) -> dict[str, Any]:
    fields = {
        f"{prefix}Street": _street(address),
        f"{prefix}City": address.city,
        f"{prefix}StateCode": address.region,
        f"{prefix}PostalCode": address.postal_code,
        f"{prefix}CountryCode": address.country,
    }
    return {k: v for k, v in fields.items() if v is not None}


def salesforce_account_from_customer(customer: Customer) -> dict[str, Any]:
    """An Account record for the sObject Collections upsert by ``Interlock_External_Id__c``.

    Raises:
        MappingError: The customer has no external refs to key on.
    """
    record: dict[str, Any] = {
        "attributes": {"type": "Account"},
        EXTERNAL_ID_FIELD: external_key(customer, "customer"),
        "Name": customer.legal_name,
    }
    if customer.website:
        record["Website"] = customer.website
    contact = customer.primary_contact
    if contact is not None and contact.phone:
        record["Phone"] = contact.phone
    if customer.billing_address is not None:
        record |= _address_fields("Billing", customer.billing_address)
    if customer.shipping_address is not None:
        record |= _address_fields("Shipping", customer.shipping_address)
    if customer.status is CustomerStatus.PROSPECT:
        record["Type"] = "Prospect"
    return record


def salesforce_opportunity_from_order(order: Order) -> dict[str, Any]:
    """An Opportunity update for the sObject Collections upsert by ``Interlock_External_Id__c``.

    A confirmed (or later) order closes the opportunity as won; a canceled one as lost.

    Raises:
        MappingError: No customer, no key, or no date to close on.
    """
    if order.customer is None:
        raise MappingError("customer", "an opportunity needs an account")
    day = order.order_date or (order.ordered_at.date() if order.ordered_at else None)
    if day is None:
        raise MappingError("order_date", "an opportunity needs a close date")
    stage = "Closed Lost" if order.status is OrderStatus.CANCELED else "Closed Won"
    if order.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED):
        stage = "Negotiation/Review"
    record: dict[str, Any] = {
        "attributes": {"type": "Opportunity"},
        EXTERNAL_ID_FIELD: external_key(order, "order"),
        "Name": order.number or external_key(order, "order"),
        "StageName": stage,
        "CloseDate": day.isoformat(),
        "Amount": float(order.total.amount),
        "CurrencyIsoCode": order.currency,
        "Account": {EXTERNAL_ID_FIELD: external_key(order.customer, "customer")},
    }
    if order.memo:
        record["Description"] = order.memo
    return record


def salesforce_customer_from_order(order: Order) -> Customer:
    """The buying Account of a won opportunity (an Order from the opportunity mapping).

    A won deal has to exist as a customer in ERP, billing and support before its order can be
    booked there, and the opportunity is the only message the workflow has. It carries the
    account's id and name and nothing more, so that is what the Customer holds: both names from
    the account name, the Salesforce account id as the origin ref (every target keys the customer
    ``salesforce-<account id>``, the same for every opportunity of that account, so a second deal
    or a retried step upserts the same record), the order's currency and its billing address when
    it has one.

    Raises:
        MappingError: The order has no buyer, the buyer has no Salesforce id, or no name (the
            opportunity query must select ``Account.Name``).
    """
    buyer = order.customer
    if buyer is None:
        raise MappingError("customer", "the order names no buying account")
    account = buyer.ref("salesforce")
    if account is None:
        raise MappingError("customer.external_refs", "the buyer has no salesforce account id")
    if not buyer.name:
        raise MappingError("customer.name", "the buying account has no name; select Account.Name")
    others = tuple(r for r in buyer.external_refs if r.system != "salesforce")
    with canonical_errors():
        return Customer(
            external_refs=(ExternalRef(system="salesforce", id=account), *others),
            legal_name=buyer.name,
            display_name=buyer.name,
            billing_address=order.billing_address,
            currency=order.currency,
            status=CustomerStatus.ACTIVE,
        )


def _billing_status(invoice: Invoice) -> str:
    if invoice.status is InvoiceStatus.PAID:
        return "Paid"
    if invoice.status is InvoiceStatus.OPEN:
        failed = invoice.attempt_count > 0 and invoice.amount_remaining.amount > 0
        return "Past Due" if failed else "Open"
    if invoice.status is InvoiceStatus.UNCOLLECTIBLE:
        return "Uncollectible"
    if invoice.status is InvoiceStatus.VOID:
        return "Void"
    raise MappingError("status", "a draft invoice says nothing about the billing status")


def _amount(value: Money) -> float | int:
    return (
        int(value.amount)
        if value.amount == value.amount.to_integral_value()
        else float(value.amount)
    )


def salesforce_billing_status_from_invoice(invoice: Invoice) -> dict[str, Any]:
    """The Account's billing status after an invoice event, for ``upsert_by_external_id``.

    Account managers work in Salesforce, so they should see there that a customer has paid or
    fallen behind. The invoice knows only the Stripe customer, so the Account is found by its
    ``Stripe_Customer_Id__c`` external-id field (named in ``attributes``, where the connector reads
    the sObject type and the key field and leaves them out of the body). ``Billing_Status__c`` is
    ``Paid``; ``Past Due`` for an open invoice after a failed collection attempt (Stripe's
    ``invoice.payment_failed`` leaves the invoice ``open``); ``Open`` before any attempt;
    ``Uncollectible`` or ``Void``. No ``Name`` is sent on purpose: an invoice for a customer no
    Account is linked to must fail (Salesforce: required field missing) rather than create a
    duplicate Account.

    Raises:
        MappingError: No Stripe customer on the invoice, or a draft invoice.
    """
    customer = invoice.customer.ref("stripe") if invoice.customer else None
    if customer is None:
        raise MappingError("customer.external_refs", "the invoice has no stripe customer id")
    return {
        "attributes": {"type": "Account", "externalIdField": STRIPE_CUSTOMER_FIELD},
        STRIPE_CUSTOMER_FIELD: customer,
        "Billing_Status__c": _billing_status(invoice),
        "Last_Invoice_Number__c": invoice.number or external_key(invoice, "invoice"),
        "Last_Invoice_Amount__c": _amount(invoice.total),
    }


_SUBSCRIPTION_STATUS_LABEL = {
    SubscriptionStatus.TRIALING: "Trialing",
    SubscriptionStatus.ACTIVE: "Active",
    SubscriptionStatus.PAST_DUE: "Past Due",
    SubscriptionStatus.UNPAID: "Unpaid",
    SubscriptionStatus.PAUSED: "Paused",
    SubscriptionStatus.INCOMPLETE: "Incomplete",
    SubscriptionStatus.CANCELED: "Canceled",
    SubscriptionStatus.INCOMPLETE_EXPIRED: "Canceled",
}


def salesforce_subscription_status_from_subscription(subscription: Subscription) -> dict[str, Any]:
    """The Account's subscription status and seats after a change in billing, for
    ``upsert_by_external_id``.

    An account manager must see in the CRM what the customer now pays for: 12 seats after an
    amendment, ``Canceled`` and 0 seats after a cancellation. The Account is found by its
    ``Stripe_Customer_Id__c`` external id (set by quote-to-cash); no ``Name`` is sent, so a
    subscription of a customer no Account is linked to fails rather than creating an Account.

    Raises:
        MappingError: The subscription has no Stripe customer.
    """
    customer = subscription.customer.ref("stripe")
    if customer is None:
        raise MappingError("customer.external_refs", "the subscription has no stripe customer id")
    ended = subscription.status in (
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.INCOMPLETE_EXPIRED,
    )
    seats = 0 if ended else sum(item.quantity for item in subscription.items)
    return {
        "attributes": {"type": "Account", "externalIdField": STRIPE_CUSTOMER_FIELD},
        STRIPE_CUSTOMER_FIELD: customer,
        "Subscription_Status__c": _SUBSCRIPTION_STATUS_LABEL[subscription.status],
        "Subscription_Seats__c": seats,
        "Subscription_Id__c": subscription.ref("stripe"),
    }
