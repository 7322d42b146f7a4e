"""The backbone's names (stream, buckets, subjects, consumers) and the key -> partition map."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Names:
    """Every name derives from one prefix, so clusters (and tests) can share a server.

    The partitions are spread over ``shards`` streams, partition ``p`` in shard ``p % shards``,
    each shard with its own idempotency bucket: a NATS cluster places each stream's leader on a
    server of its own, and even one server fsyncs each stream's store on its own, so the
    backbone's work grows with its servers instead of being one stream's serial chain.
    """

    prefix: str = "interlock"
    partitions: int = 16
    shards: int = 4

    def shard_of(self, partition: int) -> int:
        return partition % self.shards

    def stream(self, shard: int) -> str:
        # Stream names may not contain "." and by convention are upper case; "-" is not portable.
        return f"{self.prefix.upper().replace('-', '_')}_MESSAGES_{shard}"

    def streams(self) -> list[str]:
        return [self.stream(shard) for shard in range(self.shards)]

    def stream_of(self, partition: int) -> str:
        return self.stream(self.shard_of(partition))

    def idem_bucket(self, shard: int) -> str:
        return f"{self.prefix}_idem_{shard}"

    def idem_buckets(self) -> list[str]:
        return [self.idem_bucket(shard) for shard in range(self.shards)]

    @property
    def owners_bucket(self) -> str:
        return f"{self.prefix}_owners"

    @property
    def members_bucket(self) -> str:
        return f"{self.prefix}_members"

    @property
    def dead_bucket(self) -> str:
        return f"{self.prefix}_dead"

    @property
    def config_bucket(self) -> str:
        return f"{self.prefix}_config"

    def subject(self, partition: int) -> str:
        return f"{self.prefix}.part.{partition}"

    def subjects(self, shard: int) -> list[str]:
        """The partition subjects shard ``shard``'s stream holds."""
        return [self.subject(p) for p in range(shard, self.partitions, self.shards)]

    def consumer(self, partition: int) -> str:
        return f"{self.prefix}-part-{partition}"


def partition_of(key: str, partitions: int) -> int:
    """Stable across processes and Python versions (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def kv_key(*parts: str) -> str:
    """A KV-safe key for arbitrary text: KV keys allow only ``[-/_=.a-zA-Z0-9]``."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
