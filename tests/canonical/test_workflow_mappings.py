"""The transforms workflow steps use: on the real fixtures, after the trigger's transform.

Each case runs the way a workflow step does: the trigger transform maps the vendor fixture to a
canonical model, that model is dumped to JSON (the workflow context holds JSON), and the step's
chain runs on it through :func:`router.runtime.request_builder.run_chain`, which validates a
model-typed input on entry. Request bodies are then handed to the real connector operation
builders (and, for Stripe, Zendesk and Salesforce, to the simulators) to show the target accepts
them.

Goldens live in ``tests/fixtures/golden/workflows/``; ``INTERLOCK_REGEN_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel

import actors.transforms  # noqa: F401 - importing registers the transforms
from actors.connectors.dynamics import DYNAMICS_OPERATIONS, DynamicsConnectorConfig
from actors.connectors.netsuite import NETSUITE_OPERATIONS, NetSuiteConnectorConfig
from actors.connectors.salesforce import SALESFORCE_OPERATIONS, SalesforceConnectorConfig
from actors.connectors.stripe import STRIPE_OPERATIONS, StripeConnectorConfig
from actors.connectors.zendesk import ZENDESK_OPERATIONS, ZendeskConnectorConfig
from actors.transforms.inventory import AvailabilityQuestion
from canonical import Customer, Invoice, MappingError, Order, Subscription
from router import registry
from router.config.typecheck import chain_problems
from router.connector import OutboundRequest
from router.errors import PermanentError
from router.runtime.request_builder import run_chain
from simulators.salesforce import SalesforceSimulator
from simulators.stripe import StripeSimulator, parse_form
from simulators.zendesk import ZendeskSimulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VENDORS = FIXTURES / "vendors"
GOLDEN = FIXTURES / "golden" / "workflows"
REGEN = os.environ.get("INTERLOCK_REGEN_GOLDEN") == "1"

OPPORTUNITY = "salesforce/opportunity_closed_won"
SUB_UPDATED = "stripe/subscription_updated"
SUB_DELETED = "stripe/subscription_deleted"
INVOICE_PAID = "stripe/invoice_paid"
INVOICE_FAILED = "stripe/invoice_payment_failed"
SHOP_ORDER = "shopify/orders_create"
FORM = "application/x-www-form-urlencoded"

TRIGGERS = {
    OPPORTUNITY: "salesforce.opportunity_to_canonical",
    SUB_UPDATED: "stripe.subscription_to_canonical",
    SUB_DELETED: "stripe.subscription_to_canonical",
    INVOICE_PAID: "stripe.invoice_to_canonical",
    INVOICE_FAILED: "stripe.invoice_to_canonical",
    SHOP_ORDER: "shopify.order_to_canonical",
}

NEW_TRANSFORMS: dict[str, tuple[Any, Any]] = {
    "salesforce.customer_from_order": (Order, Customer),
    "stripe.subscription_request_from_order": (Order, dict[str, Any]),
    "provisioning.entitlement_from_order": (Order, dict[str, Any]),
    "provisioning.entitlement_from_subscription": (Subscription, dict[str, Any]),
    "netsuite.sales_order_from_subscription": (Subscription, dict[str, Any]),
    "salesforce.billing_status_from_invoice": (Invoice, dict[str, Any]),
    "zendesk.ticket_from_failed_invoice": (Invoice, dict[str, Any]),
    "shopify.availability_question_from_order": (Order, AvailabilityQuestion),
    "threepl.fulfilment_request_from_order": (Order, dict[str, Any]),
}

# (fixture, the step's chain) for every chain a workflow is expected to run
CHAINS: list[tuple[str, tuple[str, ...]]] = [
    (OPPORTUNITY, ("salesforce.customer_from_order",)),
    (OPPORTUNITY, ("salesforce.customer_from_order", "netsuite.customer_from_canonical")),
    (OPPORTUNITY, ("salesforce.customer_from_order", "stripe.customer_from_canonical")),
    (OPPORTUNITY, ("salesforce.customer_from_order", "zendesk.organization_from_customer")),
    (OPPORTUNITY, ("stripe.subscription_request_from_order",)),
    (OPPORTUNITY, ("provisioning.entitlement_from_order",)),
    (OPPORTUNITY, ("netsuite.sales_order_from_order",)),
    (SUB_UPDATED, ("provisioning.entitlement_from_subscription",)),
    (SUB_UPDATED, ("netsuite.sales_order_from_subscription",)),
    (SUB_DELETED, ("provisioning.entitlement_from_subscription",)),
    (SUB_DELETED, ("netsuite.sales_order_from_subscription",)),
    (INVOICE_PAID, ("salesforce.billing_status_from_invoice",)),
    (INVOICE_FAILED, ("salesforce.billing_status_from_invoice",)),
    (INVOICE_FAILED, ("zendesk.ticket_from_failed_invoice",)),
    (SHOP_ORDER, ("shopify.availability_question_from_order",)),
    (SHOP_ORDER, ("shopify.availability_question_from_order", "dynamics.inventory_query")),
    (SHOP_ORDER, ("threepl.fulfilment_request_from_order",)),
    (SHOP_ORDER, ("dynamics.sales_order_from_order",)),
]


def specs() -> dict[str, registry.TransformSpec]:
    return registry.transforms()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VENDORS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def trigger(name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """The trigger's canonical model as the workflow context holds it: JSON."""
    model = specs()[TRIGGERS[name]].fn(fixture(name) if payload is None else payload)
    assert isinstance(model, BaseModel)
    return model.model_dump(mode="json")


