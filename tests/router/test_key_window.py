"""The vendor key-window guard on route deliveries, on the engine's own clock.

A connector that says how long its target deduplicates a key (``KeyWindowed.key_window``) is never
sent a retry or a replay whose key was first sent longer ago than that: the head is dead-lettered
without a call, with the reason on the dead letter and in the timeline. The engine's ``clock`` is
a controllable one here, so "25 hours later" takes no time at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar

import orjson
import pytest
from pydantic import BaseModel, ConfigDict

from router import Engine, Settings, load_config
from router.connector import OutboundRequest
from router.errors import PermanentError, TransientError
from router.ids import decode_id
from router.plugin import register
from router.registry import connectors
from router.store.records import DeliveryState
from router.store.statuses import Status

WINDOW_S = 10.0
DEADLINE_S = 60.0


class WindowedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    window: float | None = WINDOW_S  # None: safe to resend at any age
    concurrency: int = 4
    timeout_s: float = 5.0


class WindowedConnector:
    """Records every call; fails as scripted; its target keeps a key for ``window`` seconds."""

    instances: ClassVar[dict[str, WindowedConnector]] = {}

    def __init__(self, name: str, config: WindowedConfig) -> None:
        self.window = config.window
        self.concurrency = config.concurrency
        self.timeout_s = config.timeout_s
        self.calls: list[OutboundRequest] = []
        self.script: list[str] = []
        WindowedConnector.instances[name] = self

    def key_window(self, request: OutboundRequest) -> float | None:
        return self.window

    async def start(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        await asyncio.sleep(0)
        self.calls.append(request)
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "permanent":
            raise PermanentError("HTTP 422 from the target")
        if outcome == "transient":
            raise TransientError("HTTP 503 from the target")
        return None

    async def close(self) -> None:
        return None


class Clock:
    """The engine's clock: the wall clock plus an offset the test moves (``step`` per read)."""

    def __init__(self, step: float = 0.0) -> None:
        self.offset = 0.0
        self.step = step

    def __call__(self) -> float:
        self.offset += self.step
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(autouse=True)
def _windowed_kind() -> Iterator[None]:
    if "test-windowed" not in connectors():
        register("connector", "test-windowed", WindowedConfig, WindowedConnector)
    yield
    WindowedConnector.instances.clear()


def write(folder: Path, window: str = "10") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(f"vendor:\n  kind: test-windowed\n  window: {window}\n")
    (folder / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: order.created}\nkey: /customer\n"
        "steps:\n  - to: {connector: vendor, path: /orders}\n"
        "retry: {max_attempts: 5, initial: 10ms, max: 20ms, jitter: none}\n"
    )
    return folder


@asynccontextmanager
async def running(folder: Path, data: Path, clock: Clock) -> AsyncIterator[Engine]:
    engine = Engine(load_config(folder), Settings(data_dir=data), clock=clock)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def vendor() -> WindowedConnector:
    return WindowedConnector.instances["vendor"]


async def dead_once(engine: Engine, ident: str = "o-1") -> bytes:
    """Submit one order its target refuses: it is dead-lettered after one call."""
    vendor().script.append("permanent")
    ack = await engine.submit("shop", orjson.dumps({"id": ident, "type": "order.created",
                                                   "customer": "c1"}))  # fmt: skip
    await engine.wait_idle(DEADLINE_S)
    assert engine.journal is not None
    message_id = decode_id(ack.id)
    assert [m for m, _ in engine.journal.dead_letters()] == [message_id]
    return message_id


def state(engine: Engine, message_id: bytes) -> DeliveryState:
    assert engine.journal is not None
    return engine.journal.deliveries(message_id)["orders"]


