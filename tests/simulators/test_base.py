"""Fault injection, rate limiting and the /_sim/ API, for every simulator through real HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from simulators import SIMULATORS
from tests.simulators.conftest import HarnessFactory, error_shape_ok, valid_call

NAMES = list(SIMULATORS)


@pytest.mark.parametrize("name", NAMES)
async def test_a_valid_call_succeeds_and_is_logged(harness: HarnessFactory, name: str) -> None:
    h = await harness(name)
    call = await valid_call(h)
    status, _body, _headers = await call()
    assert 200 <= status < 300
    logged = [r for r in await h.requests() if r["status"] == status]
    assert logged and logged[-1]["method"] in ("PUT", "PATCH", "POST")


@pytest.mark.parametrize("name", NAMES)
async def test_rate_limit_answers_429_with_retry_after(harness: HarnessFactory, name: str) -> None:
    h = await harness(name)
    call = await valid_call(h)
    await h.faults(rate_limit=2)
    statuses = []
    for _ in range(4):
        status, body, headers = await call()
        statuses.append(status)
    assert all(200 <= s < 300 for s in statuses[:2])
    assert statuses[2:] == [429, 429]
    assert int(float(headers["Retry-After"])) >= 1
    assert error_shape_ok(name, 429, body)


@pytest.mark.parametrize("name", NAMES)
async def test_error_rate_is_seeded_and_repeatable(harness: HarnessFactory, name: str) -> None:
    h = await harness(name)
    call = await valid_call(h)

    async def run() -> list[bool]:
        await h.faults(error_rate=0.5, seed=7)
        return [(await call())[0] >= 500 for _ in range(12)]

    first = await run()
    second = await run()
    assert first == second  # the same seed gives the same sequence
    assert True in first and False in first
    await h.faults(error_rate=0.0, fail_next=1, error_status=503)
    status, body, _ = await call()
    assert status == 503 and error_shape_ok(name, 503, body)
    assert 200 <= (await call())[0] < 300  # fail_next is used up


@pytest.mark.parametrize("name", NAMES)
async def test_downtime_window_then_recovery(harness: HarnessFactory, name: str) -> None:
    h = await harness(name)
    call = await valid_call(h)
    await h.faults(down_for=1.0)
    status, body, headers = await call()
    assert status == 503 and error_shape_ok(name, 503, body)
    assert int(headers["Retry-After"]) >= 1
    await asyncio.sleep(1.1)
    assert 200 <= (await call())[0] < 300


async def test_downtime_drop_mode_closes_the_connection(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    call = await valid_call(h)
    await h.faults(down_for=5, down_mode="drop")
    with pytest.raises(aiohttp.ClientError):
        await call()
    assert (await h.requests())[-1]["status"] is None
    await h.faults(down_for=0)
    assert (await call())[0] == 200


@pytest.mark.parametrize("name", ["netsuite", "stripe", "webhook"])
async def test_latency_is_added(harness: HarnessFactory, name: str) -> None:
    h = await harness(name)
    call = await valid_call(h)
    await h.faults(latency=0.25)
    began = time.monotonic()
    status, _, _ = await call()
    assert 200 <= status < 300
    assert time.monotonic() - began >= 0.2  # loose: never assert an upper bound


@pytest.mark.parametrize("name", NAMES)
async def test_timeout_holds_longer_than_the_client_waits(
    harness: HarnessFactory, name: str
) -> None:
    h = await harness(name)
    call = await valid_call(h)
    await h.faults(timeout_rate=1.0, timeout_hold=60)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(call(), 0.3)
    async with h.http.post(f"{h.url}/_sim/release") as r:
        assert r.status == 200
    await h.faults(timeout_rate=0.0)
    assert 200 <= (await call())[0] < 300


async def test_timeout_hold_ends_in_a_504(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    call = await valid_call(h)
    await h.faults(timeout_rate=1.0, timeout_hold=0.2)
    status, body, _ = await call()
    assert status == 504 and body["error"]["code"] == "timeout"


async def test_faults_match_limits_them_to_some_paths(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    await h.faults(fail_next=5, match="/orders")
    async with h.http.post(f"{h.url}/entitlements", json={"id": "1"}) as r:
        assert r.status == 200
    async with h.http.post(f"{h.url}/orders", json={"id": "2"}) as r:
        assert r.status == 500


async def test_faults_reject_unknown_knobs_and_report_current(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    async with h.http.post(f"{h.url}/_sim/faults", json={"nope": 1}) as r:
        assert r.status == 400
    await h.faults(latency=0.01, down_for=30)
    async with h.http.get(f"{h.url}/_sim/faults") as r:
        current = await r.json()
    assert current["latency"] == 0.01 and current["down_remaining"] > 20


async def test_start_faults_are_restored_by_reset(harness: HarnessFactory) -> None:
    h = await harness("webhook", faults={"fail_next": 1})
    call = await valid_call(h)
    assert (await call())[0] == 500
    assert (await call())[0] == 200
    await h.reset()
    assert await h.state() == {}
    assert await h.requests() == []
    assert (await call())[0] == 500  # the start-time fault is back


async def test_seed_preloads_records(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    seed = {"records": [{"type": "sku", "external_id": "S-1", "data": {"qty": 4}}]}
    async with h.http.post(f"{h.url}/_sim/seed", json=seed) as r:
        assert r.status == 200
    async with h.http.post(f"{h.url}/_sim/seed", json={"bad": 1}) as r:
        assert r.status == 400
    state = await h.state()
    assert state["sku"][0]["external_id"] == "S-1" and state["sku"][0]["data"] == {"qty": 4}
