"""Backpressure: a stalled target makes ingress shed with 503 + Retry-After, memory stays flat,
and every accepted message is delivered once the target recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from router.testing import Sink
from tests.support.process import RouterProcess
from tests.support.routes import write_routes

CREDIT = 300
ROUND = 2000
JSON = {"Content-Type": "application/json"}
pytestmark = pytest.mark.slow


async def _fire(
    session: aiohttp.ClientSession, url: str, start: int, count: int
) -> tuple[set[str], list[str]]:
    accepted: set[str] = set()
    retry_after: list[str] = []

    async def one(i: int) -> None:
        body = orjson.dumps(
            {"id": str(i), "type": "order.created", "customer": f"c{i % 50}", "pad": "x" * 512}
        )
        async with session.post(url, data=body, headers=JSON) as response:
            if response.status == 202:
                accepted.add(str(i))
            else:
                assert response.status == 503, await response.text()
                assert response.headers["Content-Type"] == "application/problem+json"
                retry_after.append(response.headers["Retry-After"])

    await asyncio.gather(*(one(i) for i in range(start, start + count)))
    return accepted, retry_after


async def test_stalled_sink_sheds_with_503_and_delivers_everything_after(
    tmp_path: Path, sink: Sink
) -> None:
    sink.stall()
    routes = write_routes(
        tmp_path / "routes",
        sink.url,
        route_extra="retry: {max_attempts: 100, initial: 50ms, max: 500ms}\n",
    )
    router = RouterProcess(
        routes, tmp_path / "data", env={"INTERLOCK_MAX_INFLIGHT": str(CREDIT)}
    ).start()
    try:
        url = router.url + "/webhooks/shop"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            first, shed_first = await _fire(session, url, 0, ROUND)
            rss_after_first = router.rss_kib()
            second, shed_second = await _fire(session, url, ROUND, ROUND)
            rss_after_second = router.rss_kib()
            sink.release()
            for _ in range(600):
                if len(sink.applied) >= len(first | second):
                    break
                await asyncio.sleep(0.1)
            # Credit is back: new messages are accepted again.
            third, _ = await _fire(session, url, 2 * ROUND, 10)
            for _ in range(100):
                if len(sink.applied) >= len(first | second | third):
                    break
                await asyncio.sleep(0.1)
    finally:
        router.stop()

    accepted = first | second
    growth = rss_after_second - rss_after_first
    print(
        f"\nbackpressure: credit={CREDIT} accepted={len(accepted)} "
        f"shed={len(shed_first) + len(shed_second)} "
        f"rss_first={rss_after_first} KiB rss_second={rss_after_second} KiB growth={growth} KiB"
    )
    assert len(accepted) <= CREDIT  # the sink was stalled throughout both rounds
    assert len(second) == 0 and len(shed_second) == ROUND
    assert set(shed_first + shed_second) == {"1"}
    assert growth < 16 * 1024, "memory grew with refused requests"
    applied = {str(body["id"]) for body in sink.applied_bodies()}
    assert applied == accepted | third
    assert len(third) == 10
