"""The crash test: SIGKILL the real router 5 times under load; nothing acked is lost or doubled.

A loopback sink applies each Idempotency-Key once and records every call. 5,000 messages are sent
concurrently; any request that is not acknowledged (connection refused or reset while the router is
down, or a 503) is retried with the same body, so the same idempotency key. The router is killed
with SIGKILL when the acknowledged count passes 5 random thresholds, and restarted each time.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp
import orjson
import pytest

from router.testing import Sink
from tests.support.acks import post_until_acked
from tests.support.process import RouterProcess
from tests.support.routes import write_routes

MESSAGES = 5000
KILLS = 5
CONCURRENCY = 64
FAST_RETRY = "retry: {max_attempts: 50, initial: 20ms, max: 200ms}\n"

JSON = {"Content-Type": "application/json"}
pytestmark = pytest.mark.slow


async def _send_until_acked(
    session: aiohttp.ClientSession, router: RouterProcess, ident: str, acked: set[str]
) -> None:
    body = orjson.dumps(
        {"id": ident, "type": "order.created", "customer": f"c{int(ident) % 97}", "n": ident}
    )
    await post_until_acked(session, router.url + "/webhooks/shop", body, JSON)
    acked.add(ident)


async def test_sigkill_five_times_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, sink: Sink
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    router = RouterProcess(routes, tmp_path / "data").start()
    rng = random.Random()
    thresholds = sorted(rng.sample(range(200, MESSAGES - 200), KILLS))
    acked: set[str] = set()
    idents = [str(i) for i in range(MESSAGES)]
    try:
        limit = asyncio.Semaphore(CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=CONCURRENCY)
        ) as session:

            async def send(ident: str) -> None:
                async with limit:
                    await _send_until_acked(session, router, ident, acked)

            async def killer() -> None:
                loop = asyncio.get_running_loop()
                for threshold in thresholds:
                    while len(acked) < threshold:  # noqa: ASYNC110 - polling a plain set
                        await asyncio.sleep(0.005)
                    await loop.run_in_executor(None, router.kill)
                    await asyncio.sleep(rng.uniform(0.0, 0.3))
                    await loop.run_in_executor(None, router.start)

            await asyncio.gather(killer(), *(send(i) for i in idents))

        # Wait for the router (restarted after the last kill) to deliver everything it acked.
        for _ in range(600):
            if len(sink.applied) >= len(acked):
                break
            await asyncio.sleep(0.1)
    finally:
        router.stop()

    calls = sink.snapshot()
    applied = [c.json()["id"] for c in calls if c.applied]
    lost = acked - set(applied)
    unexpected = set(applied) - set(idents)
    doubled = len(applied) - len(set(applied))
    redeliveries = len(calls) - len(applied)
    print(
        f"\ncrash test: sent={MESSAGES} acked={len(acked)} applied={len(applied)} kills={KILLS} "
        f"starts={router.starts} lost={len(lost)} unexpected={len(unexpected)} doubled={doubled} "
        f"raw_redeliveries={redeliveries}"
    )
    assert router.starts == KILLS + 1
    assert len(acked) == MESSAGES
    assert lost == set()
    assert unexpected == set()
    assert doubled == 0