def step(chain: tuple[str, ...] | str, context: dict[str, Any]) -> Any:
    names = (chain,) if isinstance(chain, str) else chain
    return run_chain([specs()[n] for n in names], context)


def body(chain: tuple[str, ...] | str, name: str) -> dict[str, Any]:
    value = step(chain, trigger(name))
    document = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    assert isinstance(document, dict)
    return document


def request(operation: str) -> OutboundRequest:
    return OutboundRequest(
        message_id="01TEST",
        route="workflow/step",
        method="POST",
        path="/",
        body=b"",
        idempotency_key="k" * 40,
        correlation_id="corr",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        attempt=1,
        operation=operation,
    )


def opportunity(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture(OPPORTUNITY))
    payload.update(changes)
    return payload


# -- registration and types ------------------------------------------------------------------


def test_new_transforms_are_registered_with_exact_types() -> None:
    registered = specs()
    for name, (input_type, output_type) in NEW_TRANSFORMS.items():
        spec = registered[name]
        assert (spec.input_type, spec.output_type) == (input_type, output_type), name
        assert spec.validates_input, name  # the JSON context is validated into the model
        assert spec.fn.__doc__ and len(spec.fn.__doc__) > 200, name


@pytest.mark.parametrize(("name", "chain"), CHAINS, ids=[f"{f}:{'+'.join(c)}" for f, c in CHAINS])
def test_workflow_chains_are_type_consistent(name: str, chain: tuple[str, ...]) -> None:
    full = [specs()[n] for n in (TRIGGERS[name], *chain)]
    assert chain_problems(full) == []


def test_the_inventory_reply_follows_the_question() -> None:
    chain = ["shopify.order_to_canonical", "shopify.availability_question_from_order"]
    chain += ["dynamics.inventory_query"]
    assert chain_problems([specs()[n] for n in chain]) == []
    assert chain_problems([specs()[n] for n in ("salesforce.customer_from_order",) * 2]) != []


# -- 1. salesforce.customer_from_order ----------------------------------------------------------


