"""Paged list and query endpoints of every vendor simulator, walked over real loopback HTTP.

Each walk follows the vendor's own cursor (Stripe ``starting_after``, NetSuite's ``next`` link,
Salesforce's ``nextRecordsUrl``, Zendesk's ``links.next``, Dataverse's ``@odata.nextLink``) and
checks every seeded record is seen exactly once.
"""

from __future__ import annotations

import io
import re
import uuid
from base64 import b64encode
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest

from simulators._paging import QueryError, decode_cursor, parse_query
from tests.simulators.conftest import (
    Harness,
    HarnessFactory,
    Reply,
    error_shape_ok,
    netsuite_auth,
    oauth2_token,
    reply,
)

N = 2537  # not a multiple of any page size used here, so every walk ends on a partial page


async def bearer(h: Harness, path: str) -> dict[str, str]:
    status, body, _ = await reply(await oauth2_token(h, path))
    assert status == 200
    return {"Authorization": f"Bearer {body['access_token']}"}


async def get(h: Harness, url: str, headers: dict[str, str]) -> Reply:
    return await reply(await h.http.get(url if "://" in url else h.url + url, headers=headers))


# --- Stripe -------------------------------------------------------------------------------------


def stripe_auth(h: Harness) -> dict[str, str]:
    return {"Authorization": f"Bearer {h.config['api_key']}"}


def seed_invoices(h: Harness, n: int) -> list[str]:
    rows = [
        (
            f"INV-{i}",
            {
                "object": "invoice",
                "customer": f"cus_{i % 3}",
                "status": "paid" if i % 2 else "open",
                "amount_paid": 100 * i if i % 2 else 0,
                "amount_due": 100 * i,
                "currency": "usd",
                "created": 1_700_000_000 + i,
                "status_transitions": {"paid_at": 1_700_000_100 + i if i % 2 else None},
                "metadata": {},
            },
            "",
        )
        for i in range(n)
    ]
    return [r.id for r in h.sim.seed_many("invoice", rows)]


