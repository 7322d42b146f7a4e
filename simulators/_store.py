"""In-memory state shared by every simulator: records, the request log and idempotent replies."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

IdFactory = Callable[[str, int], str]
"""Makes a vendor-shaped record id from the record type and a per-simulator sequence number."""


@dataclass
class Record:
    """One stored record. ``data`` holds the vendor fields as last written (merged on update)."""

    type: str
    id: str
    external_id: str | None
    data: dict[str, Any]
    version: int = 1
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "version": self.version,
            "data": self.data,
        }


class RecordStore:
    """Records by type, indexed by id and by external id (the upsert key)."""

    def __init__(self, new_id: IdFactory) -> None:
        self._new_id = new_id
        self._seq = itertools.count(1)
        self._by_id: dict[str, dict[str, Record]] = {}
        self._by_ext: dict[str, dict[str, Record]] = {}

    def get(self, type_: str, id_: str) -> Record | None:
        return self._by_id.get(type_, {}).get(id_)

    def find(self, type_: str, external_id: str) -> Record | None:
        return self._by_ext.get(type_, {}).get(external_id)

    def create(
        self, type_: str, data: dict[str, Any], external_id: str | None = None, id_: str = ""
    ) -> Record:
        record = Record(type_, id_ or self._new_id(type_, next(self._seq)), external_id, dict(data))
        self._by_id.setdefault(type_, {})[record.id] = record
        if external_id is not None:
            self._by_ext.setdefault(type_, {})[external_id] = record
        return record

    def update(self, record: Record, data: dict[str, Any]) -> Record:
        record.data.update(data)
        record.version += 1
        record.updated_at = time.time()
        return record

    def set_external_id(self, record: Record, external_id: str | None) -> None:
        """Re-key ``record`` under ``external_id`` (None removes its external id)."""
        index = self._by_ext.setdefault(record.type, {})
        if record.external_id is not None and index.get(record.external_id) is record:
            del index[record.external_id]
        record.external_id = external_id
        if external_id is not None:
            index[external_id] = record

    def upsert(self, type_: str, external_id: str, data: dict[str, Any]) -> tuple[Record, bool]:
        """Update the record with ``external_id`` or create it; True when it was created."""
        existing = self.find(type_, external_id)
        if existing is not None:
            return self.update(existing, data), False
        return self.create(type_, data, external_id), True

    def all(self, type_: str) -> list[Record]:
        return list(self._by_id.get(type_, {}).values())

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {t: [r.as_json() for r in rs.values()] for t, rs in self._by_id.items()}

    def clear(self) -> None:
        self._by_id.clear()
        self._by_ext.clear()
        self._seq = itertools.count(1)


@dataclass
class LoggedRequest:
    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    status: int | None = None  # None while in flight, or when the connection was dropped

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
        }


class RequestLog:
    """Every request received, newest last, bounded so benchmarks do not grow it forever."""

    def __init__(self, maxlen: int = 20_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)

    def add(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> LoggedRequest:
        entry = LoggedRequest(
            next(self._seq),
            time.time(),
            method,
            path,
            query,
            headers,
            body.decode("utf-8", "replace"),
        )
        self._entries.append(entry)
        return entry

    def entries(self) -> list[LoggedRequest]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class StoredReply:
    fingerprint: str
    status: int
    body: bytes
    content_type: str | None
    headers: dict[str, str]


class IdempotencyCache:
    """Replies by idempotency key: the first successful reply is replayed for the same key."""

    def __init__(self) -> None:
        self._replies: dict[str, StoredReply] = {}
        self._in_flight: set[str] = set()

    def get(self, key: str) -> StoredReply | None:
        return self._replies.get(key)

    def begin(self, key: str) -> bool:
        """Mark ``key`` in flight; False when another request with it is still executing."""
        if key in self._in_flight:
            return False
        self._in_flight.add(key)
        return True

    def finish(self, key: str, reply: StoredReply | None) -> None:
        self._in_flight.discard(key)
        if reply is not None:
            self._replies[key] = reply

    def clear(self) -> None:
        self._replies.clear()
        self._in_flight.clear()
