"""Running the shipped jobs in a test: an engine over routes/ against the simulators, and reads.

The fixtures ``sims`` and ``shipped_engine`` (tests/router/jobs/conftest.py) start them; these
helpers run a job to its end and read what it stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router import Engine
from router.jobs.service import JobService

ROUTES = Path(__file__).resolve().parents[2] / "routes"


def jobs(engine: Engine) -> JobService:
    assert engine.jobs is not None
    return engine.jobs


async def run_job(engine: Engine, job: str) -> dict[str, Any]:
    """Start ``job`` now, wait for it to end, and return its stored run."""
    run = await jobs(engine).run_now(job)
    await jobs(engine).wait(job)
    stored = jobs(engine).store.run(run["id"])
    assert stored is not None
    return stored


def report(engine: Engine, run: dict[str, Any], recon: str) -> list[dict[str, Any]]:
    return [row for _, row in jobs(engine).store.report(run["id"], recon)]


def journal_messages(engine: Engine) -> int:
    assert engine.journal is not None
    with engine.journal.reader() as reader:
        return reader.counts()["msg"]


async def settled(engine: Engine, probe: Callable[[], dict[str, Any]], want: int) -> dict[str, Any]:
    """Wait until the repairs are delivered: the journal idle and ``probe()`` holding ``want``."""
    deadline = time.monotonic() + 60
    while True:
        await engine.wait_idle(timeout=60)
        found = probe()
        if len(found) >= want or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)
