"""The engine end to end, embedded: real LMDB in tmp_path, real HTTP sink on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel

from router.errors import BackpressureError, ConflictError, UnknownSourceError
from router.ids import decode_id
from router.plugin import register
from router.store.statuses import Status
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.routes import write_routes

FAST_RETRY = "retry: {max_attempts: 4, initial: 10ms, max: 50ms}\n"


def order(ident: str, customer: str = "c1", **extra: object) -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": customer, **extra})


class ShopOrder(BaseModel):
    id: str
    customer: str
    amount: int


class LedgerEntry(BaseModel):
    reference: str
    cents: int


def shop_order_to_ledger(order: ShopOrder) -> LedgerEntry:
    if order.amount < 0:
        raise ValueError("negative amount")
    return LedgerEntry(reference=f"{order.customer}/{order.id}", cents=order.amount * 100)


register("transform", "test.order_to_ledger", None, shop_order_to_ledger)


async def test_accepted_message_is_delivered_once_with_stable_headers(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    ack = await engine.submit("shop", order("o-1"), {"X-Correlation-ID": "corr-42"})
    again = await engine.submit("shop", order("o-1"))
    await engine.wait_idle(10)

    assert not ack.duplicate
    assert again.duplicate and again.id == ack.id
    calls = sink.snapshot()
    assert len(calls) == 1
    assert calls[0].path == "/orders"
    assert calls[0].json()["id"] == "o-1"
    assert calls[0].headers["X-Correlation-ID"] == "corr-42"
    assert len(calls[0].headers["Idempotency-Key"]) == 40
    assert calls[0].headers["traceparent"].startswith("00-")
    assert engine.journal is not None
    states = engine.journal.deliveries(decode_id(ack.id))
    assert states["orders"].status is Status.DELIVERED
    kinds = [e.kind for e in engine.journal.timeline(decode_id(ack.id))]
    assert kinds == ["received", "routed", "delivered"]


async def test_same_key_different_body_is_a_conflict(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    await engine.submit("shop", order("o-1", amount=1))
    with pytest.raises(ConflictError):
        await engine.submit("shop", order("o-1", amount=2))
    await engine.wait_idle(10)
    assert len(sink.snapshot()) == 1


async def test_unknown_source_and_unrouted_are_distinct(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    with pytest.raises(UnknownSourceError):
        await engine.submit("nope", order("o-1"))
    ack = await engine.submit("shop", orjson.dumps({"id": "x", "type": "order.deleted"}))
    await engine.wait_idle(10)
    assert engine.journal is not None
    assert engine.journal.unrouted() == [decode_id(ack.id)]
    assert sink.snapshot() == []


async def test_503_with_retry_after_then_200_is_delivered(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.answer((503, {"Retry-After": "0"}), (503, {}))
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY))
    ack = await engine.submit("shop", order("o-1"))
    await engine.wait_idle(10)
    calls = sink.snapshot()
    assert [c.applied for c in calls] == [False, False, True]
    assert len({c.headers["Idempotency-Key"] for c in calls}) == 1
    assert [c.headers["X-Interlock-Attempt"] for c in calls] == ["1", "2", "3"]
    assert engine.journal is not None
    kinds = [e.kind for e in engine.journal.timeline(decode_id(ack.id))]
    assert kinds.count("retry_scheduled") == 2 and kinds[-1] == "delivered"


async def test_422_is_dead_lettered_after_one_attempt_with_reason(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.answer((422, {}))
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY))
    ack = await engine.submit("shop", order("o-1"))
    await engine.wait_idle(10)
    assert len(sink.snapshot()) == 1
    assert engine.journal is not None
    [(message_id, dead)] = engine.journal.dead_letters()
    assert message_id == decode_id(ack.id)
    assert dead["attempts"] == 1
    assert "HTTP 422" in dead["reason"] and dead["trace_id"]


async def test_transient_failures_exhaust_attempts_then_dead_letter(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["o-1"] = 502
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY))
    await engine.submit("shop", order("o-1"))
    await engine.wait_idle(10)
    assert len(sink.snapshot()) == 4
    assert engine.journal is not None
    [(_, dead)] = engine.journal.dead_letters()
    assert dead["attempts"] == 4 and "gave up after 4 attempts" in dead["reason"]


async def test_transform_output_is_delivered_and_a_raising_transform_dead_letters(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url, transform="test.order_to_ledger")
    engine = await make_engine(routes)
    await engine.submit("shop", order("o-1", amount=3))
    bad = await engine.submit("shop", order("o-2", amount=-1))
    await engine.wait_idle(10)
    assert [c.json() for c in sink.snapshot()] == [{"reference": "c1/o-1", "cents": 300}]
    assert engine.journal is not None
    [(message_id, dead)] = engine.journal.dead_letters()
    assert message_id == decode_id(bad.id)
    assert (
        "transform test.order_to_ledger failed" in dead["reason"]
        and "negative amount" in dead["reason"]
    )


async def test_same_key_in_order_and_poison_does_not_stall_other_keys(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    slow_retry = "retry: {max_attempts: 2, initial: 2s, max: 2s, jitter: none}\n"
    # A's later messages flow on once its head is dead (with `hold` they would wait for it).
    slow_retry += "on_dead_letter: continue\n"
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url, route_extra=slow_retry))
    sink.fail_keys["a-0"] = 503  # the poison head of key A: its lane waits 2 s for the retry
    for i in range(5):
        await engine.submit("shop", order(f"a-{i}", customer="A"))
    results = await asyncio.gather(
        *(engine.submit("shop", order(f"b-{i}", customer="B")) for i in range(20))
    )
    assert all(not r.duplicate for r in results)

    def applied() -> list[str]:
        return [c.json()["id"] for c in sink.snapshot() if c.applied]

    for _ in range(150):  # B flows while A's head waits (polled: no timing assumption)
        if sum(d.startswith("b-") for d in applied()) == 20:
            break
        await asyncio.sleep(0.01)
    delivered = applied()
    assert [d for d in delivered if d.startswith("b-")] == [f"b-{i}" for i in range(20)]
    assert not any(d.startswith("a-") for d in delivered)  # nothing of A overtook its head
    await engine.wait_idle(15)
    delivered = applied()
    assert [d for d in delivered if d.startswith("a-")] == [f"a-{i}" for i in range(1, 5)]
    assert engine.journal is not None
    assert len(engine.journal.dead_letters()) == 1


async def test_fan_out_delivers_to_every_matching_route(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    (routes / "audit.yaml").write_text(
        "id: audit\nfrom: {source: shop, type: '*', when: [{pointer: /customer, exists: true}]}\n"
        "steps:\n  - to: {connector: sink, path: /audit}\n"
    )
    engine = await make_engine(routes)
    await engine.submit("shop", order("o-1"))
    await engine.submit(
        "shop", orjson.dumps({"id": "n-1", "type": "note"})
    )  # no customer: unrouted
    await engine.wait_idle(10)
    assert sorted(c.path for c in sink.snapshot()) == ["/audit", "/orders"]


async def test_retry_pending_across_restart_still_happens(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    long_retry = "retry: {max_attempts: 5, initial: 1s, max: 1s, jitter: none}\n"
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=long_retry)
    sink.answer((503, {}))
    engine = await make_engine(routes, tmp_path / "data")
    ack = await engine.submit("shop", order("o-1"))
    for _ in range(100):
        if sink.snapshot():
            break
        await asyncio.sleep(0.02)
    await engine.stop()  # the retry is due in ~1 s, after this stop
    assert len(sink.snapshot()) == 1

    restarted = await make_engine(routes, tmp_path / "data")
    assert restarted.recovered == 1
    await restarted.wait_idle(10)
    calls = sink.snapshot()
    assert len(calls) == 2 and calls[1].applied
    assert calls[0].headers["Idempotency-Key"] == calls[1].headers["Idempotency-Key"]
    assert restarted.journal is not None
    assert restarted.journal.deliveries(decode_id(ack.id))["orders"].status is Status.DELIVERED


async def test_credit_exhaustion_refuses_without_blocking(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.stall()
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url), max_inflight=5)
    for i in range(5):
        await engine.submit("shop", order(f"o-{i}", customer=f"c{i}"))
    with pytest.raises(BackpressureError) as refused:
        await engine.submit("shop", order("o-5"))
    assert refused.value.retry_after > 0
    sink.release()
    await engine.wait_idle(10)
    await engine.submit("shop", order("o-5"))
    await engine.wait_idle(10)
    assert sorted(c.json()["id"] for c in sink.snapshot()) == [f"o-{i}" for i in range(6)]


async def test_route_actor_failure_is_supervised_and_the_message_retried(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.runtime import request_builder, route_actor

    original = request_builder.build_request
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("simulated bug")  # not a transform error: escapes to the supervisor
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(route_actor, "build_request", flaky)
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    engine = await make_engine(routes)
    await engine.submit("shop", order("o-1"))
    await engine.wait_idle(10)
    assert [c.json()["id"] for c in sink.snapshot()] == ["o-1"]
    assert engine.metrics.restarts.labels(actor="route:orders")._value.get() == 1


async def test_replay_redelivers_a_dead_letter_once_and_purge_removes_it(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.answer((422, {}))
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY))
    first = await engine.submit("shop", order("o-1"))
    second = await engine.submit("shop", order("o-2", customer="c2"))
    await engine.wait_idle(10)
    assert engine.journal is not None
    assert [m for m, _ in engine.journal.dead_letters()] == [decode_id(first.id)]

    assert await engine.replay([(decode_id(first.id), "orders")]) == 1
    await engine.wait_idle(10)
    assert await engine.replay([(decode_id(first.id), "orders")]) == 0  # nothing dead any more
    applied = sorted(body["id"] for body in sink.applied_bodies())
    assert applied == ["o-1", "o-2"]
    calls = [c for c in sink.snapshot() if c.json()["id"] == "o-1"]
    assert len({c.headers["Idempotency-Key"] for c in calls}) == 1
    kinds = [e.kind for e in engine.journal.timeline(decode_id(first.id))]
    assert kinds[-2:] == ["replayed", "delivered"]

    sink.fail_keys["o-3"] = 400
    third = await engine.submit("shop", order("o-3"))
    await engine.wait_idle(10)
    assert (
        await engine.purge([(decode_id(third.id), "orders"), (decode_id(second.id), "orders")]) == 1
    )
    assert engine.journal.dead_letters() == []


async def test_a_pending_delivery_for_a_removed_route_is_dead_lettered_on_start(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    sink.stall()
    engine = await make_engine(routes, tmp_path / "data")
    ack = await engine.submit("shop", order("o-1"))
    await engine.stop()
    sink.release()
    (routes / "orders.yaml").unlink()
    (routes / "other.yaml").write_text(
        "id: other\nfrom: {source: shop, type: other}\nsteps:\n  - to: {connector: sink}\n"
    )
    restarted = await make_engine(routes, tmp_path / "data")
    assert restarted.recovered == 0
    journal = restarted.journal
    assert journal is not None
    for _ in range(200):
        if journal.dead_letters():
            break
        await asyncio.sleep(0.01)
    [(message_id, dead)] = journal.dead_letters()
    assert message_id == decode_id(ack.id)
    assert dead["reason"] == "route removed from config"


async def test_path_parts_come_from_the_transformed_message_url_encoded(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url, transform="test.order_to_ledger")
    text = (
        (routes / "orders.yaml")
        .read_text()
        .replace("path: /orders}", "path: '/ledger/{/reference}'}")
    )
    (routes / "orders.yaml").write_text(text)
    engine = await make_engine(routes)
    await engine.submit("shop", order("o 1", customer="c/1", amount=1))
    await engine.wait_idle(10)
    assert [c.raw_path for c in sink.snapshot()] == ["/ledger/c%2F1%2Fo%201"]