def test_customer_from_order_is_the_buying_account() -> None:
    customer = body("salesforce.customer_from_order", OPPORTUNITY)
    assert customer["external_refs"] == [{"system": "salesforce", "id": "001Hs00002ABCdeIAH"}]
    assert customer["legal_name"] == customer["display_name"] == "Acme Robotics, Inc."
    assert customer["currency"] == "USD"
    assert customer["status"] == "active"
    assert customer["billing_address"] is None  # the opportunity carries no address


def test_customer_from_order_keeps_a_billing_address() -> None:
    order = trigger(SHOP_ORDER)
    order["customer"]["external_refs"] = [{"system": "salesforce", "id": "001X"}]
    customer = step("salesforce.customer_from_order", order)
    assert isinstance(customer, Customer)
    assert customer.billing_address is not None and customer.billing_address.city == "Louisville"


def test_customer_chains_make_bodies_the_connectors_accept() -> None:
    netsuite = body(
        ("salesforce.customer_from_order", "netsuite.customer_from_canonical"), OPPORTUNITY
    )
    assert netsuite["externalId"] == "salesforce-001Hs00002ABCdeIAH"
    assert netsuite["companyName"] == "Acme Robotics, Inc."
    assert netsuite["currency"] == {"externalId": "USD"}
    plan = NETSUITE_OPERATIONS["upsert_customer"](
        NetSuiteConnectorConfig(base_url="https://acct.example"),
        netsuite,
        request("upsert_customer"),
    )
    assert (plan.method, plan.path) == (
        "PUT",
        "/services/rest/record/v1/customer/eid:salesforce-001Hs00002ABCdeIAH",
    )

    zendesk = body(
        ("salesforce.customer_from_order", "zendesk.organization_from_customer"), OPPORTUNITY
    )
    assert zendesk == {
        "organization": {
            "name": "Acme Robotics, Inc.",
            "external_id": "salesforce-001Hs00002ABCdeIAH",
            "tags": ["status_active"],
        }
    }
    plan = ZENDESK_OPERATIONS["organization_create_or_update"](
        ZendeskConnectorConfig(base_url="https://x.zendesk.example"), zendesk, request("o")
    )
    assert json.loads(plan.body)["organization"]["external_id"] == "salesforce-001Hs00002ABCdeIAH"

    stripe = body(("salesforce.customer_from_order", "stripe.customer_from_canonical"), OPPORTUNITY)
    assert stripe == {
        "name": "Acme Robotics, Inc.",
        "metadata[display_name]": "Acme Robotics, Inc.",
        "metadata[ref_salesforce]": "001Hs00002ABCdeIAH",
        "metadata[currency]": "USD",
    }


def test_customer_external_ids_are_stable_per_account() -> None:
    chain = ("salesforce.customer_from_order", "netsuite.customer_from_canonical")
    first = step(chain, trigger(OPPORTUNITY))["externalId"]
    assert step(chain, trigger(OPPORTUNITY))["externalId"] == first
    other_deal = trigger(OPPORTUNITY, opportunity(Id="006Hs00001OtherIAB"))
    assert step(chain, other_deal)["externalId"] == first  # same account, same customer
    other_account = trigger(OPPORTUNITY, opportunity(AccountId="001Hs00002OtherIAH"))
    assert step(chain, other_account)["externalId"] == "salesforce-001Hs00002OtherIAH"


def test_customer_from_order_needs_a_named_salesforce_account() -> None:
    nameless = opportunity(Account=None)
    with pytest.raises(PermanentError, match=r"customer\.name"):
        step("salesforce.customer_from_order", trigger(OPPORTUNITY, nameless))
    fn = specs()["salesforce.customer_from_order"].fn
    with pytest.raises(MappingError, match="salesforce account id"):
        fn(Order.model_validate(trigger(SHOP_ORDER)))


# -- 2. stripe.subscription_request_from_order --------------------------------------------------

SEAT_PRICE = {
    "currency": "usd",
    "product": "PLAT-SEAT-12M",
    "unit_amount": 12000,
    "recurring": {"interval": "year", "interval_count": 1},
}


