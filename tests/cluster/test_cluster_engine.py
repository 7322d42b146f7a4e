"""Cluster mode end to end, in one process: two or three engines on their own journals share a
real NATS backbone and deliver to one loopback sink, which applies each Idempotency-Key once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from router import Engine, load_config
from router.errors import BackpressureError
from router.http.admin import create_admin_app
from router.ids import decode_id, encode_id
from router.store.statuses import Status
from router.testing import Sink
from tests.support.cluster import cluster_settings
from tests.support.nats_server import NatsServer
from tests.support.promtool import check_metrics, require_promtool
from tests.support.routes import write_routes

FAST_RETRY = "retry: {max_attempts: 3, initial: 20ms, max: 50ms}\n"
Start = Callable[..., Awaitable[Engine]]


class Clock:
    """A wall clock a test can move (the engines' sweepers and route actors read it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def eventually(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def cluster(
    tmp_path: Path, sink: Sink, backbone_url: str, prefix: str
) -> AsyncIterator[Start]:
    """Start engines of one cluster: ``await start("a")``; all are stopped at the end."""
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    engines: list[Engine] = []

    async def start(name: str, url: str = backbone_url, **extra: Any) -> Engine:
        settings = cluster_settings(tmp_path / name, url, prefix, name, partitions=8, **extra)
        engine = Engine(load_config(routes), settings, clock=extra.pop("clock", time.time))
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        if engine.started:
            await engine.stop()


async def shared(*engines: Engine) -> None:
    """Wait until the engines split the 8 partitions evenly (the first one took all at start)."""
    share = 8 // len(engines)

    def even() -> bool:
        owned = [e.cluster.partitions.owned for e in engines if e.cluster is not None]
        return all(len(o) == share for o in owned) and len(frozenset().union(*owned)) == 8

    await eventually(even, f"{share} partitions each")


def body(ident: str, customer: str, n: int = 0) -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": customer, "n": n})


def applied_ids(sink: Sink) -> list[str]:
    return [c.json()["id"] for c in sink.snapshot() if c.applied]


async def test_two_instances_deliver_every_message_once_in_key_order(
    cluster: Start, sink: Sink
) -> None:
    a, b = await cluster("a"), await cluster("b")
    await shared(a, b)
    keys, per_key = 20, 15

    async def chain(k: int) -> None:  # one key's messages, each sent once the last one is acked
        for n in range(per_key):
            engine = (a, b)[(k + n) % 2]
            ack = await engine.submit("shop", body(f"k{k}-{n}", f"c{k}", n))
            assert not ack.duplicate

    await asyncio.gather(*(chain(k) for k in range(keys)))
    await eventually(lambda: len(sink.applied) >= keys * per_key, "every message applied")
    applied = applied_ids(sink)
    assert sorted(applied) == sorted(f"k{k}-{n}" for k in range(keys) for n in range(per_key))
    for k in range(keys):
        ns = [int(i.split("-")[1]) for i in applied if i.startswith(f"k{k}-")]
        assert ns == sorted(ns), f"key c{k} applied out of order: {ns}"
    owned_a, owned_b = a.cluster.partitions.owned, b.cluster.partitions.owned  # type: ignore[union-attr]
    assert owned_a and owned_b and not owned_a & owned_b  # each partition has one owner


async def test_the_same_event_sent_to_two_instances_takes_effect_once(
    cluster: Start, sink: Sink
) -> None:
    clock = Clock()
    a = await cluster("a", clock=clock, idempotency_retention_s=1800, sweep_interval_s=0.05)
    b = await cluster("b", clock=clock, idempotency_retention_s=1800, sweep_interval_s=0.05)
    same = body("evt-1", "c1")
    # Both within the same millisecond: neither journal has seen it, both accept it.
    acks = await asyncio.gather(a.submit("shop", same), b.submit("shop", same))
    assert all(not ack.duplicate for ack in acks)
    await eventually(lambda: len(sink.calls) >= 1, "the first copy delivered")
    await eventually(lambda: a.idle() and b.idle(), "both engines idle")
    assert applied_ids(sink) == ["evt-1"]
    # An hour later (simulated): both journals swept the key (their retention is 30 min), and
    # the backbone's idempotency bucket still holds it.
    clock.offset += 3600
    for engine in (a, b):
        assert engine.journal is not None
        await eventually(
            lambda engine=engine: (
                engine.journal is not None  # type: ignore[misc]
                and engine.journal.counts().get("idem", 1) == 0
            ),
            "the local idempotency key swept",
        )
    acks = await asyncio.gather(a.submit("shop", same), b.submit("shop", same))
    assert all(not ack.duplicate for ack in acks)  # the journals forgot it; the backbone did not
    await eventually(
        lambda: (
            sum(
                e.cluster.metrics.adopted.labels(kind="duplicate")._value.get()  # type: ignore[union-attr]
                for e in (a, b)
            )
            >= 3
        ),
        "the three later copies dropped as duplicates",
    )
    assert applied_ids(sink) == ["evt-1"]
    assert len(sink.calls) == 1  # the copies were not even sent


