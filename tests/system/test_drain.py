"""Graceful drain: SIGTERM under load exits 0 in time, and every acknowledged message is kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from router.ids import decode_id
from router.store.journal import Journal
from router.testing import Sink
from tests.support.process import RouterProcess
from tests.support.routes import write_routes

JSON = {"Content-Type": "application/json"}
pytestmark = pytest.mark.slow


async def test_sigterm_under_load_drains_and_keeps_every_ack(tmp_path: Path, sink: Sink) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    router = RouterProcess(
        routes, tmp_path / "data", env={"INTERLOCK_DRAIN_GRACE_S": "0.5"}
    ).start()
    acked: dict[str, str] = {}
    refused = 0
    stop_sending = asyncio.Event()

    async def sender(session: aiohttp.ClientSession, worker: int) -> None:
        nonlocal refused
        n = 0
        while not stop_sending.is_set():
            ident = f"{worker}-{n}"
            n += 1
            body = orjson.dumps({"id": ident, "type": "order.created", "customer": f"c{worker}"})
            try:
                async with session.post(
                    router.url + "/webhooks/shop", data=body, headers=JSON
                ) as r:
                    if r.status == 202:
                        acked[ident] = (await r.json())["id"]
                    else:
                        assert r.status == 503, await r.text()
                        refused += 1
            except (TimeoutError, aiohttp.ClientError):
                refused += 1
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        workers = [asyncio.create_task(sender(session, w)) for w in range(16)]
        await asyncio.sleep(1.0)
        before_term = len(acked)
        started = time.monotonic()
        assert router.proc is not None
        router.proc.terminate()  # SIGTERM
        loop = asyncio.get_running_loop()
        code = await loop.run_in_executor(None, router.proc.wait, 30)
        elapsed = time.monotonic() - started
        stop_sending.set()
        await asyncio.gather(*workers)

    log = router.log.read_text()
    print(
        f"\ndrain: acked={len(acked)} (before SIGTERM {before_term}) refused={refused} "
        f"exit={code} in {elapsed:.2f}s"
    )
    assert code == 0, log[-3000:]
    assert elapsed < 25
    assert before_term > 0 and len(acked) > before_term  # acks kept flowing during the grace
    assert '"event": "draining"' in log and '"event": "stopped"' in log
    assert "Traceback" not in log
    journal = Journal(tmp_path / "data" / "journal", readonly=True)
    try:
        missing = [i for i, mid in acked.items() if journal.message(decode_id(mid)) is None]
    finally:
        journal.close()
    assert missing == []
