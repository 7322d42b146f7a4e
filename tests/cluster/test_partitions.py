"""Partition ownership and consumption on a real NATS server, with several instances in one
process (each its own connection, so a stopped one looks to the server like a crashed one)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from router.cluster.backbone import Backbone, BackboneOptions
from router.cluster.names import Names, partition_of
from router.cluster.partitions import Delivered, Partitions

PARTITIONS = 8
LEASE_S = 2.0


@dataclass
class Node:
    """One instance: its backbone, its partitions and what its handler saw."""

    backbone: Backbone
    partitions: Partitions = field(init=False)
    seen: list[tuple[int, str, int]] = field(default_factory=list)
    acked: list[tuple[str, int]] = field(default_factory=list)
    held: list[Delivered] = field(default_factory=list)
    hold: bool = False

    async def handle(self, partition: int, batch: list[Delivered]) -> None:
        for item in batch:
            key, n = item.data.decode().split(":")
            self.seen.append((partition, key, int(n)))
        if self.hold:
            self.held.extend(batch)
            return
        await asyncio.gather(*(self.ack(item) for item in batch))

    async def ack(self, item: Delivered) -> None:
        await self.partitions.ack(item)
        key, n = item.data.decode().split(":")
        self.acked.append((key, int(n)))

    async def release_held(self) -> None:
        self.hold = False
        held, self.held = self.held, []
        await asyncio.gather(*(self.ack(item) for item in held))


NodeFactory = Callable[[str], Awaitable[Node]]


@pytest.fixture
async def make_node(backbone_url: str, prefix: str) -> AsyncIterator[NodeFactory]:
    nodes: list[Node] = []

    async def factory(instance: str) -> Node:
        options = BackboneOptions(
            backbone_url, Names(prefix, PARTITIONS, shards=2), lease_s=LEASE_S
        )
        backbone = Backbone(options, instance)
        await backbone.connect()
        node = Node(backbone)
        node.partitions = Partitions(backbone, instance, node.handle, lambda: 1000)
        nodes.append(node)
        await node.partitions.start()
        return node

    yield factory
    for node in nodes:
        await node.partitions.stop()
        await node.backbone.close()


async def eventually(check: Callable[[], bool], deadline_s: float = 30.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def exactly_one_owner(*nodes: Node) -> bool:
    owned = [n.partitions.owned for n in nodes]
    return sum(len(o) for o in owned) == PARTITIONS and frozenset().union(*owned) == frozenset(
        range(PARTITIONS)
    )


async def publish(node: Node, keys: int, start: int, count: int) -> list[tuple[str, int]]:
    """Messages ``key:n`` for keys k0..k<keys-1>, n counting per key from ``start``."""
    sent = []
    for i in range(count):
        key, n = f"k{i % keys}", start + i // keys
        await node.backbone.publish(
            partition_of(key, PARTITIONS), f"{key}:{n}".encode(), f"{key}:{n}"
        )
        sent.append((key, n))
    return sent


def in_key_order(seen: list[tuple[int, str, int]]) -> bool:
    last: dict[str, int] = {}
    for _, key, n in seen:
        if n <= last.get(key, -1):
            return False
        last[key] = n
    return True


async def test_two_instances_share_then_one_crashes(make_node: NodeFactory) -> None:
    a = await make_node("a")
    b = await make_node("b")
    assert await eventually(
        lambda: exactly_one_owner(a, b) and len(a.partitions.owned) == len(b.partitions.owned)
    )
    assert len(a.partitions.owned) == 4

    sent = await publish(a, 50, 0, 2000)
    assert await eventually(lambda: len(a.acked) + len(b.acked) == 2000)
    assert Counter(a.acked + b.acked) == Counter(sent)
    assert in_key_order(a.seen) and in_key_order(b.seen)
    for node in (a, b):
        assert {p for p, _, _ in node.seen} <= node.partitions.owned

    # b takes more work but acks none of it, then dies without draining.
    b.hold = True
    b_keys = {k for k in (f"k{i}" for i in range(50)) if partition_of(k, 8) in b.partitions.owned}
    sent += await publish(a, 50, 40, 500)
    expected_held = sum(1 for key, n in sent if key in b_keys and n >= 40)
    assert await eventually(lambda: len(b.held) == expected_held)
    assert expected_held > 0
    b_owned = b.partitions.owned
    await b.partitions.stop()
    await b.backbone.close()

    a_seen_before = len(a.seen)
    sent += await publish(a, 50, 50, 500)
    assert await eventually(lambda: a.partitions.owned == frozenset(range(PARTITIONS)))
    assert await eventually(lambda: Counter(a.acked + b.acked) == Counter(sent))
    # The dead owner's unacked messages came to a before any newer message of their key.
    after = a.seen[a_seen_before:]
    assert in_key_order(after)
    assert {(k, n) for _, k, n in after if k in b_keys and 40 <= n < 50} == {
        (item.data.decode().split(":")[0], int(item.data.decode().split(":")[1])) for item in b.held
    }
    assert {p for p, _, _ in after} >= b_owned


async def test_drain_hands_over_at_once(make_node: NodeFactory, prefix: str) -> None:
    a = await make_node("a")
    b = await make_node("b")
    assert await eventually(lambda: exactly_one_owner(a, b) and len(b.partitions.owned) == 4)
    await publish(a, 20, 0, 200)
    assert await eventually(lambda: len(a.acked) + len(b.acked) == 200)

    await a.partitions.drain(timeout_s=10)

    assert a.partitions.owned == frozenset()
    owners = await a.backbone.js.key_value(Names(prefix).owners_bucket)
    members = await a.backbone.js.key_value(Names(prefix).members_bucket)
    for p in range(PARTITIONS):
        try:
            entry = await owners.get(f"p{p}")
        except Exception:  # noqa: BLE001 - absent (deleted) is what we want
            continue
        assert not (entry.value or b"").startswith(b"a/")
    assert "a" not in await members.keys()
    assert await eventually(lambda: b.partitions.owned == frozenset(range(PARTITIONS)))


async def test_a_joiner_gets_only_idle_partitions(make_node: NodeFactory) -> None:
    a = await make_node("a")
    b = await make_node("b")
    assert await eventually(lambda: exactly_one_owner(a, b) and len(a.partitions.owned) == 4)

    # Work in flight on every partition of a: it must not hand any of them over.
    a.hold = True
    a_owned = a.partitions.owned
    for p in a_owned:
        await a.backbone.publish(p, b"k:0", f"held-{p}")
    assert await eventually(lambda: all(a.partitions.inflight(p) == 1 for p in a_owned))

    c = await make_node("c")
    assert await eventually(lambda: len(c.partitions.owned) == 1 and len(b.partitions.owned) == 3)
    assert a.partitions.owned == a_owned
    assert all(a.partitions.inflight(p) == 1 for p in a_owned)

    await a.release_held()
    assert await eventually(
        lambda: (
            exactly_one_owner(a, b, c)
            and sorted(len(n.partitions.owned) for n in (a, b, c)) == [2, 3, 3]
        )
    )
    assert len(a.partitions.owned) == 3