async def test_a_dead_letter_is_seen_and_replayed_from_another_instance(
    cluster: Start, sink: Sink
) -> None:
    a, b = await cluster("a"), await cluster("b")
    await shared(a, b)
    sink.fail_keys["bad-1"] = 422  # a permanent error: dead-lettered on the first attempt
    ack = await a.submit("shop", body("bad-1", "c9"))
    assert a.cluster is not None and b.cluster is not None
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        nonlocal found
        found = await b.cluster.dead_letters()  # type: ignore[union-attr]
        return bool(found)

    deadline = time.monotonic() + 60
    while not await listed():
        assert time.monotonic() < deadline, "the dead letter never reached the backbone"
        await asyncio.sleep(0.05)
    assert [(d["route"], d["owner"] in ("a", "b")) for d in found] == [("orders", True)]
    assert (await a.cluster.dead_letters())[0]["id"] == found[0]["id"]
    del sink.fail_keys["bad-1"]
    # Through the other instance's admin API, as `interlock dlq` reads and replays it.
    other = b if found[0]["owner"] == "a" else a
    headers = {"Authorization": "Bearer t0k3n-for-tests"}
    async with TestClient(TestServer(create_admin_app(other, ["t0k3n-for-tests"]))) as client:
        page = await (await client.get("/dead-letters", headers=headers)).json()
        assert [(d["id"], d["route"]) for d in page["items"]] == [(ack.id, "orders")]
        assert page["items"][0]["source"] == "shop"
        one = await client.get(f"/dead-letters/{ack.id}", headers=headers)
        assert one.status == 200
        answer = await client.post(f"/dead-letters/{ack.id}/replay", headers=headers)
        assert (await answer.json())["replayed"] == 1
    await eventually(lambda: applied_ids(sink) == ["bad-1"], "the replay delivered")
    assert await b.cluster.dead_letters() == []
    owner = a if found[0]["owner"] == "a" else b
    assert owner.journal is not None
    journal = owner.journal
    await eventually(  # its outcome rides the owner's next commit
        lambda: journal.deliveries(found[0]["id"])["orders"].status is Status.DELIVERED,
        "the replay's outcome journaled by the owner",
    )


