"""A delivered message crosses threads three times: Append in, the commit back, the outcome in.

Counted, not assumed: every message to the journal thread (its inbox) and every hand-off to the
loop from another thread (``call_soon_threadsafe``) is recorded while messages flow through a real
engine to an asynchronous connector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from router.engine import Engine
from router.testing import install, recorded
from tests.conftest import EngineFactory

install()  # the `recording` connector kind of router.testing: an awaiting connector


def _routes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text("rec:\n  kind: recording\n")
    (folder / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: order.created}\nkey: /customer\n"
        "steps:\n  - to: {connector: rec}\n"
    )
    return folder


class _Crossings:
    """Counts messages into the journal thread and callbacks handed to the loop from outside."""

    def __init__(self, engine: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.to_journal: list[str] = []
        self.to_loop = 0
        inbox = engine._journal_ref.actor_inbox
        put, threadsafe = inbox.put, loop.call_soon_threadsafe

        def counting_put(envelope: Any, *args: Any, **kwargs: Any) -> None:
            self.to_journal.append(type(envelope.message).__name__)
            put(envelope, *args, **kwargs)

        def counting_threadsafe(*args: Any, **kwargs: Any) -> Any:
            self.to_loop += 1
            return threadsafe(*args, **kwargs)

        self._undo = [(inbox, "put", put), (loop, "call_soon_threadsafe", threadsafe)]
        inbox.put = counting_put
        loop.call_soon_threadsafe = counting_threadsafe  # type: ignore[method-assign,assignment]

    def undo(self) -> None:
        for obj, name, original in self._undo:
            setattr(obj, name, original)


def _order(i: int) -> bytes:
    return orjson.dumps({"id": f"o-{i}", "type": "order.created", "customer": f"c{i % 4}"})


@pytest.fixture
async def counted(
    tmp_path: Path, make_engine: EngineFactory
) -> AsyncIterator[tuple[Engine, _Crossings]]:
    """An engine on the recorder connector, with its crossings counted until teardown."""
    engine = await make_engine(_routes(tmp_path / "routes"))
    crossings = _Crossings(engine, asyncio.get_running_loop())
    yield engine, crossings
    crossings.undo()


async def test_one_delivered_message_crosses_three_times(
    counted: tuple[Engine, _Crossings],
) -> None:
    engine, crossings = counted
    ack = await engine.submit("shop", _order(1))
    await engine.wait_idle(10)
    assert [r.message_id for r in recorded("rec").requests] == [ack.id]
    assert recorded("rec").threads == {threading.current_thread().name}  # the I/O is on the loop
    assert crossings.to_journal == ["Append", "Record"]
    assert crossings.to_loop == 1  # the commit: the ack and the delivery in one hand-off


async def test_under_load_crossings_are_per_batch_not_per_message(
    counted: tuple[Engine, _Crossings],
) -> None:
    engine, crossings = counted
    acks = await asyncio.gather(*(engine.submit("shop", _order(i)) for i in range(200)))
    await engine.wait_idle(10)
    assert sorted([r.message_id for r in recorded("rec").requests]) == sorted(a.id for a in acks)
    appends = crossings.to_journal.count("Append")
    assert set(crossings.to_journal) <= {"Append", "Record"}
    assert crossings.to_loop == appends  # one hand-off back per commit
    # Group commit batches the appends, and outcomes travel in batches too: far fewer crossings
    # than messages (one message alone pays three).
    assert appends < len(acks)
    assert len(crossings.to_journal) + crossings.to_loop < len(acks) / 4
