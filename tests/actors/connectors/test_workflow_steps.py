"""Workflow (saga) steps against the real simulators: the ids each step reads from its answer,
and that every step and its compensation can be retried without doing the work twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from router.errors import PermanentError
from tests.actors.connectors._support import outbound
from tests.actors.connectors.conftest import OpenConnector
from tests.actors.connectors.test_simulators import CASES, connect

runner = pytest.importorskip("simulators.runner")


@pytest.fixture
async def sims() -> AsyncIterator[Any]:
    names = ["netsuite", "stripe", "salesforce", "zendesk", "dynamics", "webhook"]
    running = await runner.start(names)
    yield running
    await running.close()


async def step(connector: Any, operation: str, body: dict[str, Any], key: str, **kw: Any) -> Any:
    raw = await connector.send(outbound(body, operation=operation, key=key, **kw))
    return orjson.loads(raw) if raw else raw


# --- NetSuite: the internal id from Location ---------------------------------------------------


async def test_netsuite_writes_answer_the_internal_id(
    sims: Any, open_connector: OpenConnector
) -> None:
    ns = await connect(open_connector, CASES["netsuite"], sims)
    store = sims.simulator("netsuite").store
    customer = {"externalId": "C-1", "companyName": "Acme", "subsidiary": {"id": "1"}}
    first = await step(ns, "upsert_customer", customer, "k1")
    assert first["id"] == store.find("customer", "C-1").id
    assert (
        first["location"]
        == f"{sims.url('netsuite')}/services/rest/record/v1/customer/{first['id']}"
    )
    again = await step(ns, "upsert_customer", {**customer, "companyName": "Acme Inc"}, "k2")
    assert again == first and len(store.all("customer")) == 1

    order = {"externalId": "SO-1", "entity": {"id": first["id"]}, "memo": "saga"}
    so = await step(ns, "upsert_sales_order", order, "k3")
    assert so["id"] == store.find("salesOrder", "SO-1").id and so["location"].endswith(so["id"])

    payment = {"customer": {"id": first["id"]}, "payment": 49}
    paid = await step(ns, "create_customer_payment", payment, "k4")
    assert [r.id for r in store.all("customerPayment")] == [paid["id"]]

    # The upsert variant is the one a retried step can repeat without a second payment.
    upsert = {"externalId": "PAY-1", **payment}
    assert (await step(ns, "upsert_customer_payment", upsert, "k5"))["id"] == (
        await step(ns, "upsert_customer_payment", upsert, "k6")
    )["id"]
    assert len(store.all("customerPayment")) == 2

    # A 200 with a body (get_record) comes back as NetSuite sent it.
    record = await step(ns, "get_record", {"type": "customer", "externalId": "C-1"}, "k7")
    assert record["id"] == first["id"] and record["companyName"] == "Acme Inc"


# --- Stripe: idempotent creates, price data, a cancel that can be repeated ---------------------


async def test_stripe_creates_replay_the_first_answer_for_the_same_key(
    sims: Any, open_connector: OpenConnector
) -> None:
    stripe = await connect(open_connector, CASES["stripe"], sims)
    store = sims.simulator("stripe").store
    customer = {"email": "a@acme.example", "metadata": {"external_id": "C-1"}}
    first = await step(stripe, "create_customer", customer, "cus-key")
    assert await step(stripe, "create_customer", customer, "cus-key") == first
    assert [c.id for c in store.all("customer")] == [first["id"]]

    subscription = {
        "customer": first["id"],
        "items": [{"price": "price_pro_monthly", "quantity": 2}],
        "metadata": {"external_id": "ORD-1"},
    }
    sub = await step(stripe, "create_subscription", subscription, "sub-key")
    assert sub["id"].startswith("sub_") and sub["status"] == "active"
    assert sub["items"]["data"][0]["price"]["id"] == "price_pro_monthly"
    assert await step(stripe, "create_subscription", subscription, "sub-key") == sub
    assert [s.id for s in store.all("subscription")] == [sub["id"]]

    with pytest.raises(PermanentError, match="HTTP 400 idempotency_error"):
        await step(stripe, "create_subscription", {**subscription, "items": []}, "sub-key")
    unknown = {**subscription, "items": [{"price": "price_gold_monthly"}]}
    with pytest.raises(PermanentError, match="HTTP 400 resource_missing: No such price"):
        await step(stripe, "create_subscription", unknown, "sub-key-2")

    inline = {
        "customer": first["id"],
        "items": [
            {
                "price_data": {
                    "currency": "usd",
                    "product": "prod_interlock",
                    "unit_amount": 2500,
                    "recurring": {"interval": "month"},
                }
            }
        ],
    }
    sub2 = await step(stripe, "create_subscription", inline, "sub-key-3")
    price = sub2["items"]["data"][0]["price"]
    assert price["id"].startswith("price_") and price["unit_amount"] == 2500


async def test_stripe_cancel_subscription_can_be_repeated(
    sims: Any, open_connector: OpenConnector
) -> None:
    stripe = await connect(open_connector, CASES["stripe"], sims)
    sim = sims.simulator("stripe")
    customer = await step(stripe, "create_customer", {"email": "b@acme.example"}, "c1")
    items = [{"price": "price_basic_monthly"}]
    sub = await step(
        stripe, "create_subscription", {"customer": customer["id"], "items": items}, "s1"
    )

    canceled = await step(stripe, "cancel_subscription", {"id": sub["id"]}, "x1")
    assert canceled["id"] == sub["id"] and canceled["status"] == "canceled"
    assert canceled["canceled_at"] >= sub["created"]
    # A compensation retried after a lost reply: Stripe says 404, the read-back says canceled.
    assert await step(stripe, "cancel_subscription", {"id": sub["id"]}, "x1") == canceled
    calls = [(r.method, r.status) for r in sim.log.entries() if sub["id"] in r.path]
    assert calls == [("DELETE", 200), ("DELETE", 404), ("GET", 200)]

    with pytest.raises(PermanentError, match="HTTP 404 resource_missing: No such subscription"):
        await step(stripe, "cancel_subscription", {"id": "sub_missing"}, "x2")


# --- Zendesk: one organization per external id, one ticket per key ---------------------------


async def test_zendesk_organizations_and_tickets_are_created_once(
    sims: Any, open_connector: OpenConnector
) -> None:
    zd = await connect(open_connector, CASES["zendesk"], sims)
    store = sims.simulator("zendesk").store
    org = {"name": "Acme", "external_id": "C-1"}
    first = await step(zd, "organization_create_or_update", org, "o1")
    again = await step(zd, "organization_create_or_update", {**org, "notes": "gold"}, "o2")
    assert first["organization"]["id"] == again["organization"]["id"]
    assert len(store.all("organization")) == 1

    ticket = {
        "subject": "Welcome",
        "comment": {"body": "Your account is ready"},
        "organization_id": first["organization"]["id"],
        "external_id": "ORD-1",
    }
    made = await step(zd, "create_ticket", ticket, "t1")
    assert await step(zd, "create_ticket", ticket, "t1") == made  # the same Idempotency-Key
    assert [int(t.id) for t in store.all("ticket")] == [made["ticket"]["id"]]
    await step(zd, "create_ticket", ticket, "t2")  # a new key is a new ticket, as on Zendesk
    assert len(store.all("ticket")) == 2


# --- Salesforce: upsert by any custom external id field ---------------------------------------


def _account(**fields: Any) -> dict[str, Any]:
    attributes = {"type": "Account", "externalIdField": "Stripe_Customer_Id__c"}
    return {"attributes": attributes, "Stripe_Customer_Id__c": "cus_1", **fields}


@pytest.mark.parametrize("version", ["v60.0", "v45.0"])
async def test_salesforce_upsert_by_a_custom_external_id(
    version: str, sims: Any, open_connector: OpenConnector
) -> None:
    sf = await connect(open_connector, CASES["salesforce"], sims, api_version=version)
    store = sims.simulator("salesforce").store
    with pytest.raises(PermanentError, match="REQUIRED_FIELD_MISSING"):
        await step(sf, "upsert_by_external_id", _account(Billing_Status__c="active"), "a0")
    created = await step(sf, "upsert_by_external_id", _account(Name="Acme"), "a1")
    assert created == {"id": created["id"], "success": True, "errors": [], "created": True}
    updated = await step(sf, "upsert_by_external_id", _account(Billing_Status__c="active"), "a2")
    if version == "v60.0":  # 200 with the same id since API v46.0
        assert updated == {**created, "created": False}
    else:  # 204 No Content before v46.0: send returns the empty body
        assert updated == b""
    (account,) = store.all("Account")
    assert account.id == created["id"] and account.data["Billing_Status__c"] == "active"


async def test_salesforce_finds_a_record_by_a_key_it_carries(
    sims: Any, open_connector: OpenConnector
) -> None:
    sf = await connect(open_connector, CASES["salesforce"], sims)
    first = {
        "attributes": {"type": "Account", "externalIdField": "Interlock_External_Id__c"},
        "Interlock_External_Id__c": "C-1",
        "Name": "Acme",
        "Stripe_Customer_Id__c": "cus_9",
    }
    made = await step(sf, "upsert_by_external_id", first, "b1")
    status = _account(Billing_Status__c="past_due", Stripe_Customer_Id__c="cus_9")
    assert (await step(sf, "upsert_by_external_id", status, "b2"))["id"] == made["id"]
    assert len(sims.simulator("salesforce").store.all("Account")) == 1


# --- Dynamics: inventory rows and a sales order created once ---------------------------------


async def test_dynamics_inventory_and_orders(sims: Any, open_connector: OpenConnector) -> None:
    dyn = await connect(open_connector, CASES["dynamics"], sims)
    store = sims.simulator("dynamics").store
    for warehouse, quantity in (("WH-EAST", 12), ("WH-WEST", 3)):
        row = {
            "msdyn_itemnumber": "SKU-9",
            "msdyn_warehouse": warehouse,
            "msdyn_availablequantity": quantity,
        }
        store.upsert("msdyn_inventoryonhands", f"SKU-9@{warehouse}", row)
    select = ["msdyn_itemnumber", "msdyn_warehouse", "msdyn_availablequantity"]
    answer = await step(
        dyn, "query_inventory", {"filter": {"msdyn_itemnumber": "SKU-9"}, "select": select}, "q1"
    )
    assert answer["@odata.context"].endswith("$metadata#msdyn_inventoryonhands")
    rows = [{k: r[k] for k in select} for r in answer["value"]]
    assert [r["msdyn_availablequantity"] for r in rows] == [12, 3]
    assert {"@odata.etag", "msdyn_inventoryonhandid"} <= answer["value"][0].keys()
    none = await step(dyn, "query_inventory", {"filter": {"msdyn_itemnumber": "SKU-0"}}, "q2")
    assert none["value"] == []

    await step(dyn, "upsert_account", CASES["dynamics"].body("acct-1"), "a1")
    order = {
        "ilk_externalid": "ORD-1",
        "name": "Order 1",
        "customerid_account@odata.bind": "/accounts(ilk_externalid='acct-1')",
    }
    assert await step(dyn, "create_salesorder", order, "o1") == b""  # 204 + OData-EntityId
    prefer = {"Prefer": "return=representation"}
    again = await step(dyn, "create_salesorder", order, "o2", headers=prefer)
    (stored,) = store.all("salesorders")
    assert again["salesorderid"] == stored.id and again["ilk_externalid"] == "ORD-1"


# --- Webhook target: provision, read back, revoke (the compensation) ---------------------------


async def test_webhook_target_records_can_be_read_and_revoked(
    sims: Any, open_connector: OpenConnector
) -> None:
    http = await open_connector("http", base_url=sims.url("webhook"))
    entitlement = {"external_id": "ENT-1", "sku": "PRO"}
    for _ in range(2):  # a retried step: the same key stores one record
        await http.send(outbound(entitlement, path="/entitlements", key="ent-1"))
    read = orjson.loads(await http.send(outbound(path="/entitlements/ENT-1", method="GET")))
    assert read["status"] == "active" and read["body"] == entitlement
    for _ in range(2):  # a retried compensation answers the same revoked record
        raw = await http.send(outbound(path="/entitlements/ENT-1", method="DELETE", key="rev-1"))
        assert orjson.loads(raw) == {**read, "status": "revoked", "revoked_at": ANY_TIME}
    (record,) = sims.simulator("webhook").store.all("entitlements")
    assert record.data["status"] == "revoked"
    with pytest.raises(PermanentError, match="HTTP 404 not_found"):
        await http.send(outbound(path="/entitlements/ENT-2", method="DELETE"))


class _AnyTime:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and other > 0

    def __hash__(self) -> int:
        return 0


ANY_TIME = _AnyTime()
