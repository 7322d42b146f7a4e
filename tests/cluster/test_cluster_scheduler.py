"""Cluster mode runs the scheduled jobs once per cluster: on the owner of partition 0.

Two engines on the shipped routes/ (two jobs, against the simulators) share a backbone: exactly
one of them runs the scheduler. When it drains, the other takes partition 0 over and with it the
scheduler, and a job run there completes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from router import Engine, load_config
from simulators.runner import SimulatorThread
from tests.support.cluster import cluster_settings
from tests.support.jobs import ROUTES, run_job
from tests.support.scenarios import simulator_env


@pytest.fixture
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


@pytest.fixture
async def pair(
    sims: SimulatorThread, tmp_path: Path, backbone_url: str, prefix: str
) -> AsyncIterator[tuple[Engine, Engine]]:
    env = {**os.environ, **simulator_env(sims)}
    engines = []
    for name in ("a", "b"):
        settings = cluster_settings(tmp_path / name, backbone_url, prefix, name)
        engine = Engine(load_config(ROUTES, env), settings)
        await engine.start()
        engines.append(engine)
    yield engines[0], engines[1]
    for engine in engines:
        if engine.started:
            await engine.stop()


async def until(check: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_one_scheduler_per_cluster_and_it_moves_with_partition_0(
    pair: tuple[Engine, Engine],
) -> None:
    a, b = pair
    assert a.cluster is not None and b.cluster is not None

    def leaders() -> list[Engine]:
        return [e for e in (a, b) if e.jobs is not None]

    def settled() -> bool:  # partition 0 has an owner, and only that owner schedules
        owners = [e for e in (a, b) if 0 in e.cluster.partitions.owned]  # type: ignore[union-attr]
        return len(owners) == 1 and leaders() == owners

    await until(settled, "one scheduler, on partition 0's owner")
    leader, other = (a, b) if a.jobs is not None else (b, a)
    await leader.stop()  # drains: partition 0 is released at once
    await until(lambda: other.jobs is not None, "the scheduler moved to the other instance")
    run = await run_job(other, "accounts-hourly")
    assert run["state"] == "succeeded", run