def test_subscription_request_holds_the_recurring_lines_only() -> None:
    params = body("stripe.subscription_request_from_order", OPPORTUNITY)
    assert params == {
        # ONB-STD is one-off; the seat is priced inline at the deal's 120.00 USD a year
        "items": [{"price_data": SEAT_PRICE, "quantity": 10}],
        "metadata": {
            "order_external_id": "salesforce-006Hs00001XyZabIAB",
            "salesforce_opportunity_id": "006Hs00001XyZabIAB",
            "ref_salesforce": "006Hs00001XyZabIAB",
        },
    }
    assert "customer" not in params  # the workflow sets it from the Stripe customer step
    again = body("stripe.subscription_request_from_order", OPPORTUNITY)
    assert again == params
    other = step(
        "stripe.subscription_request_from_order", trigger(OPPORTUNITY, opportunity(Id="006X"))
    )
    assert other["metadata"]["order_external_id"] == "salesforce-006X"


def test_subscription_request_merges_a_price_and_refuses_one_off_orders() -> None:
    payload = opportunity()
    lines = payload["OpportunityLineItems"]["records"]
    extra = copy.deepcopy(lines[0]) | {"Id": "00kExtra", "Quantity": 2.0, "TotalPrice": 216.0}
    payload["OpportunityLineItems"]["records"] = [*lines, extra]
    payload["Amount"] = 3796.0
    params = step("stripe.subscription_request_from_order", trigger(OPPORTUNITY, payload))
    assert params["items"] == [{"price_data": SEAT_PRICE, "quantity": 12}]

    one_off = opportunity(Amount=2500.0)
    one_off["OpportunityLineItems"]["records"] = [lines[1]]
    with pytest.raises(PermanentError, match="no recurring line"):
        step("stripe.subscription_request_from_order", trigger(OPPORTUNITY, one_off))


async def test_stripe_accepts_the_customer_and_the_inline_priced_subscription() -> None:
    customer = body(
        ("salesforce.customer_from_order", "stripe.customer_from_canonical"), OPPORTUNITY
    )
    customer["metadata[salesforce_account_id]"] = "001Hs00002ABCdeIAH"  # the workflow's `set`
    config = StripeConnectorConfig(base_url="https://api.stripe.example")
    sim = StripeSimulator()
    auth = {"Authorization": "Bearer sk_test_interlock"}
    async with TestClient(TestServer(sim.app())) as client:
        plan = STRIPE_OPERATIONS["create_customer"](config, customer, request("create_customer"))
        reply = await client.post(plan.path, data=plan.body, headers={**auth, "Content-Type": FORM})
        created = await reply.json()
        assert reply.status == 200, created
        assert created["metadata"]["salesforce_account_id"] == "001Hs00002ABCdeIAH"
        assert created["metadata"]["ref_salesforce"] == "001Hs00002ABCdeIAH"

        params = body("stripe.subscription_request_from_order", OPPORTUNITY)
        params["customer"] = created["id"]  # the workflow's `set`
        plan = STRIPE_OPERATIONS["create_subscription"](config, params, request("c"))
        form = parse_form(plan.body)["items"][0]
        assert form["price_data"]["unit_amount"] == "12000" and form["quantity"] == "10"
        headers = {**auth, "Content-Type": FORM}
        reply = await client.post(plan.path, data=plan.body, headers=headers)
        subscription = await reply.json()
        assert reply.status == 200, subscription
        assert subscription["items"]["data"][0]["quantity"] == 10
        assert subscription["metadata"]["salesforce_opportunity_id"] == "006Hs00001XyZabIAB"


# -- 3 and 4. provisioning ----------------------------------------------------------------------


