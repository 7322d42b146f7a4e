"""Salesforce simulator: client-credentials sessions, external-id upserts, collections, errors."""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import (
    Harness,
    HarnessFactory,
    Reply,
    error_shape_ok,
    oauth2_token,
    reply,
)

DATA = "/services/data/v60.0"
EXT = "Interlock_External_Id__c"


async def session(h: Harness) -> str:
    status, body, _ = await reply(await oauth2_token(h, "/services/oauth2/token"))
    assert status == 200 and body["instance_url"] == h.url and body["token_type"] == "Bearer"
    value: str = body["access_token"]
    return value


async def api(h: Harness, method: str, path: str, tok: str, body: Any = None) -> Reply:
    headers = {"Authorization": f"Bearer {tok}"}
    return await reply(await h.http.request(method, f"{h.url}{path}", json=body, headers=headers))


async def test_bad_client_and_missing_session(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    status, body, _ = await reply(
        await oauth2_token(h, "/services/oauth2/token", client_secret="nope")
    )
    assert status == 400 and body["error"] == "invalid_client"
    status, body, _ = await api(h, "GET", f"{DATA}/sobjects/Account/001", "nope")
    assert status == 401 and error_shape_ok("salesforce", 401, body)
    assert body[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_expired_session_then_a_fresh_token(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    tok = await session(h)
    path = f"{DATA}/sobjects/Account/{EXT}/C-1"
    assert (await api(h, "PATCH", path, tok, {"Name": "A"}))[0] == 201
    async with h.http.post(f"{h.url}/_sim/expire-tokens") as r:
        assert r.status == 200
    status, body, _ = await api(h, "PATCH", path, tok, {"Name": "B"})
    assert status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID"
    assert (await api(h, "PATCH", path, await session(h), {"Name": "B"}))[0] == 200


async def test_upsert_twice_gives_one_record(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    tok = await session(h)
    path = f"{DATA}/sobjects/Account/{EXT}/C-1"
    created = await api(h, "PATCH", path, tok, {"Name": "Acme"})
    updated = await api(h, "PATCH", path, tok, {"Name": "Acme Corp"})
    assert created[0] == 201 and created[1]["created"] is True and created[1]["success"] is True
    assert updated[0] == 200 and updated[1] == {**created[1], "created": False}
    assert created[1]["id"].startswith("001")
    old = await api(h, "PATCH", f"/services/data/v45.0/sobjects/Account/{EXT}/C-1", tok, {})
    assert old[0] == 204 and old[1] is None  # before API v46 an update answers 204
    (account,) = (await h.state())["Account"]
    assert account["data"] == {"Name": "Acme Corp", EXT: "C-1"}
    status, body, _ = await api(h, "GET", f"{DATA}/sobjects/Account/{created[1]['id']}", tok)
    assert (
        status == 200 and body["Id"] == created[1]["id"] and body["attributes"]["type"] == "Account"
    )
    status, _, _ = await api(
        h, "PATCH", f"{DATA}/sobjects/Account/{created[1]['id']}", tok, {"Phone": "1"}
    )
    assert status == 204


async def test_validation_errors_use_the_error_list_shape(harness: HarnessFactory) -> None:
    h = await harness("salesforce", faults={"broken": ["C-BAD"]})
    tok = await session(h)
    status, body, _ = await api(h, "PATCH", f"{DATA}/sobjects/Account/{EXT}/C-2", tok, {})
    assert status == 400 and body[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert body[0]["fields"] == ["Name"]
    status, body, _ = await api(
        h, "PATCH", f"{DATA}/sobjects/Account/{EXT}/C-BAD", tok, {"Name": "X"}
    )
    assert status == 400 and body[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    status, body, _ = await api(h, "PATCH", f"{DATA}/sobjects/Account/Name/X", tok, {"Name": "X"})
    assert status == 404 and error_shape_ok("salesforce", 404, body)
    opp = {"Name": "O", "Account": {EXT: "C-404"}}
    status, body, _ = await api(h, "PATCH", f"{DATA}/sobjects/Opportunity/{EXT}/O-1", tok, opp)
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"
    assert await h.state() == {}


async def test_collection_upsert_and_all_or_none(harness: HarnessFactory) -> None:
    h = await harness("salesforce")
    tok = await session(h)
    path = f"{DATA}/composite/sobjects/Account/{EXT}"
    records = [{"attributes": {"type": "Account"}, EXT: f"C-{i}", "Name": f"N{i}"} for i in (1, 2)]
    status, body, _ = await api(h, "PATCH", path, tok, {"allOrNone": False, "records": records})
    assert status == 200 and [r["created"] for r in body] == [True, True]
    status, body, _ = await api(h, "PATCH", path, tok, {"allOrNone": False, "records": records})
    assert [r["created"] for r in body] == [False, False]
    bad = [*records, {"attributes": {"type": "Account"}, EXT: "C-3"}]  # no Name
    status, body, _ = await api(h, "PATCH", path, tok, {"allOrNone": True, "records": bad})
    assert status == 200 and not any(r["success"] for r in body)
    assert body[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert body[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sorted(r["external_id"] for r in (await h.state())["Account"]) == [
        f"{EXT}=C-1",
        f"{EXT}=C-2",
    ]
