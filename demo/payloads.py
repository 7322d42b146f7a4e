"""The demo's triggers: vendor payloads made from real-shaped templates, one run id in every id.

Every business id (Opportunity, invoice, event, subscription, order) carries the run id, so a
second ``interlock demo`` starts new workflow instances instead of being recorded as duplicates of
the first. Everything here is pure: ``build_batch(run_id, now, ...)`` always builds the same bytes.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from demo.signing import Secrets, salesforce_headers, shopify_headers, stripe_headers

IN_STOCK_SKU = "SKU-1"  # seed_demo: 12 at WH-EAST + 3 at WH-WEST
OUT_OF_STOCK_SKU = "SKU-2"  # seed_demo: 0 at WH-EAST, its only warehouse
_RUN_BITS = 36  # 7 base-36 characters; small enough that numeric Shopify ids stay below 2**53
_COMPANIES = (
    "Acme Robotics",
    "Globex Logistics",
    "Initech Software",
    "Umbrella Health",
    "Stark Manufacturing",
    "Wayne Aerospace",
    "Hooli Cloud",
    "Soylent Foods",
)
_SEATS = (10, 25, 5, 40, 15, 8, 30, 12)
_SEAT_NET = 108  # the template's seat line: 120.00 list price, 10 % discount
_ONBOARDING = 2500
_MORE_SEATS = (2, 5, 1, 10)  # how many seats each amendment adds


@dataclass(frozen=True, slots=True)
class Scenario:
    workflow: str
    source: str  # POST /webhooks/{source}
    event: str  # what the vendor reports, for people


SCENARIOS = (
    Scenario("quote-to-cash", "salesforce", "Opportunity closed won"),
    Scenario("invoice-paid", "stripe", "invoice.paid"),
    Scenario("invoice-payment-failed", "stripe", "invoice.payment_failed"),
    Scenario("subscription-amendment", "stripe", "customer.subscription.updated"),
    Scenario("direct-commerce", "shopify", "orders/create"),
)
WORKFLOWS = tuple(s.workflow for s in SCENARIOS)
INVOICED = ("invoice-paid", "invoice-payment-failed")  # their invoices are Stripe's own records


@dataclass(frozen=True, slots=True)
class Trigger:
    """One signed webhook and what the demo expects of the instance it starts."""

    workflow: str
    source: str
    key: str  # the business key the workflow should give the instance
    label: str  # a line for people: who, what, how much
    body: bytes
    headers: dict[str, str] = field(hash=False)
    markers: tuple[str, ...] = ()  # every id in it, to find an instance keyed differently
    expect: str = "completed"  # or "parked": the out-of-stock order


@dataclass(frozen=True, slots=True)
class Batch:
    """How many triggers of each kind (the default is the demo's small batch)."""

    deals: int = 3
    paid: int = 2
    failed: int = 1
    amendments: int = 2
    orders: int = 3
    out_of_stock: int = 1  # the last ``out_of_stock`` orders ask for a SKU with no stock


def new_run_id() -> str:
    """Seven lowercase base-36 characters, random (not time-ordered: no clock in the ids)."""
    return _base36(secrets.randbits(_RUN_BITS)).rjust(7, "0")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


TEMPLATES = (
    "salesforce_opportunity_closed_won",
    "stripe_invoice_paid",
    "stripe_invoice_payment_failed",
    "stripe_subscription_updated",
    "shopify_orders_create",
)


@functools.cache
def _template_bytes(name: str) -> bytes:
    return (resources.files("demo") / "templates" / name).read_bytes()


def missing_templates() -> list[str]:
    """Templates that are not installed: a wheel built without package data for them."""
    folder = resources.files("demo") / "templates"
    return [name for name in TEMPLATES if not (folder / f"{name}.json").is_file()]


def template(name: str) -> dict[str, Any]:
    """A fresh copy of a payload template (``templates/<name>.json``)."""
    data: dict[str, Any] = orjson.loads(_template_bytes(f"{name}.json"))
    return data


def _sf_id(prefix: str, run_id: str, n: int) -> str:
    # 18 characters like a real record id: key prefix, "Dm" (demo), run id, sequence.
    return f"{prefix}Dm{run_id}{n:06d}"


def company(i: int) -> str:
    """The i-th demo customer's name (cycling through a few, numbered after the first round)."""
    name = _COMPANIES[i % len(_COMPANIES)]
    return f"{name}, Inc." if i < len(_COMPANIES) else f"{name} {i // len(_COMPANIES) + 1}, Inc."


def account_external_id(run_id: str, i: int) -> str:
    """The Account's ``Interlock_External_Id__c``: the deal's customer, new in every run."""
    return f"demo-{run_id}-account-{i}"


def opportunity(run_id: str, i: int, now: float, account_id: str | None = None) -> dict[str, Any]:
    """A closed-won Opportunity with its line items; Amount always equals the lines' total.

    ``account_id`` is the Account's record id in Salesforce (made up when None).
    """
    opp = template("salesforce_opportunity_closed_won")
    opp_id, account_id = _sf_id("006", run_id, i), account_id or _sf_id("001", run_id, i)
    seats, name = _SEATS[i % len(_SEATS)], company(i)
    amount = float(seats * _SEAT_NET + _ONBOARDING)
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    opp["attributes"]["url"] = f"/services/data/v62.0/sobjects/Opportunity/{opp_id}"
    opp.update(
        Id=opp_id,
        AccountId=account_id,
        Name=f"{name.removesuffix(', Inc.')} - Platform {today[:4]}",
        Amount=amount,
        ExpectedRevenue=amount,
        TotalOpportunityQuantity=float(seats + 1),
        CloseDate=today,
    )
    account = opp["Account"]
    account["attributes"]["url"] = f"/services/data/v62.0/sobjects/Account/{account_id}"
    account["Name"] = name
    account["Interlock_External_Id__c"] = account_external_id(run_id, i)
    for n, line in enumerate(opp["OpportunityLineItems"]["records"]):
        line["Id"] = _sf_id("00k", run_id, i * 10 + n)
        line["attributes"]["url"] = (
            f"/services/data/v62.0/sobjects/OpportunityLineItem/{line['Id']}"
        )
        line["OpportunityId"] = opp_id
    seat_line = opp["OpportunityLineItems"]["records"][0]
    seat_line.update(Quantity=float(seats), TotalPrice=float(seats * _SEAT_NET))
    return opp


def _stripe_id(prefix: str, run_id: str, tag: str, i: int) -> str:
    return f"{prefix}_1Dm{run_id}{tag}{i:03d}"


@dataclass(frozen=True, slots=True)
class Billing:
    """A won deal as Stripe knows it: the customer its invoices and amendments are for."""

    customer: str  # the Stripe customer id
    name: str
    subscription: dict[str, Any] | None = None  # GET /v1/subscriptions/{id}, when there is one


def invoice_event(run_id: str, i: int, now: float, paid: bool, billing: Billing) -> dict[str, Any]:
    """``invoice.paid`` or ``invoice.payment_failed``: a new invoice of ``billing``'s customer."""
    tag = "P" if paid else "F"
    event = template("stripe_invoice_paid" if paid else "stripe_invoice_payment_failed")
    invoice = event["data"]["object"]
    invoice_id = _stripe_id("in", run_id, tag, i)
    event["id"] = _stripe_id("evt", run_id, tag, i)
    event["created"] = int(now)
    invoice.update(
        id=invoice_id,
        number=f"{run_id.upper()}-{tag}{i + 1:03d}",
        customer=billing.customer,
        customer_name=billing.name,
    )
    subscription = (billing.subscription or {}).get("id")
    for line in invoice["lines"]["data"]:
        line["invoice"] = invoice_id
        details = (line.get("parent") or {}).get("subscription_item_details")
        if subscription and details:
            details["subscription"] = subscription
    invoice["lines"]["url"] = f"/v1/invoices/{invoice_id}/lines"
    return event


def subscription_event(run_id: str, i: int, now: float, billing: Billing) -> dict[str, Any]:
    """``customer.subscription.updated``: ``billing``'s subscription with more seats.

    The object is the template's, carrying the subscription's own id, customer, metadata (which
    names the deal) and first item, as Stripe would send it.
    """
    event = template("stripe_subscription_updated")
    sub = event["data"]["object"]
    current = billing.subscription or {}
    sub_id = str(current.get("id") or _stripe_id("sub", run_id, "S", i))
    items = (current.get("items") or {}).get("data") or [{}]
    item = items[0]
    old = int(item.get("quantity") or sub["quantity"])
    new = old + _MORE_SEATS[i % len(_MORE_SEATS)]
    event["id"] = _stripe_id("evt", run_id, "S", i)
    event["created"] = int(now)
    sub.update(id=sub_id, customer=billing.customer, quantity=new)
    if current.get("metadata"):
        sub["metadata"] = current["metadata"]
    sub["items"]["url"] = f"/v1/subscription_items?subscription={sub_id}"
    item_id = str(item.get("id") or f"si_Dm{run_id}{i:03d}")
    for changed, quantity in (
        (sub["items"]["data"][0], new),
        (event["data"]["previous_attributes"]["items"]["data"][0], old),
    ):
        changed.update(id=item_id, subscription=sub_id, quantity=quantity)
        if isinstance(item.get("price"), dict):
            changed["price"] = {**changed["price"], **item["price"]}
    event["data"]["previous_attributes"]["quantity"] = old
    return event


def _shopify_ids(run_id: str, i: int) -> tuple[int, int, int]:
    # Below 2**53, so no JSON reader rounds them; distinct per run and per order.
    run = int(run_id, 36)
    return 10**15 + run * 1000 + i, 2 * 10**15 + run * 1000 + i, 3 * 10**15 + run * 10_000 + i * 10


def order(run_id: str, i: int, now: float, sku: str) -> dict[str, Any]:
    """``orders/create`` whose headline (first) line is ``sku``: the line stock is checked for."""
    data = template("shopify_orders_create")
    order_id, customer_id, line_base = _shopify_ids(run_id, i)
    number = 1001 + (int(run_id, 36) % 8000) * 10 + i
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    data.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#{number}",
        number=number - 1000,
        order_number=number,
        order_status_url=f"https://demo-shop.example/548380009/orders/{order_id}/authenticate",
        created_at=stamp,
        processed_at=stamp,
        updated_at=stamp,
    )
    customer = data["customer"]
    customer.update(id=customer_id, admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}")
    customer["default_address"]["customer_id"] = customer_id
    for n, line in enumerate(data["line_items"]):
        line["id"] = line_base + n
        line["admin_graphql_api_id"] = f"gid://shopify/LineItem/{line_base + n}"
    headline = data["line_items"][0]
    headline.update(sku=sku, name=f"Demo widget ({sku})", title="Demo widget")
    return data


