"""Key windows: every kind declares how long its target deduplicates a resend, per operation.

And Stripe's ``create_customer`` looks its customer up first, so it is safe at any age: checked
against the Stripe simulator (whose clock moves past Stripe's 24 h key window) through the real
connector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import orjson
import pytest
from aiohttp import web

from actors.connectors._client import ClientConfig
from actors.connectors._vendor import Plan, VendorConnector
from actors.connectors._windows import span
from router.connector import KeyWindowed
from router.errors import PermanentError, TransientError
from router.registry import connectors
from tests.actors.connectors._support import Target, outbound
from tests.actors.connectors.conftest import OpenConnector

runner = pytest.importorskip("simulators.runner")

DAY, HOUR = 86400.0, 3600.0
BASE = {"base_url": "https://vendor.example.com"}
SHIPPED = (
    "dynamics",
    "http",
    "log",
    "netsuite",
    "null",
    "salesforce",
    "shopify",
    "stripe",
    "zendesk",
)
LOOKUP = {"metadata": {"salesforce_account_id": "001A"}}

# (kind, operation, method, body, connector config, the window in seconds or None: no limit)
WINDOWS: list[tuple[str, str | None, str, Any, dict[str, Any], float | None]] = [
    ("stripe", "create_customer", "POST", {"email": "a@b.c"}, {}, DAY),
    ("stripe", "create_customer", "POST", LOOKUP, {}, None),
    ("stripe", "create_customer", "POST", {"metadata[salesforce_account_id]": "001A"}, {}, None),
    ("stripe", "create_customer", "POST", LOOKUP, {"customer_lookup": []}, DAY),
    (
        "stripe",
        "create_customer",
        "POST",
        {"metadata": {"ext": "E1"}},
        {"customer_lookup": ["ext"]},
        None,
    ),
    ("stripe", "update_customer", "POST", {"id": "cus_1"}, {}, None),
    ("stripe", "create_subscription", "POST", {"customer": "cus_1"}, {}, DAY),
    ("stripe", "cancel_subscription", "DELETE", {"id": "sub_1"}, {}, None),
    ("stripe", "list_customers", "POST", {"params": {}}, {}, None),
    ("stripe", "list_invoices", "POST", {"params": {}}, {}, None),
    ("stripe", None, "POST", {}, {}, DAY),
    ("stripe", None, "GET", {}, {}, None),
    ("netsuite", "upsert_customer", "PUT", {"externalId": "C1"}, {}, None),
    ("netsuite", "upsert_sales_order", "PUT", {"externalId": "S1"}, {}, None),
    ("netsuite", "upsert_invoice", "PUT", {"externalId": "I1"}, {}, None),
    ("netsuite", "upsert_customer_payment", "PUT", {"externalId": "P1"}, {}, None),
    ("netsuite", "create_sales_order", "POST", {"entity": {"id": "1"}}, {}, 0.0),
    ("netsuite", "create_sales_order", "POST", {"externalId": "S1"}, {}, None),
    ("netsuite", "create_customer_payment", "POST", {"payment": 5}, {}, 0.0),
    ("netsuite", "get_record", "GET", {"type": "customer", "id": "1"}, {}, None),
    ("netsuite", "suiteql", "POST", {"params": {}}, {}, None),
    ("netsuite", None, "POST", {}, {}, 0.0),
    ("netsuite", None, "PUT", {}, {}, None),
    ("salesforce", "upsert_by_external_id", "PATCH", {}, {}, None),
    ("salesforce", "update_record", "PATCH", {}, {}, None),
    ("salesforce", "soql", "POST", {"params": {}}, {}, None),
    ("salesforce", None, "POST", {}, {}, 0.0),
    ("salesforce", None, "PATCH", {}, {}, None),
    ("zendesk", "organization_create_or_update", "POST", {}, {}, None),
    ("zendesk", "create_ticket", "POST", {}, {}, 2 * HOUR),
    ("zendesk", "list_organizations", "POST", {"params": {}}, {}, None),
    ("zendesk", "list_users", "POST", {"params": {}}, {}, None),
    ("zendesk", None, "POST", {}, {}, 0.0),
    ("zendesk", None, "PUT", {}, {}, None),
    ("dynamics", "upsert_account", "PATCH", {"accountnumber": "A1"}, {}, None),
    ("dynamics", "create_salesorder", "POST", {"ilk_externalid": "O1"}, {}, None),
    ("dynamics", "create_salesorder", "POST", {"name": "no key"}, {}, 0.0),
    ("dynamics", "create_salesorder", "POST", {"o": "O1"}, {"order_alternate_key": "o"}, None),
    ("dynamics", "query_inventory", "GET", {}, {}, None),
    ("dynamics", "list_entities", "POST", {"params": {}}, {}, None),
    ("dynamics", None, "POST", {}, {}, 0.0),
    ("dynamics", None, "PATCH", {}, {}, None),
    ("shopify", "set_inventory_level", "POST", {}, {}, None),
    ("shopify", None, "POST", {}, {}, 0.0),
    ("shopify", None, "GET", {}, {}, None),
    ("http", None, "POST", {}, {}, DAY),
    ("http", None, "PATCH", {}, {}, DAY),
    ("http", None, "POST", {}, {"key_window": "2h"}, 2 * HOUR),
    ("http", None, "POST", {}, {"key_window": 0}, 0.0),
    ("http", None, "POST", {}, {"key_window": None}, None),
    ("http", None, "PUT", {}, {}, None),
    ("http", None, "DELETE", {}, {}, None),
    ("http", None, "GET", {}, {}, None),
    ("log", None, "POST", {}, {}, None),
    ("null", None, "POST", {}, {}, None),
]


def build(kind: str, **config: Any) -> Any:
    spec = connectors()[kind]
    fields = {} if kind in ("log", "null") else BASE
    return spec.factory("c", spec.config_model.model_validate({**fields, **config}))


@pytest.mark.parametrize(("kind", "operation", "method", "body", "config", "window"), WINDOWS)
def test_each_kind_declares_its_targets_window(
    kind: str,
    operation: str | None,
    method: str,
    body: Any,
    config: dict[str, Any],
    window: float | None,
) -> None:
    connector = build(kind, **config)
    assert isinstance(connector, KeyWindowed)
    request = outbound(body, method=method, operation=operation)
    assert connector.key_window(request) == window


def test_every_shipped_kind_and_operation_has_a_documented_window() -> None:
    kinds = connectors()
    assert {k for k, s in kinds.items() if s.factory.__module__.startswith("actors.")} == set(
        SHIPPED
    )
    for kind in SHIPPED:
        spec = kinds[kind]
        assert isinstance(build(kind), KeyWindowed), kind
        documented = dict(spec.key_windows)
        assert documented, f"{kind} registers no key windows"
        assert spec.operations <= documented.keys(), kind
        assert all(documented.values()), kind
    # The table above pins the window of every operation and batch read of every kind.
    pinned = {(k, o) for k, o, *_ in WINDOWS if o is not None}
    every = {(k, o) for k in SHIPPED for o in kinds[k].operations | kinds[k].lists}
    assert every <= pinned


def test_the_docs_show_the_windows_in_words() -> None:
    stripe = dict(connectors()["stripe"].key_windows)
    assert stripe["create_subscription"].startswith("24h")
    assert stripe["create_customer"].startswith("permanent")
    assert "24h" in stripe["create_customer"]
    assert dict(connectors()["zendesk"].key_windows)["create_ticket"].startswith("2h")
    assert dict(connectors()["netsuite"].key_windows)["upsert_customer"].startswith("permanent")
    http = dict(connectors()["http"].key_windows)
    assert "`key_window`" in http["POST, PATCH (method + path)"]


def test_an_undeclared_operation_is_judged_by_its_method() -> None:
    """A kind that forgets to declare an operation's window errs towards refusing its POSTs."""

    def post(config: Any, doc: dict[str, Any], request: Any) -> Plan:
        del config, doc, request
        return Plan("POST", "/things")

    def put(config: Any, doc: dict[str, Any], request: Any) -> Plan:
        del config, doc, request
        return Plan("PUT", "/things/1")

    class Bare(VendorConnector[ClientConfig]):
        OPERATIONS: ClassVar[dict[str, Any]] = {"make": post, "set": put}

    bare = Bare("b", ClientConfig(base_url="https://vendor.example.com"))
    assert bare.key_window(outbound({}, operation="make")) == 0.0
    assert bare.key_window(outbound({}, operation="set")) is None
    assert bare.key_window(outbound({}, operation="unknown")) is None  # refused before any call