def test_entitlement_from_order() -> None:
    grant = body("provisioning.entitlement_from_order", OPPORTUNITY)
    assert grant["external_id"] == "salesforce-006Hs00001XyZabIAB"
    assert grant["customer"] == {
        "external_refs": [{"system": "salesforce", "id": "001Hs00002ABCdeIAH"}],
        "name": "Acme Robotics, Inc.",
    }
    assert (grant["product"], grant["seats"], grant["status"]) == ("PLAT-SEAT-12M", 10, "active")
    assert grant["plan"] == "Platform seat (12 months)"
    assert grant["starts_at"] == "2026-01-30T00:00:00Z" and grant["ends_at"] is None
    assert grant["items"] == [{"product": "PLAT-SEAT-12M", "plan": grant["plan"], "seats": 10}]
    assert body("provisioning.entitlement_from_order", OPPORTUNITY) == grant
    other = step(
        "provisioning.entitlement_from_order", trigger(OPPORTUNITY, opportunity(Id="006Y"))
    )
    assert other["external_id"] == "salesforce-006Y"


def test_entitlement_from_subscription_updates_the_deals_entitlement() -> None:
    grant = body("provisioning.entitlement_from_subscription", SUB_UPDATED)
    assert grant["external_id"] == "salesforce-006Hs00001XyZabIAB"  # metadata[ref_salesforce]
    assert (
        grant["external_id"]
        == body("provisioning.entitlement_from_order", OPPORTUNITY)["external_id"]
    )
    assert (grant["product"], grant["plan"], grant["seats"]) == ("prod_RqW2proSeat", "Pro seat", 5)
    assert grant["customer"]["external_refs"] == [{"system": "stripe", "id": "cus_QyL7mB2nK4xPzR"}]
    assert (grant["status"], grant["starts_at"], grant["ends_at"]) == (
        "active",
        "2026-01-01T00:00:00Z",
        None,
    )
    ended = body("provisioning.entitlement_from_subscription", SUB_DELETED)
    assert (ended["external_id"], ended["status"]) == (grant["external_id"], "revoked")
    assert ended["ends_at"] == "2026-03-01T00:00:00Z"


def test_entitlement_from_subscription_without_a_deal_is_keyed_by_the_subscription() -> None:
    def keyed(sub_id: str) -> str:
        event = copy.deepcopy(fixture(SUB_UPDATED))
        event["data"]["object"]["metadata"] = {}
        event["data"]["object"]["id"] = sub_id
        return str(
            step("provisioning.entitlement_from_subscription", trigger(SUB_UPDATED, event))[
                "external_id"
            ]
        )

    assert keyed("sub_A") == keyed("sub_A") == "stripe-sub_A"
    assert keyed("sub_B") == "stripe-sub_B"


# -- 5. netsuite.sales_order_from_subscription --------------------------------------------------


def test_sales_order_from_subscription() -> None:
    order = body("netsuite.sales_order_from_subscription", SUB_UPDATED)
    assert order["externalId"] == "stripe-sub_1QyL8xB2nK4xPzRaH2kD"
    assert order["entity"] == {"externalId": "stripe-cus_QyL7mB2nK4xPzR"}
    assert order["currency"] == {"externalId": "USD"}
    assert order["item"]["items"] == [
        {
            "item": {"externalId": "prod_RqW2proSeat"},
            "quantity": 5,
            "rate": 49,
            "amount": 245,
            "description": "Pro seat (Stripe price price_1QyL5pB2nK4xPzRaPro)",
            "custcol_interlock_recurring": True,
        }
    ]
    assert order["memo"].startswith("Amended from Stripe subscription sub_1QyL8xB2nK4xPzRaH2kD")
    assert "5 x Pro seat at 49.00 USD/month" in order["memo"]
    assert order["tranDate"] == "2026-01-01"
    plan = NETSUITE_OPERATIONS["upsert_sales_order"](
        NetSuiteConnectorConfig(base_url="https://acct.example"), order, request("u")
    )
    assert plan.path.endswith("/salesOrder/eid:stripe-sub_1QyL8xB2nK4xPzRaH2kD")
    assert "externalId" not in json.loads(plan.body)

    deleted = body("netsuite.sales_order_from_subscription", SUB_DELETED)
    assert deleted["externalId"] == order["externalId"]  # same subscription, same order
    assert all(line["isClosed"] for line in deleted["item"]["items"])
    event = copy.deepcopy(fixture(SUB_UPDATED))
    event["data"]["object"]["id"] = "sub_other"
    other = step("netsuite.sales_order_from_subscription", trigger(SUB_UPDATED, event))
    assert other["externalId"] == "stripe-sub_other"