def _dump(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def deal_triggers(
    run_id: str,
    now: float,
    batch: Batch,
    signing: Secrets,
    accounts: Sequence[str | None] = (),
) -> list[Trigger]:
    """The closed-won deals; ``accounts[i]`` is deal i's Account id in Salesforce."""
    triggers = []
    for i in range(batch.deals):
        account = accounts[i] if i < len(accounts) else None
        opp = opportunity(run_id, i, now, account)
        body = _dump(opp)
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"interlock-demo/{run_id}/opp/{i}"))
        amount = f"{opp['Amount']:,.2f} {opp['CurrencyIsoCode']}"
        triggers.append(
            Trigger(
                "quote-to-cash",
                "salesforce",
                key=opp["Id"],
                label=f"{opp['Account']['Name']}: {amount}",
                body=body,
                headers=salesforce_headers(body, signing.salesforce, int(now), event_id),
                markers=(opp["Id"], event_id, opp["AccountId"]),
            )
        )
    return triggers


def order_triggers(run_id: str, now: float, batch: Batch, signing: Secrets) -> list[Trigger]:
    """The web orders; the last ``batch.out_of_stock`` of them ask for a SKU with no stock."""
    triggers = []
    for i in range(batch.orders):
        short = i >= batch.orders - batch.out_of_stock
        data = order(run_id, i, now, OUT_OF_STOCK_SKU if short else IN_STOCK_SKU)
        body = _dump(data)
        hook_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"interlock-demo/{run_id}/order/{i}"))
        sku = data["line_items"][0]["sku"]
        triggers.append(
            Trigger(
                "direct-commerce",
                "shopify",
                key=str(data["id"]),
                label=f"{data['name']}: {sku}{' (out of stock)' if short else ''}",
                body=body,
                headers=shopify_headers(body, signing.shopify, "orders/create", hook_id),
                markers=(str(data["id"]), hook_id),
                expect="parked" if short else "completed",
            )
        )
    return triggers


