"""The backbone on a real NATS server: stream and buckets, claims, publishes, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from router.cluster.backbone import (
    Backbone,
    BackboneConfigError,
    BackboneOptions,
    BackboneUnavailable,
)
from router.cluster.names import Names, kv_key
from tests.support.nats_server import NatsServer
from tests.support.process import free_port

BackboneFactory = Callable[..., Awaitable[Backbone]]


@pytest.fixture
async def make_backbone(backbone_url: str, prefix: str) -> AsyncIterator[BackboneFactory]:
    opened: list[Backbone] = []

    async def factory(
        instance: str = "a",
        url: str | None = None,
        partitions: int = 16,
        shards: int = 4,
        **options: Any,
    ) -> Backbone:
        names = Names(prefix, partitions, shards)
        opts = BackboneOptions(url or backbone_url, names, **options)
        backbone = Backbone(opts, instance)
        await backbone.connect()
        opened.append(backbone)
        return backbone

    yield factory
    for backbone in opened:
        await backbone.close()


async def eventually(check: Callable[[], Awaitable[bool]], deadline_s: float = 30.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_connect_creates_the_stream_and_buckets_and_checks_partitions(
    make_backbone: BackboneFactory, prefix: str
) -> None:
    backbone = await make_backbone(partitions=8, shards=3, lease_s=1.5)
    names = Names(prefix, 8, 3)
    for shard, partitions in enumerate(([0, 3, 6], [1, 4, 7], [2, 5])):
        info = await backbone.js.stream_info(names.stream(shard))
        assert info.config.subjects == [f"{prefix}.part.{p}" for p in partitions]
        assert info.config.retention == "workqueue"
    ttls = {}
    for bucket in (
        *names.idem_buckets(),
        names.owners_bucket,
        names.members_bucket,
        names.dead_bucket,
        names.config_bucket,
    ):
        status = await (await backbone.js.key_value(bucket)).status()
        ttls[bucket] = status.stream_info.config.max_age
    assert ttls[names.owners_bucket] == ttls[names.members_bucket] == 1.5
    assert [ttls[b] for b in names.idem_buckets()] == [7 * 86400] * 3
    assert not ttls[names.config_bucket]

    again = await make_backbone("b", partitions=8, shards=3)
    assert again.connected
    with pytest.raises(BackboneConfigError, match=r"has 8 partitions.*configured for 4"):
        await make_backbone("c", partitions=4, shards=3)
    with pytest.raises(BackboneConfigError, match=r"has 3 shards.*configured for 2"):
        await make_backbone("d", partitions=8, shards=2)


async def test_claim_has_one_winner(make_backbone: BackboneFactory) -> None:
    one = await make_backbone("a")
    two = await make_backbone("b")
    key = kv_key("stripe", "evt_1")
    assert await one.claim(key, b"first") == b"first"
    assert await one.claim(key, b"second") == b"first"
    assert await two.claim(key, b"third") == b"first"

    for n in range(5):
        raced = kv_key("stripe", f"race-{n}")
        results = await asyncio.gather(one.claim(raced, b"one"), two.claim(raced, b"two"))
        assert results[0] == results[1]
        assert results[0] in {b"one", b"two"}


async def test_publish_sequences_and_duplicates(
    make_backbone: BackboneFactory, prefix: str
) -> None:
    backbone = await make_backbone(partitions=4, shards=2)
    seqs = [await backbone.publish(n % 4, b"x", f"m{n}") for n in range(6)]
    # One sequence per shard's stream: partitions 0 and 2 share one, 1 and 3 the other.
    assert seqs[0::2] == [1, 2, 3] and seqs[1::2] == [1, 2, 3]
    again = await backbone.publish(1, b"x", "m1", headers={"h": "v"})
    assert again == seqs[1]
    names = Names(prefix, 4, 2)
    stored = [(await backbone.js.stream_info(s)).state.messages for s in names.streams()]
    assert stored == [3, 3]
    assert await backbone.partition_backlog() == {0: 2, 1: 2, 2: 1, 3: 1}


async def test_dead_letters(make_backbone: BackboneFactory) -> None:
    backbone = await make_backbone()
    assert await backbone.dead_letters() == []
    await backbone.put_dead("b", b"2")
    await backbone.put_dead("a", b"1")
    assert await backbone.get_dead("a") == b"1"
    assert await backbone.get_dead("missing") is None
    assert await backbone.dead_letters() == [("a", b"1"), ("b", b"2")]
    await backbone.delete_dead("a")
    assert await backbone.dead_letters() == [("b", b"2")]
    with pytest.raises(ValueError, match="KV-safe"):
        await backbone.put_dead("not a key", b"")


async def test_connect_to_a_closed_port_fails_clearly(prefix: str) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    backbone = Backbone(BackboneOptions(url, Names(prefix), request_timeout_s=0.5), "a")
    started = time.monotonic()
    with pytest.raises(BackboneUnavailable, match="cannot connect"):
        await backbone.connect()
    # Not a timing assertion: only that it gave up rather than retrying forever.
    assert time.monotonic() - started < 60
    assert not backbone.connected


async def test_outage_and_recovery(make_backbone: BackboneFactory, own_nats: NatsServer) -> None:
    backbone = await make_backbone(url=own_nats.url, request_timeout_s=1.0)
    assert await backbone.claim("k1", b"m1") == b"m1"

    own_nats.stop()

    async def down() -> bool:
        return not backbone.connected

    assert await eventually(down)
    with pytest.raises(BackboneUnavailable):
        await backbone.claim("k2", b"m2")
    with pytest.raises(BackboneUnavailable):
        await backbone.publish(0, b"x", "p1")

    own_nats.start()

    async def up() -> bool:
        return backbone.connected

    assert await eventually(up)

    async def claims() -> bool:
        try:
            return await backbone.claim("k2", b"m2") == b"m2"
        except BackboneUnavailable:
            return False

    assert await eventually(claims)
    # The store survived the restart: the first claim is still there.
    assert await backbone.claim("k1", b"other") == b"m1"