# -- 6. salesforce.billing_status_from_invoice --------------------------------------------------


def test_billing_status_from_invoices() -> None:
    paid = body("salesforce.billing_status_from_invoice", INVOICE_PAID)
    assert paid == {
        "attributes": {"type": "Account", "externalIdField": "Stripe_Customer_Id__c"},
        "Stripe_Customer_Id__c": "cus_QyL7mB2nK4xPzR",
        "Billing_Status__c": "Paid",
        "Last_Invoice_Number__c": "7C1F2A9B-0001",
        "Last_Invoice_Amount__c": 385.88,
    }
    failed = body("salesforce.billing_status_from_invoice", INVOICE_FAILED)
    assert failed["Billing_Status__c"] == "Past Due"
    assert failed["Stripe_Customer_Id__c"] == "cus_QQx8mB2nK4xPzS"
    assert (failed["Last_Invoice_Number__c"], failed["Last_Invoice_Amount__c"]) == (
        "DE-2024-0815",
        29,
    )

    plan = SALESFORCE_OPERATIONS["upsert_by_external_id"](
        SalesforceConnectorConfig(base_url="https://sf.example"), paid, request("u")
    )
    assert (plan.method, plan.path) == (
        "PATCH",
        "/services/data/v60.0/sobjects/Account/Stripe_Customer_Id__c/cus_QyL7mB2nK4xPzR",
    )
    assert json.loads(plan.body) == {
        "Billing_Status__c": "Paid",
        "Last_Invoice_Number__c": "7C1F2A9B-0001",
        "Last_Invoice_Amount__c": 385.88,
    }


async def test_salesforce_updates_a_linked_account_and_refuses_to_invent_one() -> None:
    sim = SalesforceSimulator()
    sim.store.create(
        "Account",
        {"Name": "Acme Robotics, Inc.", "Stripe_Customer_Id__c": "cus_QyL7mB2nK4xPzR"},
        "Stripe_Customer_Id__c=cus_QyL7mB2nK4xPzR",
    )
    config = SalesforceConnectorConfig(base_url="https://sf.example")
    async with TestClient(TestServer(sim.app())) as client:
        token = await client.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "3MVG9interlock",
                "client_secret": "sf_secret_interlock",
            },
        )
        auth = {"Authorization": f"Bearer {(await token.json())['access_token']}"}
        for name, expected in ((INVOICE_PAID, 200), (INVOICE_FAILED, 400)):
            doc = body("salesforce.billing_status_from_invoice", name)
            plan = SALESFORCE_OPERATIONS["upsert_by_external_id"](config, doc, request("u"))
            headers = {**auth, "Content-Type": "application/json"}
            reply = await client.patch(plan.path, data=plan.body, headers=headers)
            answer = await reply.json()
            assert reply.status == expected, answer
        assert answer[0]["errorCode"] == "REQUIRED_FIELD_MISSING"  # no account has cus_QQx8...
    account = sim.store.find("Account", "Stripe_Customer_Id__c=cus_QyL7mB2nK4xPzR")
    assert account is not None and account.data["Billing_Status__c"] == "Paid"


# -- 7. zendesk.ticket_from_failed_invoice ------------------------------------------------------


