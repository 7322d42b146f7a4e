"""Actors on the event loop: pykka semantics (tell, ask, stop, registry) without a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pykka
import pytest

from router.metrics import Metrics
from router.runtime.loop_actor import BURST, LoopActor
from router.runtime.supervision import SupervisedLoopActor


def actor_of(ref: Any) -> Any:
    """The actor behind a loop actor's ref (its inbox holds it)."""
    return ref.actor_inbox.actor


class Recorder(LoopActor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, str]] = []
        self.stopped = False

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        self.seen.append((message, threading.current_thread().name))
        return f"re: {message}"

    def on_stop(self) -> None:
        self.stopped = True


async def test_messages_run_on_the_loop_thread_in_order_from_any_thread() -> None:
    ref = Recorder.start()
    actor = actor_of(ref)
    loop_thread = threading.current_thread().name
    for i in range(3):
        ref.tell(i)

    def tell_three() -> None:
        for i in range(3):
            ref.tell(f"t{i}")

    other = threading.Thread(target=tell_three, name="other")
    other.start()
    other.join()
    assert actor.seen == []  # nothing ran inside tell(): the loop runs it
    await asyncio.sleep(0.01)
    assert [m for m, _ in actor.seen] == [0, 1, 2, "t0", "t1", "t2"]
    assert {thread for _, thread in actor.seen} == {loop_thread}
    ref.stop()


async def test_ask_from_another_thread_and_a_blocking_stop_from_the_loop() -> None:
    ref = Recorder.start()
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(None, lambda: ref.ask("q", timeout=5))
    assert answer == "re: q"
    with pytest.raises(ValueError, match="boom"):
        await loop.run_in_executor(None, lambda: ref.ask("boom", timeout=5))
    ref.tell("before stop")
    ref.stop(block=True, timeout=1)  # from the loop thread itself: handled at once, no deadlock
    actor = actor_of(ref)
    assert actor.stopped and [m for m, _ in actor.seen] == ["q", "before stop"]
    assert not ref.is_alive() and ref not in pykka.ActorRegistry.get_all()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")


async def test_a_long_burst_yields_to_other_callbacks() -> None:
    ref = Recorder.start()
    actor = actor_of(ref)
    ticks: list[int] = []
    for i in range(BURST * 2 + 1):
        ref.tell(i)
    asyncio.get_running_loop().call_soon(lambda: ticks.append(len(actor.seen)))
    await asyncio.sleep(0.01)
    assert len(actor.seen) == BURST * 2 + 1
    assert ticks == [BURST]  # the other callback ran between the first and second bursts
    ref.stop()


def test_stop_all_after_the_loop_closed_still_stops_it() -> None:
    loop = asyncio.new_event_loop()

    async def start() -> Any:
        return Recorder.start()

    ref = loop.run_until_complete(start())
    loop.close()
    pykka.ActorRegistry.stop_all()
    assert not ref.is_alive() and actor_of(ref).stopped


class Fragile(SupervisedLoopActor):
    name = "fragile"

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.handled: list[str] = []
        self.crashed: list[str] = []

    def handle(self, message: Any) -> None:
        if message == "bad":
            raise RuntimeError("bug")
        self.handled.append(message)

    def on_crash(self, message: Any, exc: Exception) -> None:
        self.crashed.append(f"{message}: {exc}")


async def test_a_supervised_loop_actor_survives_a_failing_message() -> None:
    metrics = Metrics()
    ref = Fragile.start(metrics)
    for message in ("a", "bad", "b"):
        ref.tell(message)
    await asyncio.sleep(0.01)
    actor = actor_of(ref)
    assert actor.handled == ["a", "b"] and actor.crashed == ["bad: bug"]
    assert metrics.restarts.labels(actor="fragile")._value.get() == 1
    assert ref.is_alive()
    ref.stop()
