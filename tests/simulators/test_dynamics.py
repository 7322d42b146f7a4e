"""Dynamics 365 simulator: Entra ID tokens, alternate-key upserts, binds and OData errors."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.simulators.conftest import (
    Harness,
    HarnessFactory,
    Reply,
    error_shape_ok,
    oauth2_token,
    reply,
)


async def token(h: Harness) -> str:
    status, body, _ = await reply(
        await oauth2_token(h, f"/{h.config['tenant_id']}/oauth2/v2.0/token")
    )
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] >= 0
    value: str = body["access_token"]
    return value


async def api(
    h: Harness, method: str, path: str, tok: str, body: Any = None, **headers: str
) -> Reply:
    hdrs = {
        "Authorization": f"Bearer {tok}",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    url = f"{h.config['api_url']}/{path}"
    return await reply(await h.http.request(method, url, json=body, headers=hdrs))


async def test_token_endpoint_checks_the_client(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    path = f"/{h.config['tenant_id']}/oauth2/v2.0/token"
    status, body, _ = await reply(await oauth2_token(h, path, client_secret="wrong"))
    assert status == 401 and body["error"] == "invalid_client"
    assert body["error_description"].startswith("AADSTS7000215")
    status, body, _ = await reply(await oauth2_token(h, "/other-tenant/oauth2/v2.0/token"))
    assert status == 400 and body["error"] == "invalid_request"
    status, body, _ = await reply(await oauth2_token(h, path, grant_type="password"))
    assert status == 400 and body["error"] == "unsupported_grant_type"


async def test_api_requires_a_token(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    status, body, headers = await api(h, "GET", "accounts", "not-a-token")
    assert status == 401 and error_shape_ok("dynamics", 401, body)
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_expired_token_gives_401_then_a_fresh_one_works(harness: HarnessFactory) -> None:
    h = await harness("dynamics", token_ttl=1.0)
    old = await token(h)
    assert (await api(h, "GET", "accounts", old))[0] == 200
    await asyncio.sleep(1.1)
    status, body, headers = await api(h, "GET", "accounts", old)
    assert status == 401 and "expired" in body["error"]["message"]
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert (await api(h, "GET", "accounts", await token(h)))[0] == 200


async def test_alternate_key_upsert_twice_gives_one_record(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    tok = await token(h)
    path = "accounts(ilk_externalid='C-1')"
    first = await api(h, "PATCH", path, tok, {"name": "Acme"})
    second = await api(h, "PATCH", path, tok, {"name": "Acme Corp", "telephone1": "1"})
    assert first[0] == second[0] == 204
    assert first[2]["OData-EntityId"] == second[2]["OData-EntityId"]
    (account,) = (await h.state())["accounts"]
    assert account["external_id"] == "C-1" and account["data"]["name"] == "Acme Corp"
    status, body, _ = await api(h, "GET", path, tok)
    assert status == 200 and body["accountid"] == account["id"] and body["telephone1"] == "1"
    status, body, _ = await api(h, "GET", "accounts?$filter=name eq 'Acme Corp'", tok)
    assert status == 200 and [a["accountid"] for a in body["value"]] == [account["id"]]


async def test_if_match_and_if_none_match(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    tok = await token(h)
    path = "accounts(accountnumber='A-9')"
    status, body, _ = await api(h, "PATCH", path, tok, {"name": "X"}, If_Match="*")
    assert status == 404 and error_shape_ok("dynamics", 404, body)
    assert "accounts" not in await h.state()  # update-only created nothing
    status, body, _ = await api(
        h, "PATCH", path, tok, {"name": "X"}, If_None_Match="*", Prefer="return=representation"
    )
    assert status == 201 and body["accountnumber"] == "A-9" and body["name"] == "X"
    status, body, _ = await api(h, "PATCH", path, tok, {"name": "Y"}, If_None_Match="*")
    assert status == 412 and body["error"]["code"] == "0x80040237"
    status, body, _ = await api(
        h, "PATCH", path, tok, {"name": "Z"}, If_Match="*", Prefer="return=representation"
    )
    assert status == 200 and body["name"] == "Z"
    assert len((await h.state())["accounts"]) == 1


async def test_sales_order_binds_to_an_existing_account(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    tok = await token(h)
    order = {
        "name": "Order 1",
        "customerid_account@odata.bind": "/accounts(ilk_externalid='C-1')",
        "transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='USD')",
        "order_details": [{"quantity": 1, "productid@odata.bind": "/products(productnumber='S')"}],
    }
    status, body, _ = await api(h, "POST", "salesorders", tok, order)
    assert status == 404 and error_shape_ok("dynamics", 404, body)
    await api(h, "PATCH", "accounts(ilk_externalid='C-1')", tok, {"name": "A"})
    status, _, headers = await api(h, "POST", "salesorders", tok, order)
    assert status == 204 and "/salesorders(" in headers["OData-EntityId"]
    bad_currency = {
        **order,
        "transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='XXX')",
    }
    assert (await api(h, "POST", "salesorders", tok, bad_currency))[0] == 404
    status, body, _ = await api(h, "POST", "salesorders", tok, {"name": "no customer"})
    assert status == 400 and error_shape_ok("dynamics", 400, body)
    assert len((await h.state())["salesorders"]) == 1


async def test_inventory_availability_reads_seeded_stock(harness: HarnessFactory) -> None:
    h = await harness("dynamics")
    tok = await token(h)
    rows = [
        {"msdyn_itemnumber": "SKU-1", "msdyn_warehouse": w, "msdyn_availablequantity": q}
        for w, q in (("MAIN", 5), ("EAST", 2))
    ]
    seed = {
        "records": [
            {
                "type": "msdyn_inventoryonhands",
                "external_id": f"SKU-1@{r['msdyn_warehouse']}",
                "data": r,
            }
            for r in rows
        ]
    }
    async with h.http.post(f"{h.url}/_sim/seed", json=seed) as r:
        assert r.status == 200
    query = (
        "msdyn_inventoryonhands?$filter=msdyn_itemnumber eq 'SKU-1' and msdyn_warehouse eq 'MAIN'"
    )
    status, body, _ = await api(h, "GET", query, tok)
    assert status == 200 and [v["msdyn_availablequantity"] for v in body["value"]] == [5]
    status, body, _ = await api(h, "GET", "msdyn_inventoryonhands?$filter=startswith(x)", tok)
    assert status == 400 and error_shape_ok("dynamics", 400, body)


async def test_broken_record_and_unknown_sets(harness: HarnessFactory) -> None:
    h = await harness("dynamics", faults={"broken": ["C-BAD"]})
    tok = await token(h)
    status, body, _ = await api(h, "PATCH", "accounts(ilk_externalid='C-BAD')", tok, {"name": "X"})
    assert status == 400 and error_shape_ok("dynamics", 400, body)
    status, body, _ = await api(h, "PATCH", "widgets(ilk_externalid='W')", tok, {"name": "X"})
    assert status == 404 and error_shape_ok("dynamics", 404, body)
    status, body, _ = await api(h, "PATCH", "accounts(nokey='W')", tok, {"name": "X"})
    assert status == 400 and error_shape_ok("dynamics", 400, body)
    assert "accounts" not in await h.state()
