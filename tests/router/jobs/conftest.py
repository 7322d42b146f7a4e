"""Fixtures of the job tests: the simulators, and an engine over the shipped routes/ on them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from router import Engine, Settings, load_config
from simulators.runner import SimulatorThread
from tests.support.jobs import ROUTES
from tests.support.scenarios import simulator_env


@pytest.fixture
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


@pytest.fixture
async def engine(sims: SimulatorThread, tmp_path: Path) -> AsyncIterator[Engine]:
    env = {**os.environ, **simulator_env(sims)}
    running = Engine(load_config(ROUTES, env), Settings(data_dir=tmp_path / "data", demo=True))
    await running.start()
    yield running
    if running.started:
        await running.stop()
