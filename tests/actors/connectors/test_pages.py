"""Batch reads: every vendor connector's list operation walks its simulator's pages to the end.

Each connector is built from the registry with the simulator's credentials, exactly as a route
file would configure it, and asked for page after page (``router.connector.page_request`` in,
``Page`` out) with the vendor's own cursor until it says there is no next page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.connector import Page, page_request
from router.errors import PermanentError, TransientError
from tests.actors.connectors._support import outbound
from tests.actors.connectors.conftest import OpenConnector
from tests.actors.connectors.test_simulators import CASES

runner = pytest.importorskip("simulators.runner")
N = 253  # not a multiple of any page size used below

# kind -> (operation, params, store type, seed row of record i, the id a page's record carries)
LISTS: dict[str, tuple[str, dict[str, Any], str, Any, str]] = {
    "stripe": (
        "list_invoices",
        {"status": "paid", "page_size": 20},
        "invoice",
        lambda i: (None, {"status": "paid", "amount_paid": i, "currency": "usd"}, f"in_{i:05d}"),
        "id",
    ),
    "netsuite": (
        "suiteql",
        {"query": "SELECT id, externalid, payment FROM customerpayment", "page_size": 50},
        "customerPayment",
        lambda i: (f"pay-{i}", {"externalId": f"pay-{i}", "payment": i}, ""),
        "externalid",
    ),
    "salesforce": (
        "soql",
        {"query": "SELECT Id, Name FROM Account", "page_size": 200},
        "Account",
        lambda i: (None, {"Name": f"Account {i}"}, f"001PG{i:013d}"),
        "Id",
    ),
    "zendesk": (
        "list_organizations",
        {"page_size": 30},
        "organization",
        lambda i: (f"org-{i}", {"name": f"Org {i}", "external_id": f"org-{i}"}, ""),
        "external_id",
    ),
    "dynamics": (
        "list_entities",
        {"entity_set": "accounts", "select": "name,ilk_externalid", "page_size": 40},
        "accounts",
        lambda i: (f"acc-{i}", {"name": f"Account {i}", "ilk_externalid": f"acc-{i}"}, ""),
        "ilk_externalid",
    ),
}


@pytest.fixture
async def sims() -> AsyncIterator[Any]:
    running = await runner.start(sorted(LISTS))
    yield running
    await running.close()


async def connect(open_connector: OpenConnector, kind: str, sims: Any) -> Any:
    return await open_connector(kind, kind, **CASES[kind].config(sims.config(kind)))


async def walk(connector: Any, operation: str, params: dict[str, Any]) -> tuple[list[Any], int]:
    records: list[Any] = []
    cursor, pages = None, 0
    while True:
        body = page_request(params, cursor)
        page = Page.decode(await connector.send(outbound(body, operation=operation)))
        records += page.records
        pages += 1
        if page.next is None:
            return records, pages
        cursor = page.next


@pytest.mark.parametrize("kind", sorted(LISTS))
async def test_a_list_operation_walks_every_page_once(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    operation, params, store, row, ident = LISTS[kind]
    sims.simulator(kind).seed_many(store, [row(i) for i in range(N)])
    connector = await connect(open_connector, kind, sims)
    records, pages = await walk(connector, operation, params)
    ids = [r[ident] for r in records]
    assert len(ids) == N and len(set(ids)) == N  # each once
    assert pages == -(-N // params["page_size"])  # ceil: no empty page, none skipped


async def test_a_page_answered_5xx_is_transient_and_a_401_permanent(
    sims: Any, open_connector: OpenConnector
) -> None:
    connector = await connect(open_connector, "stripe", sims)
    request = outbound(page_request({}, None), operation="list_invoices")
    sims.simulator("stripe").set_faults({"fail_next": 1})
    with pytest.raises(TransientError):
        await connector.send(request)
    assert Page.decode(await connector.send(request)).records == []
    sims.simulator("stripe").credentials["api_key"] = "sk_test_rotated"
    with pytest.raises(PermanentError):
        await connector.send(request)


async def test_a_next_link_to_another_host_is_refused(
    sims: Any, open_connector: OpenConnector
) -> None:
    connector = await connect(open_connector, "salesforce", sims)
    elsewhere = "https://attacker.example/services/data/v60.0/query/01g-2000"
    request = outbound(
        page_request({"query": "SELECT Id FROM Account"}, elsewhere), operation="soql"
    )
    with pytest.raises(PermanentError, match="another host"):
        await connector.send(request)


async def test_a_bad_page_request_is_permanent(sims: Any, open_connector: OpenConnector) -> None:
    connector = await connect(open_connector, "netsuite", sims)
    with pytest.raises(PermanentError, match=r"params\.query"):
        await connector.send(outbound(page_request({}, None), operation="suiteql"))
    params = {"query": "SELECT id FROM customer", "page_size": 5000}
    with pytest.raises(PermanentError, match="page_size"):
        await connector.send(outbound(page_request(params, None), operation="suiteql"))