def test_windows_read_as_people_write_them() -> None:
    assert [span(s) for s in (None, 0.0, 90.0, 120.0, 2 * HOUR, DAY, 3 * DAY, 1.5)] == [
        "permanent",
        "none",
        "90s",
        "2m",
        "2h",
        "24h",
        "3d",
        "1.5s",
    ]


# --- Stripe create_customer: look up first, against the simulator -----------------------------


@pytest.fixture
async def stripe_sim() -> AsyncIterator[Any]:
    running = await runner.start(["stripe"])
    yield running
    await running.close()


async def stripe(open_connector: OpenConnector, sims: Any, **extra: Any) -> Any:
    c = sims.config("stripe")
    auth = {"kind": "bearer", "token": c["api_key"]}
    return await open_connector("stripe", "stripe", base_url=c["base_url"], auth=auth, **extra)


def customer_body(account: str = "001ACME") -> dict[str, Any]:
    # As the shipped routes send it: flat Stripe keys from the canonical mapping, plus `set`.
    return {
        "name": "Acme Ltd",
        "email": "ap@acme.example",
        "metadata[ref_salesforce]": account,
        "metadata[salesforce_account_id]": account,
    }


def posts(sim: Any) -> list[Any]:
    return [e for e in sim.log.entries() if e.method == "POST" and e.path == "/v1/customers"]


