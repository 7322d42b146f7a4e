"""Zendesk simulator: API-token basic auth, create_or_update, tickets, RecordInvalid errors."""

from __future__ import annotations

from base64 import b64encode
from typing import Any

from tests.simulators.conftest import Harness, HarnessFactory, Reply, error_shape_ok, reply

ORGS = "/api/v2/organizations/create_or_update.json"


def auth(h: Harness, token: str | None = None) -> dict[str, str]:
    c = h.config
    raw = f"{c['email']}/token:{token or c['api_token']}".encode()
    return {"Authorization": "Basic " + b64encode(raw).decode()}


async def call(h: Harness, method: str, path: str, body: Any = None, **headers: str) -> Reply:
    hdrs = {**auth(h), **{k.replace("_", "-"): v for k, v in headers.items()}}
    return await reply(await h.http.request(method, f"{h.url}{path}", json=body, headers=hdrs))


async def test_api_token_is_required(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    org = {"organization": {"name": "A"}}
    status, body, _ = await reply(await h.http.post(f"{h.url}{ORGS}", json=org))
    assert status == 401 and body == {"error": "Couldn't authenticate you"}
    status, _, _ = await reply(
        await h.http.post(f"{h.url}{ORGS}", json=org, headers=auth(h, "wrong"))
    )
    assert status == 401 and await h.state() == {}


async def test_create_or_update_twice_gives_one_organization(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    created = await call(h, "POST", ORGS, {"organization": {"name": "Acme", "external_id": "C-1"}})
    updated = await call(
        h, "PUT", ORGS, {"organization": {"name": "Acme Co", "external_id": "C-1"}}
    )
    assert created[0] == 201 and updated[0] == 200
    assert created[1]["organization"]["id"] == updated[1]["organization"]["id"]
    by_name = await call(h, "POST", ORGS, {"organization": {"name": "Acme Co", "notes": "n"}})
    assert (
        by_name[0] == 200 and by_name[1]["organization"]["id"] == created[1]["organization"]["id"]
    )
    (org,) = (await h.state())["organization"]
    assert org["external_id"] == "C-1" and org["data"]["name"] == "Acme Co"
    status, body, _ = await call(h, "POST", ORGS, {"organization": {"external_id": "C-2"}})
    assert status == 422 and body["error"] == "RecordInvalid"
    assert body["details"]["name"][0]["error"] == "BlankValue"


async def test_tickets_validate_and_honour_idempotency_keys(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    ticket = {"ticket": {"subject": "Help", "comment": {"body": "Broken"}, "external_id": "T-1"}}
    first = await call(h, "POST", "/api/v2/tickets.json", ticket, Idempotency_Key="k1")
    again = await call(h, "POST", "/api/v2/tickets.json", ticket, Idempotency_Key="k1")
    assert first[0] == again[0] == 201 and first[1] == again[1]
    assert first[2]["x-idempotency-lookup"] == "miss" and again[2]["x-idempotency-lookup"] == "hit"
    other = {"ticket": {**ticket["ticket"], "subject": "Other"}}
    status, body, _ = await call(h, "POST", "/api/v2/tickets.json", other, Idempotency_Key="k1")
    assert status == 400 and body["error"] == "IdempotentRequestError"
    assert len((await h.state())["ticket"]) == 1
    status, body, _ = await call(h, "POST", "/api/v2/tickets.json", {"ticket": {"subject": "x"}})
    assert status == 422 and error_shape_ok("zendesk", 422, body)
    assert body["details"]["description"][0]["error"] == "BlankValue"
    _, listed, _ = await call(h, "GET", "/api/v2/tickets.json?external_id=T-1")
    assert [t["id"] for t in listed["tickets"]] == [first[1]["ticket"]["id"]]
    status, got, _ = await call(h, "GET", f"/api/v2/tickets/{first[1]['ticket']['id']}.json")
    assert status == 200 and got["ticket"]["description"] == "Broken"


async def test_broken_record_is_record_invalid(harness: HarnessFactory) -> None:
    h = await harness("zendesk", faults={"broken": ["C-BAD"]})
    org = {"organization": {"name": "Bad", "external_id": "C-BAD"}}
    status, body, _ = await call(h, "POST", ORGS, org)
    assert status == 422 and error_shape_ok("zendesk", 422, body)
    assert body["description"] == "Record validation errors"
    assert await h.state() == {}
