"""The backbone's names (stream, buckets, subjects, consumers) and the key -> partition map."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Names:
    """Every name derives from one prefix, so clusters (and tests) can share a server."""

    prefix: str = "interlock"

    @property
    def stream(self) -> str:
        # Stream names may not contain "." and by convention are upper case; "-" is not portable.
        return self.prefix.upper().replace("-", "_") + "_MESSAGES"

    @property
    def idem_bucket(self) -> str:
        return f"{self.prefix}_idem"

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

    def subjects(self) -> str:
        return f"{self.prefix}.part.*"

    def consumer(self, partition: int) -> str:
        return f"{self.prefix}-part-{partition}"


def partition_of(key: str, partitions: int) -> int:
    """Stable across processes and Python versions (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def kv_key(*parts: str) -> str:
    """A KV-safe key for arbitrary text: KV keys allow only ``[-/_=.a-zA-Z0-9]``."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