async def test_backbone_down_sheds_new_work_and_loses_nothing(
    tmp_path: Path, sink: Sink, own_nats: NatsServer, prefix: str
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    settings = cluster_settings(tmp_path / "a", own_nats.url, prefix, "a")
    engine = Engine(load_config(routes), settings)
    await engine.start()
    try:
        accepted = [f"before-{i}" for i in range(50)]
        for ident in accepted:
            await engine.submit("shop", body(ident, f"c{ident[-1]}"))
        own_nats.stop()
        await eventually(lambda: not engine.is_ready, "readyz off while the backbone is down")
        assert engine.overloaded() == "backbone"  # the edge sheds before reading a body
        refused = []
        for i in range(5):  # a request already past the edge when the backbone went away
            ident = f"during-{i}"
            with pytest.raises(BackpressureError) as caught:
                await engine.submit("shop", body(ident, "c1"))
            assert caught.value.retry_after and caught.value.retry_after > 0
            refused.append(ident)
        own_nats.start()
        await eventually(lambda: engine.is_ready, "ready again once the backbone is back")
        for ident in refused:  # their senders retry, as the 503 asked: each is known already
            ack = await engine.submit("shop", body(ident, "c1"))
            assert ack.duplicate
        everything = accepted + refused
        await eventually(lambda: len(sink.applied) >= len(everything), "everything delivered")
        assert sorted(applied_ids(sink)) == sorted(everything)
    finally:
        await engine.stop()


async def test_a_draining_instance_hands_its_partitions_over(cluster: Start, sink: Sink) -> None:
    a, b = await cluster("a"), await cluster("b")
    await shared(a, b)
    for i in range(40):
        await (a, b)[i % 2].submit("shop", body(f"m{i}", f"c{i % 7}"))
    await a.stop()  # SIGTERM's path: stop taking, finish in-flight, release the leases
    assert b.cluster is not None
    await eventually(lambda: len(b.cluster.partitions.owned) == 8, "b owns every partition")  # type: ignore[union-attr]
    for i in range(40, 60):
        await b.submit("shop", body(f"m{i}", f"c{i % 7}"))
    await eventually(lambda: len(sink.applied) >= 60, "all 60 applied")
    assert sorted(applied_ids(sink)) == sorted(f"m{i}" for i in range(60))


async def test_the_outbox_survives_a_restart_while_the_backbone_is_away(
    tmp_path: Path, sink: Sink, own_nats: NatsServer, prefix: str
) -> None:
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    settings = cluster_settings(tmp_path / "a", own_nats.url, prefix, "a", shutdown_grace_s=2)
    engine = Engine(load_config(routes), settings)
    await engine.start()
    own_nats.stop()
    await eventually(lambda: not engine.is_ready, "the backbone noticed gone")
    kept = []
    for i in range(5):  # journaled (fsynced) here, then refused: the backbone cannot confirm
        with pytest.raises(BackpressureError):
            await engine.submit("shop", body(f"kept-{i}", "c1"))
        kept.append(f"kept-{i}")
    await engine.stop()
    assert engine.cluster is not None
    own_nats.start()
    again = Engine(load_config(routes), settings)
    await again.start()  # the outbox: forwarded now, then delivered by the partitions' owner
    try:
        assert again.recovered == len(kept)
        await eventually(lambda: len(sink.applied) >= len(kept), "the outbox delivered")
        assert sorted(applied_ids(sink)) == kept
        assert again.journal is not None
        timeline = [e.kind for e in again.journal.timeline(decode_id(ack_id(again, "kept-0")))]
        assert "forwarded" in timeline and "adopted" in timeline
    finally:
        await again.stop()


def ack_id(engine: Engine, ident: str) -> str:
    """The message id the journal holds for webhook ``ident`` (read back by its idempotency key)."""
    assert engine.journal is not None
    with engine.journal.reader() as reader:
        for envelope in reader.messages_from(b""):
            if envelope.idempotency_key == ident:
                return envelope.id_text
    raise AssertionError(f"no message {ident}")


async def test_promtool_accepts_a_cluster_instance_scrape(cluster: Start, sink: Sink) -> None:
    promtool = require_promtool()
    a = await cluster("a")
    for i in range(5):
        await a.submit("shop", body(f"p{i}", "c1"))
    await eventually(lambda: len(sink.applied) >= 5, "5 applied")
    text = generate_latest(a.metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    owned = [s for s in families["interlock_partition_owned"].samples if s.value == 1]
    assert len(owned) == 8  # the only instance owns every partition
    assert families["interlock_backbone_up"].samples[0].value == 1
    assert families["interlock_forwarded"].samples[0].value == 5
    done = await check_metrics(promtool, text)
    assert done.stdout + done.stderr == "", done.stdout + done.stderr


async def test_a_message_dead_at_once_at_ingress_is_in_the_clusters_dead_letters(
    cluster: Start, sink: Sink
) -> None:
    a, b = await cluster("a"), await cluster("b")
    # A malformed file row is kept and dead-lettered at once by the instance that read it.
    ack = await a.emit("shop", "order.created", {"id": "row-7"}, "row-7", "orders.csv:7", "bad row")
    assert b.cluster is not None
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not found:
        assert time.monotonic() < deadline, "the rejected row never reached the backbone"
        found = await b.cluster.dead_letters()  # listed from the other instance
        await asyncio.sleep(0.05)
    assert [(encode_id(d["id"]), d["route"], d["reason"]) for d in found] == [
        (ack.id, "orders", "bad row")
    ]
    assert sink.calls == []  # nothing was sent
