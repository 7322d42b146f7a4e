"""Shared fixtures: every test stops all actors it started, and gets real loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from router import Engine, Settings, load_config
from router.testing import Sink


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def make_engine(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    """Start engines on a routes folder; each is stopped at teardown if the test did not."""
    started: list[Engine] = []

    async def factory(routes: Path, data_dir: Path | None = None, **settings: Any) -> Engine:
        engine = Engine(
            load_config(routes), Settings(data_dir=data_dir or tmp_path / "data", **settings)
        )
        await engine.start()
        started.append(engine)
        return engine

    yield factory
    for engine in started:
        if engine.started:
            await engine.stop()
