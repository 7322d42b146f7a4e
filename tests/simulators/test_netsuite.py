"""NetSuite simulator: TBA signatures, eid upserts, references and error shapes."""

from __future__ import annotations

import time
from typing import Any

from tests.simulators.conftest import (
    Harness,
    HarnessFactory,
    Reply,
    error_shape_ok,
    netsuite_auth,
    reply,
)

RECORDS = "/services/rest/record/v1"


async def ns(h: Harness, method: str, path: str, body: Any = None, **sign: Any) -> Reply:
    url = f"{h.url}{RECORDS}{path}"
    auth = netsuite_auth(method, url, h.config, **sign)
    return await reply(
        await h.http.request(method, url, json=body, headers={"Authorization": auth})
    )


async def test_unsigned_and_badly_signed_requests_get_401(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    url = f"{h.url}{RECORDS}/customer/eid:C-1"
    status, body, _ = await reply(await h.http.get(url))
    assert status == 401 and error_shape_ok("netsuite", 401, body)
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    good = netsuite_auth("GET", url, h.config)
    for bad in (
        good.replace('oauth_signature="', 'oauth_signature="x'),  # tampered signature
        netsuite_auth("GET", url, h.config, token_secret="wrong"),  # wrong token secret
        netsuite_auth("GET", url, h.config, timestamp=int(time.time()) - 3600),  # stale
        netsuite_auth("GET", url, h.config, signature_method="HMAC-SHA1"),  # not accepted
        good.replace(h.config["account_id"], "9999999"),  # wrong realm
        netsuite_auth("POST", url, h.config),  # signed for another method
    ):
        status, body, _ = await reply(await h.http.get(url, headers={"Authorization": bad}))
        assert status == 401 and error_shape_ok("netsuite", 401, body)
    assert len(h.sim.auth_failures) == 7  # type: ignore[attr-defined]


async def test_a_reused_nonce_is_refused(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    url = f"{h.url}{RECORDS}/customer/eid:C-1"
    header = {"Authorization": netsuite_auth("PUT", url, h.config)}
    first = await reply(await h.http.put(url, json={"companyName": "A"}, headers=header))
    again = await reply(await h.http.put(url, json={"companyName": "A"}, headers=header))
    assert first[0] == 204 and again[0] == 401


async def test_query_parameters_are_part_of_the_signature(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "A"})
    status, body, _ = await ns(h, "GET", "/customer/eid:C-1?expandSubResources=true&fields=a%20b")
    assert status == 200 and body["companyName"] == "A"


async def test_upsert_twice_gives_one_record(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    first = await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "Acme", "email": "a@x"})
    second = await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "Acme Corp"})
    assert first[0] == second[0] == 204 and first[1] is None
    assert first[2]["Location"] == second[2]["Location"]
    assert first[2]["Location"].startswith(f"{h.url}{RECORDS}/customer/")
    customers = (await h.state())["customer"]
    assert len(customers) == 1 and customers[0]["external_id"] == "C-1"
    assert customers[0]["data"]["companyName"] == "Acme Corp"
    assert customers[0]["data"]["email"] == "a@x"
    internal_id = first[2]["Location"].rsplit("/", 1)[1]
    status, body, _ = await ns(h, "GET", f"/customer/{internal_id}")
    assert status == 200 and body["id"] == internal_id and body["externalId"] == "C-1"
    assert body["links"][0]["rel"] == "self"


async def test_transactions_need_an_existing_entity(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    order = {"externalId": "SO-1", "entity": {"externalId": "C-1"}, "item": {"items": []}}
    status, body, _ = await ns(h, "POST", "/salesOrder", order)
    assert status == 400 and error_shape_ok("netsuite", 400, body)
    assert body["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"
    status, body, _ = await ns(h, "POST", "/salesOrder", {"externalId": "SO-1"})
    assert status == 400 and "Customer" in body["o:errorDetails"][0]["detail"]
    await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "A"})
    status, _, headers = await ns(h, "POST", "/salesOrder", order)
    assert status == 204 and "/salesOrder/" in headers["Location"]
    status, body, _ = await ns(h, "POST", "/salesOrder", order)  # the same externalId again
    assert status == 400 and error_shape_ok("netsuite", 400, body)
    invoice = {"entity": {"externalId": "C-1"}, "tranId": "INV-1"}
    assert (await ns(h, "PUT", "/invoice/eid:INV-1", invoice))[0] == 204
    payment = {"customer": {"externalId": "C-1"}, "payment": 10}
    assert (await ns(h, "POST", "/customerPayment", payment))[0] == 204
    state = await h.state()
    assert len(state["salesOrder"]) == len(state["invoice"]) == len(state["customerPayment"]) == 1


async def test_broken_record_fails_validation_every_time(harness: HarnessFactory) -> None:
    h = await harness("netsuite", faults={"broken": ["C-BAD"]})
    for _ in range(2):
        status, body, _ = await ns(h, "PUT", "/customer/eid:C-BAD", {"companyName": "X"})
        assert status == 400 and error_shape_ok("netsuite", 400, body)
        assert body["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"
    assert (await ns(h, "PUT", "/customer/eid:C-OK", {"companyName": "Y"}))[0] == 204
    assert [r["external_id"] for r in (await h.state())["customer"]] == ["C-OK"]


async def test_missing_records_and_unknown_types_are_404(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    status, body, _ = await ns(h, "GET", "/customer/eid:NOPE")
    assert status == 404 and body["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
    status, body, _ = await ns(h, "PUT", "/widget/eid:W-1", {"a": 1})
    assert status == 404 and error_shape_ok("netsuite", 404, body)
    status, body, _ = await ns(h, "PATCH", "/customer/eid:NOPE", {"a": 1})
    assert status == 404


async def test_patch_updates_by_id_and_by_external_id(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    _, _, headers = await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "A"})
    internal_id = headers["Location"].rsplit("/", 1)[1]
    assert (await ns(h, "PATCH", f"/customer/{internal_id}", {"phone": "1"}))[0] == 204
    assert (await ns(h, "PATCH", "/customer/eid:C-1", {"email": "e@x"}))[0] == 204
    (record,) = (await h.state())["customer"]
    assert record["data"] | {} == {
        "companyName": "A",
        "externalId": "C-1",
        "phone": "1",
        "email": "e@x",
    }
    assert record["version"] == 3


async def test_reset_forgets_records_and_requests(harness: HarnessFactory) -> None:
    h = await harness("netsuite")
    await ns(h, "PUT", "/customer/eid:C-1", {"companyName": "A"})
    assert len(await h.requests()) == 1
    await h.reset()
    assert await h.state() == {} and await h.requests() == []