async def test_create_customer_finds_the_customer_even_25_hours_later(
    stripe_sim: Any, open_connector: OpenConnector
) -> None:
    connector = await stripe(open_connector, stripe_sim)
    sim = stripe_sim.simulator("stripe")
    request = outbound(customer_body(), operation="create_customer", key="onboard-001ACME")
    first = orjson.loads(await connector.send(request))
    assert first["id"].startswith("cus_") and len(posts(sim)) == 1

    sim.clock.advance(25 * HOUR)  # past Stripe's 24 h: the key alone would no longer protect
    assert connector.key_window(request) is None  # so the guard lets this replay through
    again = orjson.loads(await connector.send(request))

    assert again["id"] == first["id"] and again["metadata"] == first["metadata"]
    assert len(sim.store.all("customer")) == 1
    assert len(posts(sim)) == 1  # the look-up answered; nothing was created
    searches = [e for e in sim.log.entries() if e.path == "/v1/customers/search"]
    assert len(searches) == 2
    assert "salesforce_account_id" in searches[-1].query


async def test_create_customer_links_a_customer_made_elsewhere(
    stripe_sim: Any, open_connector: OpenConnector
) -> None:
    sim = stripe_sim.simulator("stripe")
    made = sim.store.create(
        "customer", {"object": "customer", "metadata": {"salesforce_account_id": "001 O'Neil"}}
    )
    connector = await stripe(open_connector, stripe_sim)
    body = {"email": "x@y.example", "metadata": {"salesforce_account_id": "001 O'Neil"}}
    answer = orjson.loads(await connector.send(outbound(body, operation="create_customer")))
    assert answer["id"] == made.id and posts(sim) == []


async def test_without_a_look_up_key_25_hours_later_makes_a_second_customer(
    stripe_sim: Any, open_connector: OpenConnector
) -> None:
    """Why the window is declared: a plain create resent past 24 h is a new request to Stripe."""
    connector = await stripe(open_connector, stripe_sim, customer_lookup=[])
    sim = stripe_sim.simulator("stripe")
    request = outbound(customer_body(), operation="create_customer", key="plain-create")
    assert connector.key_window(request) == DAY
    first = orjson.loads(await connector.send(request))
    sim.clock.advance(23 * HOUR)
    assert orjson.loads(await connector.send(request))["id"] == first["id"]  # replayed
    sim.clock.advance(2 * HOUR)  # 25 h after the first use
    second = orjson.loads(await connector.send(request))
    assert second["id"] != first["id"] and len(sim.store.all("customer")) == 2


async def test_a_failed_look_up_never_falls_back_to_a_create(
    stripe_sim: Any, open_connector: OpenConnector
) -> None:
    connector = await stripe(open_connector, stripe_sim)
    sim = stripe_sim.simulator("stripe")
    sim.set_faults({"fail_next": 1})
    with pytest.raises(TransientError, match="HTTP 5"):
        await connector.send(outbound(customer_body(), operation="create_customer"))
    assert posts(sim) == [] and sim.store.all("customer") == []


async def test_a_search_answer_without_data_is_permanent(
    target: Target, open_connector: OpenConnector
) -> None:
    async def odd(request: web.Request, body: bytes) -> web.StreamResponse:
        del request, body
        return web.json_response({"object": "search_result"})

    target.on("/v1/customers/search", odd)
    connector = await open_connector("stripe", base_url=target.url)
    with pytest.raises(PermanentError, match="no `data` list"):
        await connector.send(outbound(customer_body(), operation="create_customer"))
    assert target.hits("/v1/customers") == []


async def test_the_oldest_of_several_matches_is_answered(
    target: Target, open_connector: OpenConnector
) -> None:
    async def two(request: web.Request, body: bytes) -> web.StreamResponse:
        del body
        assert request.query["query"] == "metadata['salesforce_account_id']:'001ACME'"
        data = [{"id": "cus_new", "created": 200}, {"id": "cus_old", "created": 100}]
        return web.json_response({"object": "search_result", "data": data, "has_more": False})

    target.on("/v1/customers/search", two)
    connector = await open_connector("stripe", base_url=target.url)
    answer = await connector.send(outbound(customer_body(), operation="create_customer"))
    assert orjson.loads(answer)["id"] == "cus_old" and target.hits("/v1/customers") == []


def test_the_search_query_escapes_quotes_and_backslashes() -> None:
    from actors.connectors.stripe import search_query

    assert search_query("k", "O'Neil \\ Co") == "metadata['k']:'O\\'Neil \\\\ Co'"