def billing_triggers(
    run_id: str, now: float, batch: Batch, signing: Secrets, billings: Sequence[Billing]
) -> list[Trigger]:
    """Invoices (paid, then failed) and amendments, spread over the deals' customers in turn."""
    if not billings:
        return []
    triggers = []
    kinds = [(True, i) for i in range(batch.paid)] + [(False, i) for i in range(batch.failed)]
    for n, (paid, i) in enumerate(kinds):
        event = invoice_event(run_id, i, now, paid, billings[n % len(billings)])
        inv, body = event["data"]["object"], _dump(event)
        amount = inv["amount_paid" if paid else "amount_due"] / 100
        triggers.append(
            Trigger(
                "invoice-paid" if paid else "invoice-payment-failed",
                "stripe",
                key=inv["id"] if paid else event["id"],
                label=f"{inv['customer_name']}: {amount:,.2f} {inv['currency'].upper()}",
                body=body,
                headers=stripe_headers(body, signing.stripe, int(now)),
                markers=(event["id"], inv["id"], inv["customer"]),
            )
        )
    for i in range(batch.amendments):
        event = subscription_event(run_id, i, now, billings[i % len(billings)])
        sub, body = event["data"]["object"], _dump(event)
        old = event["data"]["previous_attributes"]["quantity"]
        triggers.append(
            Trigger(
                "subscription-amendment",
                "stripe",
                key=event["id"],
                label=f"{sub['id']}: {old} -> {sub['quantity']} seats",
                body=body,
                headers=stripe_headers(body, signing.stripe, int(now)),
                markers=(event["id"], sub["id"], sub["customer"]),
            )
        )
    return triggers


def build_batch(
    run_id: str,
    now: float,
    batch: Batch | None = None,
    signing: Secrets | None = None,
) -> list[Trigger]:
    """Every trigger of one run, in scenario order, with made-up Salesforce and Stripe ids.

    ``interlock demo`` builds the same triggers in two phases with the vendors' real ids (see
    :mod:`demo.cli`); this one-shot form is for tests and for reading.
    """
    batch, signing = batch or Batch(), signing or Secrets()
    billings = [
        Billing(_stripe_id("cus", run_id, "C", i), company(i)) for i in range(max(1, batch.deals))
    ]
    triggers = [
        *deal_triggers(run_id, now, batch, signing),
        *billing_triggers(run_id, now, batch, signing, billings),
        *order_triggers(run_id, now, batch, signing),
    ]
    return sorted(triggers, key=lambda t: WORKFLOWS.index(t.workflow))
