"""Black box over HTTP: old dead letters no longer stop the sweeper, and dead letters expire.

A real ``interlock run`` with a 3 s idempotency retention and a 0.2 s sweep: 10,001 messages are
dead-lettered (the target refuses them), then 1,000 ordinary ones are delivered. Once the
retention has passed, the ordinary messages' keys are accepted again as new (202, not a 200
duplicate): the sweeper got past the 10,001 kept dead letters, which the old sweeper re-read on
every pass (10,000 at a time) without ever reaching what came after them. Further rounds of the
same 1,000 keys keep the journal's message count flat instead of growing by 1,000 a round. Then
the dead letters' own retention (15 s) passes and they are archived to a file and leave the
journal.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from router.testing import Sink
from tests.support.process import RouterProcess

pytestmark = pytest.mark.slow
DEAD, ORDINARY = 10_001, 1_000
RETENTION_S, DEAD_RETENTION_S = 3.0, 15.0
CONCURRENCY = 32


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


def routes(folder: Path, sink: Sink) -> Path:
    folder.mkdir()
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(f"target:\n  kind: http\n  base_url: {sink.url}\n")
    (folder / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: order.created}\n"
        "steps:\n  - to: {connector: target, path: /orders}\n"
        "retry: {max_attempts: 1}\n"
    )
    return folder


async def post_all(router: RouterProcess, ids: list[str]) -> list[int]:
    """POST each id (retrying a 503) and return the final statuses, in order."""
    limit = asyncio.Semaphore(CONCURRENCY)
    statuses = [0] * len(ids)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(i: int, ident: str) -> None:
            body = orjson.dumps({"id": ident, "type": "order.created"})
            async with limit:
                while True:
                    async with session.post(
                        router.url + "/webhooks/shop",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as response:
                        if response.status != 503:
                            statuses[i] = response.status
                            return
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(one(i, ident) for i, ident in enumerate(ids)))
    return statuses


def readiness(router: RouterProcess) -> dict[str, Any]:
    token = (router.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{router.admin_port}/readiness",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        document: dict[str, Any] = orjson.loads(answer.read())
    return document


async def until(check: Any, what: str, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


async def test_the_sweeper_gets_past_kept_dead_letters_and_they_expire(
    tmp_path: Path, sink: Sink
) -> None:
    dead_ids = [f"dead-{i}" for i in range(DEAD)]
    sink.fail_keys = dict.fromkeys(dead_ids, 400)  # a permanent refusal: dead-lettered at once
    env = {
        "INTERLOCK_IDEMPOTENCY_RETENTION_S": str(RETENTION_S),
        "INTERLOCK_DEAD_LETTER_RETENTION_S": str(DEAD_RETENTION_S),
        "INTERLOCK_SWEEP_INTERVAL_S": "0.2",
    }
    router = RouterProcess(routes(tmp_path / "routes", sink), tmp_path / "data", env=env).start()
    try:
        assert set(await post_all(router, dead_ids)) == {202}
        ordinary = [f"order-{i}" for i in range(ORDINARY)]
        assert set(await post_all(router, ordinary)) == {202}
        await until(lambda: len(sink.applied) >= ORDINARY, "the ordinary messages delivered")

        # Once the retention has passed (and a sweep ran), the same keys are new messages again.
        await asyncio.sleep(RETENTION_S + 1.0)
        await until(
            lambda: readiness(router)["records"]["idem"] == 0, "every idempotency key expired"
        )
        assert set(await post_all(router, ordinary)) == {202}

        counts = []
        for _ in range(3):  # round after round of the same keys: the journal stays flat
            await asyncio.sleep(RETENTION_S + 1.0)
            await until(lambda: readiness(router)["records"]["idem"] == 0, "keys expired")
            assert set(await post_all(router, ordinary)) == {202}
            counts.append(readiness(router)["records"]["msg"])
        assert max(counts) <= DEAD + ORDINARY, counts  # the kept dead letters + one round at most

        # The dead letters' own retention: archived to a file, then out of the journal.
        await until(
            lambda: readiness(router)["records"]["dlq"] == 0, "dead letters expired", within=180
        )
        archived = sorted((router.data_dir / "archive").glob("dead-letters-*.jsonl"))
        lines = [orjson.loads(line) for path in archived for line in path.read_bytes().splitlines()]
        assert {line["message"]["idempotency_key"] for line in lines} == set(dead_ids)
        assert all(line["dead_letters"][0]["route"] == "orders" for line in lines)
        assert readiness(router)["records"]["msg"] <= ORDINARY
    finally:
        router.stop()