async def test_a_replay_past_the_window_is_refused_with_its_reason(tmp_path: Path) -> None:
    clock = Clock()
    async with running(write(tmp_path / "routes"), tmp_path / "data", clock) as engine:
        message_id = await dead_once(engine)
        first_sent = state(engine, message_id).first_attempt_at
        assert first_sent > 0

        clock.advance(25 * 3600)  # the next day: the target has forgotten the key
        assert await engine.replay([(message_id, "orders")]) == 1
        await engine.wait_idle(DEADLINE_S)
        assert len(vendor().calls) == 1  # never sent again
        assert engine.journal is not None
        [(_, dead)] = engine.journal.dead_letters()
        assert dead["reason"].startswith("key window passed")
        assert "10s" in dead["reason"] and "first sent 25" in dead["reason"]
        assert dead["attempts"] == 0  # nothing reached the target
        timeline = engine.journal.timeline(message_id)
        assert [e.kind for e in timeline][-2:] == ["replayed", "dead_lettered"]
        assert timeline[-1].detail == dead["reason"]
        assert state(engine, message_id).first_attempt_at == first_sent  # kept by the replay

        # Refused again on the next replay: the key only gets older.
        await engine.replay([(message_id, "orders")])
        await engine.wait_idle(DEADLINE_S)
        assert len(vendor().calls) == 1
        assert engine.journal.dead_letters()[0][1]["reason"].startswith("key window passed")


async def test_a_replay_within_the_window_is_delivered(tmp_path: Path) -> None:
    clock = Clock()
    async with running(write(tmp_path / "routes"), tmp_path / "data", clock) as engine:
        message_id = await dead_once(engine)
        clock.advance(WINDOW_S / 2)
        assert await engine.replay([(message_id, "orders")]) == 1
        await engine.wait_idle(DEADLINE_S)
        calls = vendor().calls
        assert len(calls) == 2 and calls[0].idempotency_key == calls[1].idempotency_key
        assert state(engine, message_id).status is Status.DELIVERED


async def test_a_connector_answering_none_is_never_refused(tmp_path: Path) -> None:
    clock = Clock()
    folder = write(tmp_path / "routes", window="null")
    async with running(folder, tmp_path / "data", clock) as engine:
        message_id = await dead_once(engine)
        clock.advance(100 * 86400)
        assert await engine.replay([(message_id, "orders")]) == 1
        await engine.wait_idle(DEADLINE_S)
        assert len(vendor().calls) == 2
        assert state(engine, message_id).status is Status.DELIVERED


async def test_a_retry_past_the_window_is_refused_too(tmp_path: Path) -> None:
    # Every read of this clock is 11 s after the last: the first retry is already too late.
    clock = Clock(step=WINDOW_S + 1)
    async with running(write(tmp_path / "routes"), tmp_path / "data", clock) as engine:
        vendor().script.append("transient")
        ack = await engine.submit("shop", orjson.dumps({"id": "o-1", "type": "order.created",
                                                       "customer": "c1"}))  # fmt: skip
        await engine.wait_idle(DEADLINE_S)
        assert len(vendor().calls) == 1
        assert engine.journal is not None
        [(_, dead)] = engine.journal.dead_letters()
        assert dead["reason"].startswith("key window passed")
        assert dead["attempts"] == 1 and "503" in dead["last_error"]
        assert state(engine, decode_id(ack.id)).status is Status.DEAD


async def test_a_head_never_sent_is_not_refused_on_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transform that failed sent nothing: its replay, however late, is a first send."""
    from router.runtime import request_builder, route_actor

    original = request_builder.build_request
    failing = {"on": True}

    def build(*args: object, **kwargs: object) -> OutboundRequest:
        if failing["on"]:
            raise PermanentError("transform t failed: ValueError: not yet")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(route_actor, "build_request", build)
    clock = Clock()
    async with running(write(tmp_path / "routes"), tmp_path / "data", clock) as engine:
        ack = await engine.submit("shop", orjson.dumps({"id": "o-1", "type": "order.created",
                                                       "customer": "c1"}))  # fmt: skip
        await engine.wait_idle(DEADLINE_S)
        message_id = decode_id(ack.id)
        assert state(engine, message_id).status is Status.DEAD
        assert state(engine, message_id).first_attempt_at == 0.0  # never sent
        failing["on"] = False
        clock.advance(25 * 3600)
        assert await engine.replay([(message_id, "orders")]) == 1
        await engine.wait_idle(DEADLINE_S)
        assert len(vendor().calls) == 1
        assert state(engine, message_id).status is Status.DELIVERED
