"""The hot-path shortcuts (issue 7) keep the behaviour they replace.

Inline delivery for no-I/O connectors, outcomes that wait for the next group commit, the one-call
idempotency check-and-set, the cheaper JSON log line and the delivery-state snapshot.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import structlog

from router.ids import decode_id, encode_id, new_id_bytes
from router.logs import render_json, timestamp
from router.store.journal import Journal
from router.store.records import AppendOutcome, DeliveryState
from router.store.statuses import Status
from router.testing import install, recorded
from tests.conftest import EngineFactory

install()  # the `recording-inline` connector kind of router.testing


def _routes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text("rec:\n  kind: recording-inline\n")
    (folder / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: order.created}\nkey: /customer\n"
        "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
        "steps:\n  - to: {connector: rec, path: '/o/{/customer}'}\n"
    )
    return folder


async def test_inline_connector_delivers_in_order_per_key_and_journals_outcomes(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    engine = await make_engine(_routes(tmp_path / "routes"))
    recorder = recorded("rec")
    recorder.fail_once = {"/o/c1"}  # c1's first head fails once, transiently
    acks = []
    for i in range(60):
        body = orjson.dumps({"id": f"m{i}", "type": "order.created", "customer": f"c{i % 3}"})
        acks.append((f"c{i % 3}", (await engine.submit("shop", body)).id))
    await engine.wait_idle(10)
    seen = [(r.path.rsplit("/", 1)[-1], r.message_id) for r in recorder.requests]
    for key in ("c0", "c1", "c2"):  # acceptance order per key, a retried head included
        assert [m for k, m in seen if k == key] == [m for k, m in acks if k == key]
    # Route actors run on the event loop: an inline send crosses no thread at all.
    assert recorder.threads == {threading.current_thread().name}
    assert engine.journal is not None
    for _, message_id in acks:
        [state] = engine.journal.deliveries(decode_id(message_id)).values()
        assert state.status is Status.DELIVERED
    assert engine.journal.counts()["pending"] == 0
    first_c1 = next(m for k, m in acks if k == "c1")
    kinds = [e.kind for e in engine.journal.timeline(decode_id(first_c1))]
    assert kinds[-2:] == ["retry_scheduled", "delivered"]  # decision order, not write order


def test_idempotency_check_and_set_in_one_call(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", map_size_mb=64)
    try:
        from router.envelope import Envelope

        def env(body: bytes) -> Envelope:
            return Envelope(new_id_bytes(), "shop", "t", "key-1", "", "", time.time(), body)

        first, same, other = env(b"{}"), env(b"{}"), env(b'{"a": 1}')
        results = journal.append([first, same, other])
        assert [r.outcome for r in results] == [
            AppendOutcome.ACCEPTED,
            AppendOutcome.DUPLICATE,
            AppendOutcome.CONFLICT,
        ]
        assert results[1].message_id == first.id and results[2].message_id == first.id
        again = journal.append([env(b"{}")])
        assert again[0].outcome is AppendOutcome.DUPLICATE
    finally:
        journal.close()


def test_delivery_state_copy_is_a_full_snapshot() -> None:
    state = DeliveryState(Status.RETRY, 3, "k", 1.5, "boom", 0.5, 2.5, 0.75, adopted=True)
    copy = state.copy()
    assert copy == dataclasses.replace(state) and copy is not state
    assert [f.name for f in dataclasses.fields(DeliveryState)] == [
        "status",
        "attempts",
        "ordering_key",
        "next_at",
        "last_error",
        "first_attempt_at",
        "updated_at",
        "retry_from",
        "adopted",
    ], "a new field must be added to DeliveryState.copy()"


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_json_log_line_is_what_the_stock_renderer_writes() -> None:
    stock = structlog.processors.JSONRenderer()
    events: list[dict[Any, Any]] = [
        {"event": "delivered", "message_id": "01K", "attempts": 1, "level": "info"},
        {"event": "x", "nested": {"a": [1, 2.5, None, True]}, "text": 'é\n"q"', 5: "int key"},
        {"event": "y", "obj": _Opaque(), "big": 2**80, "nan": float("nan")},
    ]
    for event in events:
        line = stock(None, "info", dict(event))
        assert isinstance(line, str)
        assert render_json(None, "info", dict(event)) == line.encode()


def test_log_timestamp_has_the_stock_format() -> None:
    stamp = timestamp(None, "info", {})["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    stock = structlog.processors.TimeStamper(fmt="iso", utc=True)(None, "info", {})["timestamp"]
    assert stamp[:16] == stock[:16] or stamp[:13] == stock[:13]  # same minute (or hour edge)


def test_message_ids_stay_increasing_and_decodable() -> None:
    ids = [new_id_bytes() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(decode_id(encode_id(raw)) == raw for raw in ids[:50])