async def stripe_walk(h: Harness, path: str, limit: int, **params: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after: dict[str, str] = {}
    while True:
        query = urlencode({"limit": limit, **params, **after})
        status, page, _ = await get(h, f"{path}?{query}", stripe_auth(h))
        assert status == 200, page
        assert page["object"] == "list" and page["url"] == path
        assert len(page["data"]) <= limit
        seen += page["data"]
        if not page["has_more"]:
            return seen
        after = {"starting_after": page["data"][-1]["id"]}


async def test_stripe_invoices_walk_every_page_and_filter(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    ids = seed_invoices(h, N)
    assert all(i.startswith("in_") for i in ids) and len(set(ids)) == N
    walked = await stripe_walk(h, "/v1/invoices", 100)
    assert [inv["id"] for inv in walked] == ids  # insertion order, each once
    first = walked[1]
    assert first["object"] == "invoice" and first["status"] == "paid"
    assert first["status_transitions"]["paid_at"] == 1_700_000_101
    assert (first["amount_paid"], first["currency"], first["customer"]) == (100, "usd", "cus_1")
    paid = await stripe_walk(h, "/v1/invoices", 100, status="paid")
    assert len(paid) == N // 2 and {inv["status"] for inv in paid} == {"paid"}
    mine = await stripe_walk(h, "/v1/invoices", 37, status="open", customer="cus_2")
    expected = [ids[i] for i in range(N) if i % 2 == 0 and i % 3 == 2]
    assert [inv["id"] for inv in mine] == expected
    status, one, _ = await get(h, f"/v1/invoices/{ids[5]}", stripe_auth(h))
    assert status == 200 and one == walked[5]
    status, page, _ = await get(h, f"/v1/invoices?limit=3&ending_before={ids[10]}", stripe_auth(h))
    assert status == 200 and [inv["id"] for inv in page["data"]] == ids[7:10] and page["has_more"]
    _, default, _ = await get(h, "/v1/invoices", stripe_auth(h))
    assert len(default["data"]) == 10 and default["has_more"]


async def test_stripe_customers_page_by_starting_after_and_email(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    records = [
        {"type": "customer", "external_id": f"C-{i}", "data": {"email": f"u{i % 10}@x.com"}}
        for i in range(N)
    ]
    async with h.http.post(f"{h.url}/_sim/seed", json={"records": records}) as r:
        assert r.status == 200
        created = (await r.json())["records"]
    assert len(created) == N and all(c["id"].startswith("cus_") for c in created)
    walked = await stripe_walk(h, "/v1/customers", 100)
    assert [c["id"] for c in walked] == [c["id"] for c in created]
    by_email = await stripe_walk(h, "/v1/customers", 50, email="u3@x.com")
    assert len(by_email) == len([i for i in range(N) if i % 10 == 3])
    assert {c["email"] for c in by_email} == {"u3@x.com"}


async def test_stripe_list_errors_and_faults(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    seed_invoices(h, 5)
    for bad in ("0", "101", "ten"):
        status, body, _ = await get(h, f"/v1/invoices?limit={bad}", stripe_auth(h))
        assert status == 400 and error_shape_ok("stripe", 400, body)
        assert body["error"]["code"] == "parameter_invalid_integer"
        assert body["error"]["param"] == "limit"
    status, body, _ = await get(h, "/v1/customers?limit=500", stripe_auth(h))
    assert status == 400 and body["error"]["code"] == "parameter_invalid_integer"
    status, body, _ = await get(h, "/v1/invoices?starting_after=in_nope", stripe_auth(h))
    assert status == 400 and error_shape_ok("stripe", 400, body)
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["param"] == "starting_after" and "in_nope" in body["error"]["message"]
    status, body, _ = await get(h, "/v1/invoices?status=late", stripe_auth(h))
    assert status == 400 and body["error"]["param"] == "status"
    status, body, _ = await get(h, "/v1/invoices/in_nope", stripe_auth(h))
    assert status == 404 and body["error"]["code"] == "resource_missing"
    status, body, _ = await reply(await h.http.get(f"{h.url}/v1/invoices"))
    assert status == 401  # the list goes through the same auth as every endpoint
    await h.faults(fail_next=1, error_status=502, match="/v1/invoices")
    status, body, _ = await get(h, "/v1/invoices", stripe_auth(h))
    assert status == 502 and error_shape_ok("stripe", 502, body)
    status, body, _ = await get(h, "/v1/invoices", stripe_auth(h))
    assert status == 200 and len(body["data"]) == 5
    logged = [e for e in await h.requests() if e["path"] == "/v1/invoices"]
    assert [e["status"] for e in logged[-2:]] == [502, 200]


# --- NetSuite -----------------------------------------------------------------------------------

SUITEQL = "/services/rest/query/v1/suiteql"


async def suiteql(h: Harness, q: str, url: str | None = None, transient: bool = True) -> Reply:
    target = url or f"{h.url}{SUITEQL}"
    headers = {"Authorization": netsuite_auth("POST", target, h.config)}
    if transient:
        headers["Prefer"] = "transient"
    return await reply(await h.http.post(target, json={"q": q}, headers=headers))


def seed_netsuite_customers(h: Harness, n: int) -> list[str]:
    rows = [
        (f"C-{i}", {"companyName": f"Co {i}", "subsidiary": {"id": str(1 + i % 4)}}, "")
        for i in range(n)
    ]
    return [r.id for r in h.sim.seed_many("customer", rows)]


async def netsuite_walk(h: Harness, q: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    url: str | None = f"{h.url}{SUITEQL}?limit={limit}&offset=0"
    total = -1
    while url is not None:
        status, page, _ = await suiteql(h, q, url)
        assert status == 200, page
        assert page["count"] == len(page["items"]) <= limit
        assert page["offset"] == len(rows)
        total = page["totalResults"]
        rows += page["items"]
        links = {link["rel"]: link["href"] for link in page["links"]}
        assert links["self"].endswith(f"offset={page['offset']}")
        assert ("next" in links) == page["hasMore"]
        url = links.get("next")
    return rows, total


async def test_netsuite_suiteql_pages_by_offset(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    ids = seed_netsuite_customers(h, N)
    rows, total = await netsuite_walk(h, "SELECT * FROM customer", 250)
    assert total == N and [r["id"] for r in rows] == ids
    assert rows[0] == {
        "links": [],
        "id": ids[0],
        "externalid": "C-0",
        "companyname": "Co 0",
        "subsidiary": "1",  # a reference reads as its id
    }
    picked, total = await netsuite_walk(h, "select ID, CompanyName from CUSTOMER", 1000)
    assert total == N and {tuple(r) for r in picked} == {("links", "id", "companyname")}
    q = "SELECT id FROM customer WHERE subsidiary = '2'"
    filtered, total = await netsuite_walk(h, q, 100)
    expected = [ids[i] for i in range(N) if i % 4 == 1]
    assert total == len(expected) and [r["id"] for r in filtered] == expected
    q = "SELECT id, companyname FROM customer WHERE subsidiary = 2 AND companyName = 'Co 5'"
    status, page, _ = await suiteql(h, q)
    assert status == 200 and page["items"] == [{"links": [], "id": ids[5], "companyname": "Co 5"}]
    assert page["hasMore"] is False and page["totalResults"] == 1
    status, page, _ = await suiteql(h, "SELECT * FROM salesorder")
    assert status == 200 and page["totalResults"] == 0 and page["items"] == []


async def test_netsuite_suiteql_errors_and_faults(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    seed_netsuite_customers(h, 30)
    status, body, _ = await suiteql(h, "SELECT id FROM customer", transient=False)
    assert status == 400 and error_shape_ok("netsuite", 400, body)
    assert "transient" in body["o:errorDetails"][0]["detail"]
    for query, param in (("limit=10&offset=5", "offset"), ("limit=1001", "limit")):
        status, body, _ = await suiteql(h, "SELECT id FROM customer", f"{h.url}{SUITEQL}?{query}")
        assert status == 400 and error_shape_ok("netsuite", 400, body)
        assert body["o:errorDetails"][0]["o:errorQueryParam"] == param
    for q, part in (
        ("SELECT COUNT(*) FROM customer", "COUNT"),
        ("SELECT id FROM customer ORDER BY id", "ORDER"),
        ("SELECT id FROM customer WHERE id > 3", ">"),
        ("SELECT id FROM widget", "widget"),
        ("DELETE FROM customer", "DELETE"),
    ):
        status, body, _ = await suiteql(h, q)
        assert status == 400 and error_shape_ok("netsuite", 400, body), q
        detail = body["o:errorDetails"][0]
        assert detail["o:errorCode"] == "INVALID_PARAMETER" and part in detail["detail"], q
    await h.faults(fail_next=1, match="suiteql")
    status, body, _ = await suiteql(h, "SELECT id FROM customer")
    assert status == 500 and error_shape_ok("netsuite", 500, body)
    status, body, _ = await suiteql(h, "SELECT id FROM customer")
    assert status == 200 and body["totalResults"] == 30


# --- Salesforce ---------------------------------------------------------------------------------

DATA = "/services/data/v60.0"


def seed_accounts(h: Harness, n: int) -> list[str]:
    rows = [
        (
            f"Interlock_External_Id__c=A-{i}",
            {"Name": f"Acme {i}", "Industry": "Retail" if i % 5 == 0 else "Tech", "Custom__c": i},
            "",
        )
        for i in range(n)
    ]
    return [r.id for r in h.sim.seed_many("Account", rows)]


async def soql_walk(
    h: Harness, auth: dict[str, str], q: str, batch: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    headers = dict(auth)
    if batch is not None:
        headers["Sforce-Query-Options"] = f"batchSize={batch}"
    status, page, _ = await get(h, f"{DATA}/query?{urlencode({'q': q})}", headers)
    records: list[dict[str, Any]] = []
    while True:
        assert status == 200, page
        records += page["records"]
        if page["done"]:
            assert "nextRecordsUrl" not in page
            return records, page["totalSize"]
        assert re.fullmatch(rf"{DATA}/query/01g\w+-{len(records)}", page["nextRecordsUrl"])
        status, page, _ = await get(h, page["nextRecordsUrl"], headers)


async def test_salesforce_query_batches_follow_next_records_url(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    auth = await bearer(h, "/services/oauth2/token")
    ids = seed_accounts(h, N)
    assert all(i.startswith("001") and len(i) == 18 for i in ids)
    records, total = await soql_walk(h, auth, "SELECT Id, Name, custom__c FROM Account", 200)
    assert total == N and [r["Id"] for r in records] == ids
    assert records[7] == {
        "attributes": {"type": "Account", "url": f"{DATA}/sobjects/Account/{ids[7]}"},
        "Id": ids[7],
        "Name": "Acme 7",
        "Custom__c": 7,  # spelled as stored, whatever the SELECT wrote
    }
    status, first, _ = await get(h, f"{DATA}/query?q=SELECT+Id+FROM+Account", auth)
    assert status == 200 and len(first["records"]) == 2000 and first["done"] is False
    q = "select Name, Missing__c from account where industry = 'retail' and Id != null"
    status, body, _ = await get(h, f"{DATA}/query?{urlencode({'q': q})}", auth)
    assert status == 400 and body[0]["errorCode"] == "MALFORMED_QUERY"  # only '=' is supported
    q = "select Name, Missing__c from account where industry = 'retail'"
    retail, total = await soql_walk(h, auth, q, 200)
    assert total == len(retail) == len(range(0, N, 5))
    assert retail[0]["Name"] == "Acme 0" and retail[0]["Missing__c"] is None
    assert "Id" not in retail[0]  # only the selected fields come back


async def test_salesforce_query_errors_and_faults(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    auth = await bearer(h, "/services/oauth2/token")
    seed_accounts(h, 450)
    for q, code in (
        ("SELECT * FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account LIMIT 5", "MALFORMED_QUERY"),
        ("SELECT Id, Owner.Name FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Widget", "INVALID_TYPE"),
    ):
        status, body, _ = await get(h, f"{DATA}/query?{urlencode({'q': q})}", auth)
        assert status == 400 and error_shape_ok("salesforce", 400, body), q
        assert body[0]["errorCode"] == code, q
    status, body, _ = await get(h, f"{DATA}/query", auth)
    assert status == 400 and body[0]["errorCode"] == "MALFORMED_QUERY"
    for locator in ("01gNOPE-200", "garbage"):
        status, body, _ = await get(h, f"{DATA}/query/{locator}", auth)
        assert status == 400 and error_shape_ok("salesforce", 400, body)
        assert body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    headers = {**auth, "Sforce-Query-Options": "batchSize=5"}  # clamped up to 200
    status, page, _ = await get(h, f"{DATA}/query?q=SELECT+Id+FROM+Account", headers)
    assert status == 200 and len(page["records"]) == 200
    beyond = page["nextRecordsUrl"].rsplit("-", 1)[0] + "-450"
    status, body, _ = await get(h, beyond, auth)
    assert status == 400 and body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    await h.faults(fail_next=1, error_status=503, match="/query")
    status, body, _ = await get(h, page["nextRecordsUrl"], auth)
    assert status == 503 and error_shape_ok("salesforce", 503, body)
    status, body, _ = await get(h, page["nextRecordsUrl"], auth)  # the locator survives a 5xx
    assert status == 200 and len(body["records"]) == 200 and body["done"] is False
    status, body, _ = await get(h, f"{DATA}/query?q=SELECT+Id+FROM+Account", {})
    assert status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_salesforce_keeps_ten_query_cursors_open(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    auth = await bearer(h, "/services/oauth2/token")
    seed_accounts(h, 2001)
    urls = []
    for _ in range(11):
        _, page, _ = await get(h, f"{DATA}/query?q=SELECT+Id+FROM+Account", auth)
        urls.append(page["nextRecordsUrl"])
    status, body, _ = await get(h, urls[0], auth)
    assert status == 400 and body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"  # the oldest
    status, body, _ = await get(h, urls[-1], auth)
    assert status == 200 and body["done"] is True and len(body["records"]) == 1


# --- Zendesk ------------------------------------------------------------------------------------


def zendesk_auth(h: Harness) -> dict[str, str]:
    raw = f"{h.config['email']}/token:{h.config['api_token']}".encode()
    return {"Authorization": "Basic " + b64encode(raw).decode()}


async def test_zendesk_organizations_cursor_pagination(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    rows = [(f"ORG-{i}", {"name": f"Org {i}"}, "") for i in range(N)]
    ids = [int(r.id) for r in h.sim.seed_many("organization", rows)]
    seen: list[int] = []
    url: str = "/api/v2/organizations.json?page[size]=100"
    pages: list[dict[str, Any]] = []
    while True:
        status, page, _ = await get(h, url, zendesk_auth(h))
        assert status == 200, page
        pages.append(page)
        seen += [org["id"] for org in page["organizations"]]
        if not page["meta"]["has_more"]:
            break
        assert page["links"]["next"].startswith(h.url)
        url = page["links"]["next"]
    assert seen == ids and len(pages) == N // 100 + 1
    last = pages[-1]
    assert len(last["organizations"]) == N % 100 and last["meta"]["after_cursor"]
    assert decode_cursor(last["meta"]["after_cursor"]) == str(ids[-1])
    status, after_end, _ = await get(h, last["links"]["next"], zendesk_auth(h))
    assert status == 200 and after_end["organizations"] == []
    assert after_end["meta"] == {"has_more": False, "after_cursor": None, "before_cursor": None}
    status, back, _ = await get(h, pages[3]["links"]["prev"], zendesk_auth(h))
    assert status == 200 and back["organizations"] == pages[2]["organizations"]
    assert back["meta"]["has_more"] is True  # more pages lie that way
    status, small, _ = await get(h, "/api/v2/organizations?page[size]=7", zendesk_auth(h))
    assert [o["id"] for o in small["organizations"]] == ids[:7]
    assert small["organizations"][0]["name"] == "Org 0"
    assert parse_qs(urlsplit(small["links"]["next"]).query)["page[size]"] == ["7"]
    _, default, _ = await get(h, "/api/v2/organizations.json", zendesk_auth(h))
    assert len(default["organizations"]) == 100


async def test_zendesk_pagination_errors_and_faults(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    h.sim.seed_many("organization", [(None, {"name": "A"}, ""), (None, {"name": "B"}, "")])
    unknown = "eyJvIjoiaWQiLCJ2IjoiOTk5OTkifQ=="  # a well-formed cursor for no organization
    for query in ("page[size]=101", "page[size]=0", "page[after]=%21%21", f"page[after]={unknown}"):
        status, body, _ = await get(h, f"/api/v2/organizations.json?{query}", zendesk_auth(h))
        assert status == 400 and error_shape_ok("zendesk", 400, body), query
        assert body["error"] == "InvalidPaginationParameter", query
    await h.faults(fail_next=1, match="/organizations")
    status, body, _ = await get(h, "/api/v2/organizations.json", zendesk_auth(h))
    assert status == 500 and error_shape_ok("zendesk", 500, body)
    status, body, _ = await get(h, "/api/v2/organizations.json", zendesk_auth(h))
    assert status == 200 and [o["name"] for o in body["organizations"]] == ["A", "B"]
    assert body["meta"]["has_more"] is False


# --- Dynamics 365 -------------------------------------------------------------------------------


def seed_dynamics_accounts(h: Harness, n: int) -> list[str]:
    rows = [
        (f"A-{i}", {"name": f"Acct {i}", "ilk_externalid": f"A-{i}", "industrycode": i % 3}, "")
        for i in range(n)
    ]
    return [r.id for r in h.sim.seed_many("accounts", rows)]


async def odata_walk(
    h: Harness, auth: dict[str, str], url: str, size: int | None
) -> list[dict[str, Any]]:
    headers = dict(auth) | ({} if size is None else {"Prefer": f"odata.maxpagesize={size}"})
    rows: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        status, page, got = await get(h, next_url, headers)
        assert status == 200, page
        assert page["@odata.context"].endswith("$metadata#accounts")
        if size is not None:
            assert got["Preference-Applied"] == f"odata.maxpagesize={size}"
            assert len(page["value"]) <= size
        rows += page["value"]
        next_url = page.get("@odata.nextLink")
    return rows


async def test_dynamics_pages_with_maxpagesize_and_next_link(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    auth = await bearer(h, f"/{h.config['tenant_id']}/oauth2/v2.0/token")
    ids = seed_dynamics_accounts(h, N)
    assert all(uuid.UUID(i) for i in ids)
    api = h.config["api_url"]
    rows = await odata_walk(h, auth, f"{api}/accounts", 300)
    assert [r["accountid"] for r in rows] == ids
    assert rows[4] == {
        "@odata.etag": 'W/"1"',
        "name": "Acct 4",
        "ilk_externalid": "A-4",
        "industrycode": 1,
        "accountid": ids[4],
    }
    status, page, _ = await get(
        h, f"{api}/accounts?$select=name", {**auth, "Prefer": "odata.maxpagesize=2"}
    )
    assert (
        status == 200
        and [set(r) for r in page["value"]] == [{"@odata.etag", "name", "accountid"}] * 2
    )
    link = page["@odata.nextLink"]
    assert link.startswith(f"{api}/accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%222%22")
    selected = await odata_walk(h, auth, f"{api}/accounts?$select=name", 1000)
    assert [r["accountid"] for r in selected] == ids and "ilk_externalid" not in selected[0]
    filtered = await odata_walk(h, auth, f"{api}/accounts?$filter=industrycode eq 2", 100)
    assert [r["accountid"] for r in filtered] == [ids[i] for i in range(N) if i % 3 == 2]
    whole = await odata_walk(h, auth, f"{api}/accounts", None)  # default page: 5000 rows
    assert len(whole) == N
    _, top, _ = await get(h, f"{api}/accounts?$top=3", {**auth, "Prefer": "odata.maxpagesize=2"})
    assert len(top["value"]) == 3 and "@odata.nextLink" not in top


async def test_dynamics_paging_errors_and_faults(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    auth = await bearer(h, f"/{h.config['tenant_id']}/oauth2/v2.0/token")
    ids = seed_dynamics_accounts(h, 10)
    api = h.config["api_url"]
    for query in (
        "$skiptoken=nonsense",
        "$skiptoken=" + '<cookie pagenumber="2" pagingcookie="x" istracking="False" />',
        "$filter=name ne 'x'",
        "$filter=contains(name,'x')",
        "$skip=5",
    ):
        status, body, got = await get(h, f"{api}/accounts?{query}", auth)
        assert status == 400 and error_shape_ok("dynamics", 400, body), query
        assert got["OData-Version"] == "4.0"
    # a token naming a record that does not exist (a forged or stale cookie) is refused too
    _, page, _ = await get(h, f"{api}/accounts", {**auth, "Prefer": "odata.maxpagesize=3"})
    forged = page["@odata.nextLink"].replace(ids[2], str(uuid.uuid4()))
    status, body, _ = await get(h, forged, auth)
    assert status == 400 and error_shape_ok("dynamics", 400, body)
    await h.faults(fail_next=1, error_status=503, match="/accounts")
    status, body, _ = await get(h, page["@odata.nextLink"], auth)
    assert status == 503 and error_shape_ok("dynamics", 503, body)
    status, body, _ = await get(h, page["@odata.nextLink"], auth)
    assert status == 200 and [r["accountid"] for r in body["value"]] == ids[3:]


# --- bulk seeding -------------------------------------------------------------------------------


async def test_seed_many_upserts_and_gives_vendor_shaped_ids(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    first = h.sim.seed_many("invoice", [("INV-1", {"status": "open"}, ""), (None, {}, "in_fixed")])
    again = h.sim.seed_many(
        "invoice", [("INV-1", {"status": "paid"}, ""), (None, {"x": 1}, "in_fixed")]
    )
    assert [r.id for r in again] == [r.id for r in first] and first[1].id == "in_fixed"
    assert first[0].id.startswith("in_") and again[0].data["status"] == "paid"
    assert again[0].version == 2 and h.sim.store.count("invoice") == 2
    status, body, _ = await get(h, "/v1/invoices", stripe_auth(h))
    assert status == 200 and [i["status"] for i in body["data"]] == ["paid", "draft"]


async def test_100k_records_seed_over_http_and_walk_in_pages_of_1000(
    harness: HarnessFactory,
) -> None:
    h = await harness("netsuite")
    total = 100_000
    records = [
        {"type": "customer", "external_id": f"C-{i}", "data": {"companyName": f"Co {i}"}}
        for i in range(total)
    ]
    body = io.BytesIO(orjson.dumps({"records": records}))  # aiohttp streams a file-like body
    assert len(body.getvalue()) > 4 * 1024 * 1024
    json_type = {"Content-Type": "application/json"}
    async with h.http.post(f"{h.url}/_sim/seed", data=body, headers=json_type) as r:
        assert r.status == 200  # a body far past the 4 MB every vendor endpoint takes
        assert len((await r.json())["records"]) == total
    rows, count = await netsuite_walk(h, "SELECT id FROM customer", 1000)
    assert count == total and len(rows) == total and len({r["id"] for r in rows}) == total


def test_the_select_parser_names_what_it_cannot_read() -> None:
    query = parse_query(
        "SELECT a, B FROM t WHERE x = 'it''s' AND y = 2.5 AND z = TRUE", allow_star=False
    )
    assert query.columns == ("a", "B") and query.table == "t"
    assert query.where == (("x", "it's"), ("y", 2.5), ("z", True))
    assert parse_query("select * from t;", allow_star=True).columns is None
    for text, part in (
        ("SELECT a FROM t GROUP BY a", "GROUP"),
        ("SELECT a FROM t WHERE a = 1 OR b = 2", "OR"),
        ("SELECT MAX(a) FROM t", "MAX"),
        ("SELECT a FROM", "<EOF>"),
    ):
        with pytest.raises(QueryError) as caught:
            parse_query(text, allow_star=True)
        assert part in caught.value.message and caught.value.column >= 1