def test_ticket_from_failed_invoice() -> None:
    ticket = body("zendesk.ticket_from_failed_invoice", INVOICE_FAILED)["ticket"]
    assert ticket["subject"] == "Payment failed: invoice DE-2024-0815 (Beispiel Handels GmbH)"
    assert (ticket["priority"], ticket["type"]) == ("high", "task")
    assert ticket["external_id"] == "stripe-in_1PZkA1B2nK4xPzRaLg01"
    assert ticket["tags"] == ["billing", "payment_failed", "invoice_open"]
    assert ticket["comment"]["public"] is False
    assert "Amount due: 29.00 EUR" in ticket["comment"]["body"]
    assert "Collection attempts: 1" in ticket["comment"]["body"]
    assert "cus_QQx8mB2nK4xPzS" in ticket["comment"]["body"]
    with pytest.raises(PermanentError, match="no failed payment"):
        body("zendesk.ticket_from_failed_invoice", INVOICE_PAID)


async def test_zendesk_creates_the_ticket_and_the_organization() -> None:
    sim = ZendeskSimulator()
    config = ZendeskConnectorConfig(base_url="https://x.zendesk.example")
    basic = base64.b64encode(b"agent@interlock.test/token:zd_token_interlock").decode()
    auth = {"Authorization": f"Basic {basic}"}
    async with TestClient(TestServer(sim.app())) as client:
        ticket = body("zendesk.ticket_from_failed_invoice", INVOICE_FAILED)
        org = body(
            ("salesforce.customer_from_order", "zendesk.organization_from_customer"), OPPORTUNITY
        )
        for operation, doc in (("create_ticket", ticket), ("organization_create_or_update", org)):
            plan = ZENDESK_OPERATIONS[operation](config, doc, request(operation))
            reply = await client.post(
                plan.path, data=plan.body, headers={**auth, "Content-Type": "application/json"}
            )
            assert reply.status == 201, await reply.text()
        found = await client.get(
            "/api/v2/tickets.json?external_id=stripe-in_1PZkA1B2nK4xPzRaLg01", headers=auth
        )
        assert len((await found.json())["tickets"]) == 1


# -- 8. shopify.availability_question_from_order ------------------------------------------------


def test_availability_question_asks_about_the_first_sku() -> None:
    question = step("shopify.availability_question_from_order", trigger(SHOP_ORDER))
    assert question == AvailabilityQuestion(sku="IPOD2008PINK")
    query = body(
        ("shopify.availability_question_from_order", "dynamics.inventory_query"), SHOP_ORDER
    )
    assert query["filter"] == {"msdyn_itemnumber": "IPOD2008PINK"}
    answer = specs()["dynamics.inventory_availability"].fn(
        {
            "value": [
                {
                    "msdyn_itemnumber": "IPOD2008PINK",
                    "msdyn_warehouse": "MAIN",
                    "msdyn_availablequantity": 3,
                }
            ]
        }
    )
    assert answer == {
        "sku": "IPOD2008PINK",
        "available": 3.0,
        "in_stock": True,
        "locations": [{"warehouse": "MAIN", "available": 3.0}],
    }
    nothing = specs()["dynamics.inventory_availability"].fn({"value": []})
    assert (nothing["in_stock"], nothing["available"]) == (False, 0)


def test_availability_question_refuses_orders_without_a_usable_sku() -> None:
    order = trigger(SHOP_ORDER)
    for line in order["lines"]:
        line["sku"] = None
    with pytest.raises(PermanentError, match="no line has a SKU"):
        step("shopify.availability_question_from_order", order)
    order["lines"][1]["sku"] = "BAD SKU"
    with pytest.raises(PermanentError, match=r"lines\[1\]\.sku"):
        step("shopify.availability_question_from_order", order)


# -- 9. threepl.fulfilment_request_from_order ---------------------------------------------------


