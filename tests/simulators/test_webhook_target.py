"""The generic webhook target: Idempotency-Key dedupe, configurable status, optional bearer."""

from __future__ import annotations

from tests.simulators.conftest import HarnessFactory, error_shape_ok, reply


async def test_a_repeated_key_never_stores_a_second_record(harness: HarnessFactory) -> None:
    h = await harness("webhook", status=202)
    headers = {"Idempotency-Key": "ent-1"}
    first = await reply(
        await h.http.post(f"{h.url}/entitlements", json={"sku": "A"}, headers=headers)
    )
    again = await reply(
        await h.http.post(f"{h.url}/entitlements", json={"sku": "B"}, headers=headers)
    )
    assert first[0] == again[0] == 202 and first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    (record,) = (await h.state())["entitlements"]
    assert record["external_id"] == "ent-1" and record["data"]["body"] == {"sku": "A"}
    await reply(await h.http.post(f"{h.url}/3pl/shipments", json={"id": "S-1"}))
    assert (await h.state())["3pl/shipments"][0]["external_id"] == "S-1"


async def test_status_is_configurable_at_run_time(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    async with h.http.post(f"{h.url}/_sim/status", json={"status": 409}) as r:
        assert r.status == 200
    status, body, _ = await reply(
        await h.http.post(f"{h.url}/x", json={"id": "1"}, headers={"Idempotency-Key": "k"})
    )
    assert status == 409 and error_shape_ok("webhook", 409, body)
    async with h.http.post(f"{h.url}/_sim/status", json={"status": 200}) as r:
        assert r.status == 200
    status, _, headers = await reply(
        await h.http.post(f"{h.url}/x", json={"id": "1"}, headers={"Idempotency-Key": "k"})
    )
    assert status == 200 and "Idempotent-Replayed" not in headers  # a failure is not replayed


async def test_bearer_token_and_broken_records(harness: HarnessFactory) -> None:
    h = await harness("webhook", bearer_token="tgt_secret", faults={"broken": ["E-BAD"]})
    status, body, _ = await reply(await h.http.post(f"{h.url}/e", json={"id": "E-1"}))
    assert status == 401 and error_shape_ok("webhook", 401, body)
    auth = {"Authorization": "Bearer tgt_secret"}
    status, body, _ = await reply(
        await h.http.post(f"{h.url}/e", json={"id": "E-BAD"}, headers=auth)
    )
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, _, _ = await reply(await h.http.post(f"{h.url}/e", json={"id": "E-1"}, headers=auth))
    assert status == 200 and [r["external_id"] for r in (await h.state())["e"]] == ["E-1"]


async def test_get_and_delete_revoke_a_record_idempotently(harness: HarnessFactory) -> None:
    h = await harness("webhook", status=201)
    for ext, path in (("E-1", "entitlements"), ("E-2", "entitlements"), ("S-1", "3pl/shipments")):
        headers = {"Idempotency-Key": f"key-{ext}"}
        payload = {"external_id": ext, "sku": "PRO"}
        status, _, _ = await reply(
            await h.http.post(f"{h.url}/{path}", json=payload, headers=headers)
        )
        assert status == 201
    status, read, _ = await reply(await h.http.get(f"{h.url}/entitlements/E-1"))
    assert status == 200 and read["status"] == "active" and read["revoked_at"] is None
    assert read["type"] == "entitlements" and read["body"] == {"external_id": "E-1", "sku": "PRO"}

    status, revoked, _ = await reply(await h.http.delete(f"{h.url}/entitlements/E-1"))
    assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_at"] > 0
    assert revoked["id"] == read["id"]
    again = await reply(await h.http.delete(f"{h.url}/entitlements/E-1"))
    assert again[:2] == (200, revoked)  # a retried compensation: the same answer, no change
    shipment = await reply(await h.http.delete(f"{h.url}/3pl/shipments/S-1"))
    assert shipment[0] == 200 and shipment[1]["type"] == "3pl/shipments"

    state = await h.state()
    assert {t: len(rs) for t, rs in state.items()} == {"entitlements": 2, "3pl/shipments": 1}
    statuses = {r["external_id"]: r["data"]["status"] for r in state["entitlements"]}
    assert statuses == {"E-1": "revoked", "E-2": "active"}

    for method in ("GET", "DELETE"):
        status, body, _ = await reply(await h.http.request(method, f"{h.url}/entitlements/E-9"))
        assert status == 404 and error_shape_ok("webhook", 404, body)
        assert body["error"]["code"] == "not_found"


async def test_a_configured_failure_fails_a_delete_without_revoking(
    harness: HarnessFactory,
) -> None:
    h = await harness("webhook")
    await reply(await h.http.post(f"{h.url}/entitlements", json={"id": "E-1"}))
    async with h.http.post(f"{h.url}/_sim/status", json={"status": 503}) as r:
        assert r.status == 200
    status, body, _ = await reply(await h.http.delete(f"{h.url}/entitlements/E-1"))
    assert status == 503 and error_shape_ok("webhook", 503, body)
    (record,) = (await h.state())["entitlements"]
    assert record["data"]["status"] == "active"
