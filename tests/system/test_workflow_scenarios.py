"""The four seed scenarios, end to end: signed webhook in, every effect read back from the
simulators' own state, with the links (external ids, internal ids) between the systems.

The router runs the shipped ``routes/`` folder unchanged; only the connector URLs point at
simulators on ephemeral loopback ports (the ``${..._URL}`` placeholders of connectors.yaml).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from router import Engine, Settings, load_config
from router.http.ingress import create_app
from router.workflows.state import State, StepStatus, UndoStatus
from simulators.cli import seed_demo
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc

Client = TestClient[web.Request, web.Application]
Router = tuple[Engine, Client]


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        running.call(lambda: seed_demo(running.set))
        yield running


@pytest.fixture
def reset(sims: SimulatorThread) -> SimulatorThread:
    for name in sims.set.names:
        sims.reset(name)
    sims.call(lambda: seed_demo(sims.set))
    return sims


@pytest.fixture
async def router(tmp_path: Any, reset: SimulatorThread) -> AsyncIterator[Router]:
    config = load_config(sc.ROOT / "routes", env=sc.simulator_env(reset))
    engine = Engine(config, Settings(data_dir=tmp_path / "data", demo=True))
    await engine.start()
    client: Client = TestClient(TestServer(create_app(engine)))
    await client.start_server()
    yield engine, client
    await client.close()
    await engine.stop()


Post = Callable[[str, bytes, dict[str, str]], Awaitable[None]]


def _poster(client: Client) -> Post:
    async def post(source: str, body: bytes, headers: dict[str, str]) -> None:
        response = await client.post(f"/webhooks/{source}", data=body, headers=headers)
        assert response.status == 202, await response.text()

    return post


def _why(instance: Any) -> Any:
    return instance.reason, [(s.id, s.status.value, s.error) for s in instance.steps]


def _one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


async def test_quote_to_cash_creates_each_record_once_and_links_them(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    opp = sc.opportunity(1)
    sc.seed_account(reset, opp["AccountId"])
    body = sc.dumps(opp)
    await _poster(client)("salesforce", body, sc.salesforce_headers(body, "evt-q2c-1"))
    instance = await sc.settled(engine, "quote-to-cash", opp["Id"])
    assert instance.state is State.COMPLETED, _why(instance)
    assert [s.status for s in instance.steps] == [StepStatus.SUCCEEDED] * 4
    account = opp["AccountId"]
    onboarding = await sc.settled(engine, "customer-onboarding", account)
    assert onboarding.state is State.COMPLETED, _why(onboarding)
    assert instance.step("onboarding").child == onboarding.id
    assert onboarding.parents == [f"{instance.id}/onboarding"]

    customers = sc.records(reset, "netsuite", "customer")
    customer = _one(customers, external_id=f"salesforce-{account}")
    assert customer["id"] == instance.step("onboarding").output["erp_customer"]
    assert customer["data"]["companyName"] == opp["Account"]["Name"]
    order = _one(sc.records(reset, "netsuite", "salesOrder"), external_id=f"salesforce-{opp['Id']}")
    assert order["data"]["entity"] == {"id": customer["id"]}  # linked by internal id
    assert order["id"] == instance.step("sales_order").output["id"]

    stripe_customer = _one(sc.records(reset, "stripe", "customer"))
    assert stripe_customer["data"]["metadata"]["netsuite_customer_id"] == customer["id"]
    assert stripe_customer["id"] == instance.step("onboarding").output["billing_customer"]
    subscription = _one(sc.records(reset, "stripe", "subscription"))
    assert subscription["data"]["customer"] == stripe_customer["id"]
    assert subscription["data"]["status"] == "active"
    assert subscription["data"]["metadata"]["netsuite_sales_order_id"] == order["id"]

    entitlement = _one(sc.records(reset, "webhook", "entitlements"))
    assert entitlement["data"]["body"]["external_id"] == f"salesforce-{opp['Id']}"
    assert entitlement["data"]["body"]["subscription"] == subscription["id"]
    assert entitlement["data"]["body"]["erp_customer"] == customer["id"]

    org = _one(sc.records(reset, "zendesk", "organization"))
    assert org["external_id"] == f"salesforce-{account}"
    assert org["id"] == str(onboarding.step("support_org").output["id"])
    crm = _one(sc.records(reset, "salesforce", "Account"))["data"]
    assert crm["Stripe_Customer_Id__c"] == stripe_customer["id"]
    assert crm["NetSuite_Customer_Id__c"] == customer["id"]
    assert str(crm["Zendesk_Organization_Id__c"]) == org["id"]
    onboarded = _one(sc.records(reset, "webhook", "onboarded"))["data"]["body"]
    assert onboarded["account"] == account and onboarded["stripe_customer"] == stripe_customer["id"]
    assert instance.sla_seconds is not None


async def test_onboarding_creates_each_record_once_when_run_twice_and_then_by_a_deal(
    router: Router, reset: SimulatorThread
) -> None:
    """The account turns customer (twice: a Flow re-fires), then wins a deal: one onboarding."""
    engine, client = router
    opp = sc.opportunity(5)
    account_id = opp["AccountId"]
    sc.seed_account(reset, account_id)
    account = sc.fixture("salesforce/account_rest.json")
    account.update(Id=account_id, Name=opp["Account"]["Name"], Type="Customer - Direct")
    body = sc.dumps(account)
    post = _poster(client)
    await post("salesforce", body, sc.salesforce_headers(body, "evt-onb-5a"))
    await post("salesforce", body, sc.salesforce_headers(body, "evt-onb-5b"))  # a new event id
    onboarding = await sc.settled(engine, "customer-onboarding", account_id)
    assert onboarding.state is State.COMPLETED, _why(onboarding)
    assert len(onboarding.duplicates) == 1

    deal = sc.dumps(opp)
    await post("salesforce", deal, sc.salesforce_headers(deal, "evt-onb-5-deal"))
    instance = await sc.settled(engine, "quote-to-cash", opp["Id"])
    assert instance.state is State.COMPLETED, _why(instance)
    assert instance.step("onboarding").child == onboarding.id
    assert any(e.event == "child_linked" for e in instance.events)
    assert engine.workflows is not None
    assert len(await engine.workflows.query(workflow="customer-onboarding")) == 1
    customer = _one(sc.records(reset, "netsuite", "customer"))
    assert customer["external_id"] == f"salesforce-{account_id}"
    stripe_customer = _one(sc.records(reset, "stripe", "customer"))
    assert (
        _one(sc.records(reset, "zendesk", "organization"))["external_id"] == customer["external_id"]
    )
    assert len(sc.records(reset, "webhook", "onboarded")) == 1
    crm = _one(sc.records(reset, "salesforce", "Account"))["data"]
    assert crm["Stripe_Customer_Id__c"] == stripe_customer["id"]
    order = _one(sc.records(reset, "netsuite", "salesOrder"))
    assert order["data"]["entity"] == {"id": customer["id"]}


async def test_quote_to_cash_permanent_failure_at_the_entitlement_compensates_in_reverse(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    opp = sc.opportunity(2)
    sc.seed_account(reset, opp["AccountId"])
    webhook = reset.set.simulator("webhook")
    reset.call(lambda: webhook.set_faults({"broken": [f"salesforce-{opp['Id']}"]}))
    body = sc.dumps(opp)
    await _poster(client)("salesforce", body, sc.salesforce_headers(body, "evt-q2c-2"))
    instance = await sc.settled(engine, "quote-to-cash", opp["Id"], notified=True)

    assert instance.state is State.COMPENSATED
    assert instance.failed_step == "entitlement"
    assert "422" in (instance.reason or "")
    undo = {s.id: s.undo for s in instance.steps}
    assert undo == {
        # flagged: the customer is master data, onboarded once for every deal of the account
        "onboarding": UndoStatus.NOT_COMPENSABLE,
        "sales_order": UndoStatus.DONE,
        "subscription": UndoStatus.DONE,
        "entitlement": UndoStatus.NONE,  # it failed: nothing to undo
    }
    order = [e.step for e in instance.events if e.event == "step_compensated"]
    assert order == ["subscription", "sales_order"]  # reverse order
    assert _one(sc.records(reset, "stripe", "subscription"))["data"]["status"] == "canceled"
    ns_order = _one(sc.records(reset, "netsuite", "salesOrder"))
    assert ns_order["data"]["orderStatus"] == {"id": "H"}
    customer = _one(sc.records(reset, "netsuite", "customer"))["data"]
    assert not customer.get("isInactive")  # the customer stays: the deal is undone, not them
    assert len(sc.records(reset, "zendesk", "organization")) == 1

    notes = sc.records(reset, "webhook", "exceptions")
    note = _one(notes)["data"]["body"]
    assert note["state"] == "compensated" and note["failed_step"] == "entitlement"
    assert note["key"] == opp["Id"]
    assert {s["id"]: s["undo"] for s in note["steps"]}["onboarding"] == "not_compensable"


async def test_a_repeated_closed_won_does_not_start_a_second_instance(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    opp = sc.opportunity(3)
    sc.seed_account(reset, opp["AccountId"])
    body = sc.dumps(opp)
    post = _poster(client)
    await post("salesforce", body, sc.salesforce_headers(body, "evt-q2c-3a"))
    await post("salesforce", body, sc.salesforce_headers(body, "evt-q2c-3b"))  # a new event id
    first = await sc.settled(engine, "quote-to-cash", opp["Id"])
    await engine.wait_idle()
    assert engine.workflows is not None
    all_instances = await engine.workflows.query(workflow="quote-to-cash")
    assert [i.id for i in all_instances] == [first.id]
    instance = await engine.workflows.get(first.id)
    assert instance is not None and len(instance.duplicates) == 1
    assert len(sc.records(reset, "netsuite", "customer")) == 1
    assert len(sc.records(reset, "stripe", "subscription")) == 1


async def test_invoice_paid_posts_the_payment_then_the_crm_status(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    event = sc.fixture("stripe/invoice_paid.json")
    invoice = event["data"]["object"]
    sc.seed_account(reset, "001PAID", Stripe_Customer_Id__c=invoice["customer"])
    body = sc.dumps(event)
    await _poster(client)("stripe", body, sc.stripe_headers(body))
    instance = await sc.settled(engine, "invoice-paid", invoice["id"])
    assert instance.state is State.COMPLETED, _why(instance)
    payment = _one(sc.records(reset, "netsuite", "customerPayment"))
    assert payment["id"] == instance.step("erp_payment").output["id"]
    account = _one(sc.records(reset, "salesforce", "Account"))  # the linked one, not a new one
    assert account["id"] == "001PAID"
    assert account["data"]["Billing_Status__c"] == "Paid"
    assert account["data"]["Last_Payment_Erp_Id__c"] == payment["id"]


async def test_invoice_payment_failed_marks_past_due_and_opens_a_ticket(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    event = sc.fixture("stripe/invoice_payment_failed.json")
    customer = event["data"]["object"]["customer"]
    sc.seed_account(reset, "001LATE", Stripe_Customer_Id__c=customer)
    body = sc.dumps(event)
    await _poster(client)("stripe", body, sc.stripe_headers(body))
    instance = await sc.settled(engine, "invoice-payment-failed", event["id"])
    assert instance.state is State.COMPLETED, _why(instance)
    invoice = event["data"]["object"]
    account = _one(sc.records(reset, "salesforce", "Account"))
    assert account["id"] == "001LATE"
    assert account["data"]["Billing_Status__c"] == "Past Due"
    ticket = _one(sc.records(reset, "zendesk", "ticket"))
    assert ticket["id"] == str(instance.step("support_ticket").output["id"])
    assert invoice["id"] in str(ticket["data"])


async def _won_deal(router: Router, reset: SimulatorThread, n: int) -> tuple[Any, dict[str, Any]]:
    """A completed quote-to-cash for deal ``n``, and its Stripe subscription as Stripe holds it."""
    engine, client = router
    opp = sc.opportunity(n)
    sc.seed_account(reset, opp["AccountId"])
    body = sc.dumps(opp)
    await _poster(client)("salesforce", body, sc.salesforce_headers(body, f"evt-q2c-{n}"))
    deal = await sc.settled(engine, "quote-to-cash", opp["Id"])
    assert deal.state is State.COMPLETED, _why(deal)
    record = _one(sc.records(reset, "stripe", "subscription"))
    return deal, {"id": record["id"], **record["data"]}  # the object as Stripe sends it


async def _subscription_event(
    router: Router, event_type: str, event_id: str, subscription: dict[str, Any]
) -> Any:
    event = sc.fixture("stripe/subscription_updated.json")
    event.update(id=event_id, type=event_type)
    event["data"] = {"object": subscription}
    body = sc.dumps(event)
    engine, client = router
    await _poster(client)("stripe", body, sc.stripe_headers(body))
    return await sc.settled(engine, "subscription-amendment", event_id)


def _open_orders(reset: SimulatorThread, erp_customer: str) -> list[dict[str, Any]]:
    return [
        order
        for order in sc.records(reset, "netsuite", "salesOrder")
        if order["data"]["entity"] == {"id": erp_customer}
        and order["data"]["orderStatus"] != {"id": "H"}
    ]


async def test_an_amendment_changes_the_deals_order_in_place_and_the_entitlement_and_crm_follow(
    router: Router, reset: SimulatorThread
) -> None:
    """10 -> 12 seats: one open NetSuite order (the deal's) with 12 seats, not a second one."""
    deal, subscription = await _won_deal(router, reset, 4)
    erp_customer = deal.step("onboarding").output["erp_customer"]
    before = _one(_open_orders(reset, erp_customer))
    seats = [line for line in before["data"]["item"]["items"] if line.get("isClosed") is not True]
    assert {line["quantity"] for line in seats if line.get("custcol_interlock_recurring")} == {10}

    subscription["items"]["data"][0]["quantity"] = 12
    instance = await _subscription_event(
        router, "customer.subscription.updated", "evt_amend_4", subscription
    )
    assert instance.state is State.COMPLETED, _why(instance)

    order = _one(_open_orders(reset, erp_customer))  # still exactly one open order
    assert order["id"] == before["id"] == deal.step("sales_order").output["id"]
    assert order["external_id"] == before["external_id"]
    lines = order["data"]["item"]["items"]
    recurring = [line for line in lines if line.get("custcol_interlock_recurring")]
    assert [line["quantity"] for line in recurring] == [12]
    assert not any(line.get("isClosed") for line in recurring)
    one_off = [line for line in lines if not line.get("custcol_interlock_recurring")]
    old_one_off = [
        line
        for line in before["data"]["item"]["items"]
        if not line.get("custcol_interlock_recurring")
    ]
    assert one_off == old_one_off  # onboarding and other one-off lines are left as they were
    assert len(sc.records(reset, "netsuite", "salesOrder")) == 1

    grants = [r["data"]["body"] for r in sc.records(reset, "webhook", "entitlements")]
    assert [g["seats"] for g in grants] == [10, 12]  # the deal's grant, then the amendment
    assert grants[1]["external_id"] == grants[0]["external_id"]
    assert grants[1]["erp_order"] == order["id"]
    crm = _one(sc.records(reset, "salesforce", "Account"))["data"]
    assert crm["Subscription_Seats__c"] == 12
    assert crm["Subscription_Status__c"] == "Active"


async def test_a_cancellation_closes_the_order_ends_the_entitlement_and_updates_the_account(
    router: Router, reset: SimulatorThread
) -> None:
    deal, subscription = await _won_deal(router, reset, 6)
    erp_customer = deal.step("onboarding").output["erp_customer"]
    now = subscription["current_period_start"] + 60  # canceled a minute into its first period
    subscription.update(status="canceled", canceled_at=now, ended_at=now)
    instance = await _subscription_event(
        router, "customer.subscription.deleted", "evt_cancel_6", subscription
    )
    assert instance.state is State.COMPLETED, _why(instance)

    assert _open_orders(reset, erp_customer) == []
    order = _one(sc.records(reset, "netsuite", "salesOrder"))
    assert order["data"]["orderStatus"] == {"id": "H"}  # Closed
    recurring = [
        line for line in order["data"]["item"]["items"] if line.get("custcol_interlock_recurring")
    ]
    assert recurring and all(line["isClosed"] is True for line in recurring)
    grants = [r["data"]["body"] for r in sc.records(reset, "webhook", "entitlements")]
    assert grants[-1]["external_id"] == grants[0]["external_id"]
    assert grants[-1]["status"] == "revoked"
    assert grants[-1]["ends_at"] is not None
    crm = _one(sc.records(reset, "salesforce", "Account"))["data"]
    assert crm["Subscription_Status__c"] == "Canceled"
    assert crm["Subscription_Seats__c"] == 0


async def test_direct_commerce_checks_stock_books_the_order_and_ships(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    order = sc.fixture("shopify/orders_create.json")
    order["line_items"] = order["line_items"][:1]
    order["line_items"][0]["sku"] = "SKU-1"  # 15 on hand in the demo stock
    body = sc.dumps(order)
    await _poster(client)("shopify", body, sc.shopify_headers(body, "wh-order-1"))
    instance = await sc.settled(engine, "direct-commerce", str(order["id"]))
    assert instance.state is State.COMPLETED, _why(instance)
    assert instance.step("availability").output["available"] > 0
    sales_orders = sc.records(reset, "dynamics", "salesorders")
    booked = _one(sales_orders)
    assert booked["id"] == instance.step("sales_order").output["id"]
    shipment = _one(sc.records(reset, "webhook", "fulfilments"))["data"]["body"]
    assert shipment["erp_order"] == booked["id"]
    assert [line["sku"] for line in shipment["lines"]] == ["SKU-1"]


async def test_direct_commerce_parks_an_order_without_stock(
    router: Router, reset: SimulatorThread
) -> None:
    engine, client = router
    order = sc.fixture("shopify/orders_create.json")
    order["id"] = 990001
    order["line_items"] = order["line_items"][:1]
    order["line_items"][0]["sku"] = "SKU-2"  # none on hand
    body = sc.dumps(order)
    await _poster(client)("shopify", body, sc.shopify_headers(body, "wh-order-2"))
    instance = await sc.settled(engine, "direct-commerce", "990001", notified=True)
    assert instance.state is State.PARKED
    assert instance.failed_step == "availability"
    assert "expectation failed: /in_stock is false" in (instance.reason or "")
    assert sc.records(reset, "dynamics", "salesorders") == []
    assert sc.records(reset, "webhook", "fulfilments") == []
    note = _one(sc.records(reset, "webhook", "exceptions"))["data"]["body"]
    assert note["state"] == "parked" and note["actions"] == ["retry", "skip", "cancel"]