def test_fulfilment_request() -> None:
    shipment = body("threepl.fulfilment_request_from_order", SHOP_ORDER)
    assert shipment == {
        "external_id": "shopify-820982911946154508",
        "ship_to": {
            "name": "Bob Norman",
            "line1": "Chestnut Street 92",
            "city": "Louisville",
            "region": "KY",
            "postal_code": "40202",
            "country": "US",
            "email": "bob.norman@mail.example.com",
        },
        "lines": [
            {
                "line_id": "866550311766439020",
                "sku": "IPOD2008PINK",
                "quantity": 1,
                "description": "IPod Nano - 8GB",
            },
            {
                "line_id": "141249953214522974",
                "sku": "STYLUS-BLK",
                "quantity": 2,
                "description": "Stylus - Black",
            },
        ],
        "service_level": "standard",
        "order_number": "#1001",
        "notes": "Leave at the loading dock",
    }
    assert body("threepl.fulfilment_request_from_order", SHOP_ORDER) == shipment
    paid = step(
        "threepl.fulfilment_request_from_order", trigger(SHOP_ORDER, fixture("shopify/orders_paid"))
    )
    assert paid["external_id"] == "shopify-820982911946200777"
    canceled = fixture(SHOP_ORDER) | {"cancelled_at": "2026-01-11T09:00:00-05:00"}
    with pytest.raises(PermanentError, match="canceled order"):
        step("threepl.fulfilment_request_from_order", trigger(SHOP_ORDER, canceled))


# -- 10. dynamics.sales_order_from_order --------------------------------------------------------


def test_dynamics_sales_order_is_upserted_by_its_alternate_key() -> None:
    order = body("dynamics.sales_order_from_order", SHOP_ORDER)
    config = DynamicsConnectorConfig(base_url="https://org.example")
    assert config.order_alternate_key == "ilk_externalid"
    assert order["ilk_externalid"] == "shopify-820982911946154508"
    plan = DYNAMICS_OPERATIONS["create_salesorder"](config, order, request("create_salesorder"))
    assert plan.method == "PATCH"
    assert urllib.parse.unquote(plan.path) == (
        "/api/data/v9.2/salesorders(ilk_externalid='shopify-820982911946154508')"
    )
    assert (
        body("dynamics.sales_order_from_order", SHOP_ORDER)["ilk_externalid"]
        == order["ilk_externalid"]
    )


# -- goldens ------------------------------------------------------------------------------------

GOLDEN_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        f"{fixture_name.replace('/', '__')}__{'__'.join(n.replace('.', '_') for n in chain)}",
        fixture_name,
        chain,
    )
    for fixture_name, chain in CHAINS
]


@pytest.mark.parametrize(
    ("golden", "name", "chain"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES]
)
def test_golden(golden: str, name: str, chain: tuple[str, ...]) -> None:
    actual = json.loads(json.dumps(body(chain, name)))
    path = GOLDEN / f"{golden}.json"
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.is_file(), f"missing {path}; run with INTERLOCK_REGEN_GOLDEN=1 to create it"
    assert actual == json.loads(path.read_text(encoding="utf-8"))


def test_no_stale_workflow_goldens() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == {c[0] for c in GOLDEN_CASES}


@pytest.mark.parametrize(
    ("sku", "recurring"),
    [
        ("PLAT-SEAT-12M", {"interval": "year", "interval_count": 1}),
        ("PLAT-SEAT-24M", {"interval": "year", "interval_count": 2}),
        ("PLAT-SEAT-3M", {"interval": "month", "interval_count": 3}),
        ("PLAT-SEAT-1Y", {"interval": "year", "interval_count": 1}),
        ("PLAT-MONTHLY", {"interval": "month"}),
        ("PLAT-ANNUAL", {"interval": "year"}),
    ],
)
def test_a_term_sku_names_its_billing_interval(sku: str, recurring: dict[str, object]) -> None:
    from canonical.mappings.stripe_out import stripe_recurring_for_sku

    assert stripe_recurring_for_sku(sku) == recurring
