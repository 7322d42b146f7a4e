"""In-memory state shared by every simulator: records, the request log, idempotent replies and
the simulator's clock."""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

IdFactory = Callable[[str, int], str]
"""Makes a vendor-shaped record id from the record type and a per-simulator sequence number."""


class Clock:
    """The simulator's "now": real time plus an offset that tests move forward (or set).

    It is the vendor's time: how long it remembers an idempotency key, and the timestamps it
    writes on records. Tests move it instead of waiting (``sim.clock.advance(25 * 3600)``, or
    ``POST /_sim/clock``). It does not drive what the caller's clock must agree with (OAuth 1.0a
    timestamps, token lifetimes) nor the fault knobs (downtime, rate limit, latency), which stay
    on real time.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as the simulated vendor sees it."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward; the new now."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the clock advances by a finite, non-negative number of seconds")
        self.offset += seconds
        return self.time()

    def set(self, now: float) -> float:
        """Make the clock read ``now`` (epoch seconds, earlier or later than real time)."""
        if not math.isfinite(now) or now < 0:
            raise ValueError("the clock is set to finite, non-negative epoch seconds")
        self.offset = now - time.time()
        return self.time()

    def reset(self) -> None:
        """Back to real time."""
        self.offset = 0.0


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


SeedRow = tuple[str | None, dict[str, Any], str]
"""One row for :meth:`RecordStore.create_many`: (external id, data, id or "" to make one up)."""


class RecordStore:
    """Records by type, indexed by id and by external id (the upsert key), in insertion order.

    Each type also keeps its records in a list with each id's position in it, so a list endpoint
    reads a page as a slice and resumes after a cursor id by a dictionary lookup: O(page) per
    request however many records the type holds. Records are never deleted, so positions are
    stable and a walk that started before new records arrived still sees each old one once.
    """

    def __init__(self, new_id: IdFactory, clock: Callable[[], float] = time.time) -> None:
        self._new_id = new_id
        self._clock = clock
        self._seq = itertools.count(1)
        self._by_id: dict[str, dict[str, Record]] = {}
        self._by_ext: dict[str, dict[str, Record]] = {}
        self._order: dict[str, list[Record]] = {}
        self._pos: dict[str, dict[str, int]] = {}

    def get(self, type_: str, id_: str) -> Record | None:
        return self._by_id.get(type_, {}).get(id_)

    def find(self, type_: str, external_id: str) -> Record | None:
        return self._by_ext.get(type_, {}).get(external_id)

    def create(
        self, type_: str, data: dict[str, Any], external_id: str | None = None, id_: str = ""
    ) -> Record:
        id_ = id_ or self._new_id(type_, next(self._seq))
        now = self._clock()
        record = Record(type_, id_, external_id, dict(data), 1, now, now)
        self._insert(record)
        return record

    def _insert(self, record: Record) -> None:
        type_ = record.type
        self._by_id.setdefault(type_, {})[record.id] = record
        if record.external_id is not None:
            self._by_ext.setdefault(type_, {})[record.external_id] = record
        order, pos = self._order.setdefault(type_, []), self._pos.setdefault(type_, {})
        at = pos.get(record.id)
        if at is None:
            pos[record.id] = len(order)
            order.append(record)
        else:  # a create with a taken id replaces that record in place, keeping its position
            order[at] = record

    def create_many(self, type_: str, rows: Iterable[SeedRow]) -> list[Record]:
        """Insert or update many records of one type: the bulk-seed path.

        A row whose external id or id is already stored updates that record (as a seed does);
        the rest are created with one shared timestamp, skipping per-record overhead, so 100,000
        rows take well under a second.
        """
        by_id, by_ext = self._by_id.setdefault(type_, {}), self._by_ext.setdefault(type_, {})
        order, pos = self._order.setdefault(type_, []), self._pos.setdefault(type_, {})
        now, out = self._clock(), []
        for external_id, data, wanted in rows:
            existing = None if external_id is None else by_ext.get(external_id)
            if existing is None and wanted:
                existing = by_id.get(wanted)
            if existing is not None:
                out.append(self.update(existing, data))
                continue
            id_ = wanted or self._new_id(type_, next(self._seq))
            record = Record(type_, id_, external_id, dict(data), 1, now, now)
            by_id[id_] = record
            if external_id is not None:
                by_ext[external_id] = record
            pos[id_] = len(order)
            order.append(record)
            out.append(record)
        return out

    def update(self, record: Record, data: dict[str, Any]) -> Record:
        record.data.update(data)
        record.version += 1
        record.updated_at = self._clock()
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
        return list(self._order.get(type_, ()))

    def ordered(self, type_: str) -> Sequence[Record]:
        """The records of ``type_`` in insertion order, without a copy (do not modify it)."""
        return self._order.get(type_, ())

    def position(self, type_: str, id_: str) -> int | None:
        """Where record ``id_`` sits in :meth:`ordered`, or None when there is no such record."""
        return self._pos.get(type_, {}).get(id_)

    def count(self, type_: str) -> int:
        return len(self._order.get(type_, ()))

    def types(self) -> list[str]:
        """Every record type that holds at least one record."""
        return [t for t, rs in self._order.items() if rs]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {t: [r.as_json() for r in rs.values()] for t, rs in self._by_id.items() if rs}

    def clear(self) -> None:
        self._by_id.clear()
        self._by_ext.clear()
        self._order.clear()
        self._pos.clear()
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

    def __init__(self, maxlen: int = 20_000, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._clock = clock

    def add(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> LoggedRequest:
        entry = LoggedRequest(
            next(self._seq),
            self._clock(),
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
    first_used: float = 0.0  # when the key was first used (the simulator's clock)


class IdempotencyCache:
    """Replies by idempotency key: the first successful reply is replayed for the same key.

    ``window`` is how long the vendor keeps a key, counted from its first use on ``clock``
    (Stripe: 24 h); a key older than that is forgotten, so a request reusing it runs again, as
    it would on the vendor. ``None``: keys are kept until reset.
    """

    def __init__(self, window: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self._clock = clock
        self._replies: dict[str, StoredReply] = {}
        self._in_flight: dict[str, float] = {}

    def get(self, key: str) -> StoredReply | None:
        reply = self._replies.get(key)
        if reply is not None and self.expired(reply.first_used):
            del self._replies[key]
            return None
        return reply

    def expired(self, first_used: float) -> bool:
        return self.window is not None and self._clock() - first_used >= self.window

    def begin(self, key: str) -> bool:
        """Mark ``key`` in flight; False when another request with it is still executing."""
        if key in self._in_flight:
            return False
        self._in_flight[key] = self._clock()
        return True

    def finish(self, key: str, reply: StoredReply | None) -> None:
        """End ``key``'s request; keep ``reply`` (None: nothing to replay) from its first use."""
        started = self._in_flight.pop(key, self._clock())
        if reply is not None:
            self._replies[key] = replace(reply, first_used=started)

    def clear(self) -> None:
        self._replies.clear()
        self._in_flight.clear()
