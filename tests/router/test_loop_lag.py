"""The loop-lag signal the edge sheds on: sustained lag counts, a single slow tick does not."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from router.errors import BackpressureError
from router.runtime.lag import WINDOW, LoopLag
from tests.conftest import EngineFactory
from tests.support.routes import write_routes


def test_only_a_sustained_lag_overloads() -> None:
    lag = LoopLag(asyncio.new_event_loop(), limit_s=0.02, interval_s=0.005)
    try:
        lag.observe(0.5)  # one slow callback
        assert not lag.overloaded
        for _ in range(WINDOW):
            lag.observe(0.03)
        assert lag.overloaded and lag.lag_s == pytest.approx(0.03)
        lag.observe(0.0)  # one tick on time reopens
        assert not lag.overloaded
        off = LoopLag(lag.loop, limit_s=0.0, interval_s=0.005)
        for _ in range(WINDOW):
            off.observe(1.0)
        assert off.lag_s == 1.0 and not off.overloaded
    finally:
        lag.loop.close()


async def test_a_blocked_loop_is_measured() -> None:
    lag = LoopLag(asyncio.get_running_loop(), limit_s=0.02, interval_s=0.002)
    lag.start()
    try:
        for _ in range(3 * WINDOW):
            time.sleep(0.04)  # noqa: ASYNC251 - a loop busy on purpose: every tick runs late
            await asyncio.sleep(0)
        assert lag.overloaded and lag.lag_s >= 0.03
    finally:
        lag.stop()
    assert lag.lag_s == 0.0


async def test_the_edge_sheds_on_lag_with_its_own_reason(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", "http://127.0.0.1:9"))
    assert engine.lag is not None and engine.overloaded() is None
    for _ in range(WINDOW):
        engine.lag.observe(1.0)
    assert engine.overloaded() == "loop_lag"
    error = engine.shed("loop_lag")
    assert isinstance(error, BackpressureError) and error.retry_after == 1.0
    assert engine.metrics.shed.labels(reason="loop_lag")._value.get() == 1
    body = orjson.dumps({"id": "o-1", "type": "order.created", "customer": "c"})
    engine.lag.observe(0.0)
    assert engine.overloaded() is None  # one tick on time
    assert not (await engine.submit("shop", body)).duplicate
