"""Every read of the journal: a :class:`JournalReader` over one LMDB read transaction.

The journal's writer owns the databases; whoever reads (recovery, the admin API, the CLI on a
stopped router, the journal's own conveniences) asks ``Journal.reader()`` for a reader and uses its
methods, so no module outside the store names a database or touches a transaction. A reader sees
one consistent snapshot; keep it short, since an open reader pins the pages it can see.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from router import codec
from router.envelope import Envelope
from router.store.lmdb_env import Database, Transaction
from router.store.records import (
    Delivery,
    DeliveryState,
    TimelineEvent,
    body_digest,
    delivery_key,
    delivery_state,
    hold_key,
    idempotency_db_key,
)
from router.store.statuses import Status


def as_bytes(value: bytes | memoryview | None) -> bytes:
    """LMDB returns bytes here (no ``buffers=True``); this narrows the stub's wider type."""
    if value is None:
        raise KeyError("journal index points at a missing record")
    return bytes(value)


class JournalReader:
    """Typed reads over one read transaction (``with journal.reader() as r: ...``)."""

    def __init__(self, txn: Transaction, dbs: dict[str, Database]) -> None:
        self._txn = txn
        self._dbs = dbs

    # -- records ------------------------------------------------------------------------------

    def message(self, message_id: bytes) -> Envelope | None:
        data = self._txn.get(message_id, db=self._dbs["msg"])
        return None if data is None else Envelope.from_record(message_id, as_bytes(data))

    def state(self, envelope: Envelope, route: str) -> DeliveryState:
        """A delivery's state, derived as everywhere else (:func:`delivery_state`)."""
        data = self._txn.get(delivery_key(envelope.id, route), db=self._dbs["dlv"])
        return delivery_state(None if data is None else as_bytes(data), envelope, route)

    def deliveries(self, envelope: Envelope) -> dict[str, DeliveryState]:
        """Each route's delivery state (derived for a delivery not attempted yet)."""
        return {route: self.state(envelope, route) for route, _ in envelope.routes}

    def is_dead_letter(self, message_id: bytes, route: str) -> bool:
        return self._txn.get(delivery_key(message_id, route), db=self._dbs["dlq"]) is not None

    def is_pending(self, message_id: bytes, route: str) -> bool:
        return self._txn.get(delivery_key(message_id, route), db=self._dbs["pending"]) is not None

    # -- key holds (on_dead_letter: hold) -----------------------------------------------------

    def holder(self, route: str, ordering_key: str) -> bytes | None:
        """The message id of the dead letter holding ``route``'s ``ordering_key``, if any."""
        db = self._dbs.get("holds")  # absent in a journal written before holds existed
        found = None if db is None else self._txn.get(hold_key(route, ordering_key), db=db)
        return None if found is None else bytes(codec.unpack(as_bytes(found))[0])

    def holds(self) -> Iterator[tuple[str, str, bytes]]:
        """``(route, ordering key, dead letter's message id)`` of every held key."""
        if "holds" not in self._dbs:
            return
        for _key, value in self._scan("holds", b""):
            holder, route, ordering_key = codec.unpack(value)
            yield route, ordering_key, bytes(holder)

    def holding(self, message_id: bytes, route: str) -> bool:
        """True when this dead letter holds its key (``route``'s later messages wait for it)."""
        if "holds" not in self._dbs:
            return False
        data = self._txn.get(delivery_key(message_id, route), db=self._dbs["dlv"])
        if data is None:
            return False
        state = DeliveryState.unpack(codec.unpack(as_bytes(data)))
        return self.holder(route, state.ordering_key) == message_id

    def conflicting(self, batch: list[Envelope]) -> list[str]:
        """Idempotency keys of ``batch`` already taken by a different body."""
        found = []
        for env in batch:
            key = idempotency_db_key(env.source, env.idempotency_key)
            seen = self._txn.get(key, db=self._dbs["idem"])
            if seen is None:
                continue
            first = codec.unpack(as_bytes(seen))[1]
            if first != body_digest(env.fingerprint or env.body) and first != body_digest(env.body):
                found.append(env.idempotency_key)
        return found

    def counts(self) -> dict[str, int]:
        return {name: int(self._txn.stat(db)["entries"]) for name, db in self._dbs.items()}

    # -- ordered scans ------------------------------------------------------------------------

    def messages_from(self, start: bytes) -> Iterator[Envelope]:
        """Messages in id (arrival) order from the first id at or after ``start``."""
        for key, value in self._scan("msg", start):
            yield Envelope.from_record(key, value)

    def dead_letters_from(self, start: bytes) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """``(message id + route, record)`` of dead letters in key order from ``start``."""
        for key, value in self._scan("dlq", start):
            yield key, codec.unpack(value)

    def dead_letters_of(self, message_id: bytes) -> Iterator[dict[str, Any]]:
        """The dead-letter records of one message, in route order."""
        for key, record in self.dead_letters_from(message_id):
            if not key.startswith(message_id):
                return
            yield record

    def unrouted_ids(self) -> Iterator[bytes]:
        for key, _ in self._scan("unrouted", b""):
            yield key

    def pending_keys(self) -> Iterator[tuple[bytes, str]]:
        """``(message id, route)`` of every delivery not yet terminal, in arrival order."""
        for key, _ in self._scan("pending", b"", values=False):
            yield key[:16], key[16:].decode()

    def pending(self) -> Iterator[Delivery]:
        """Every delivery not yet terminal, with its message and state, in arrival order."""
        last: Envelope | None = None
        for message_id, route in self.pending_keys():
            if last is None or last.id != message_id:
                last = Envelope.from_record(
                    message_id, as_bytes(self._txn.get(message_id, db=self._dbs["msg"]))
                )
            yield Delivery(last, route, self.state(last, route))

    def has_prefix(self, name: str, prefix: bytes) -> bool:
        with self._txn.cursor(db=self._dbs[name]) as cur:
            return bool(cur.set_range(prefix)) and as_bytes(cur.key()).startswith(prefix)

    def timeline(self, message_id: bytes) -> list[TimelineEvent]:
        """Every event of a message in order: received, routed (or unrouted), then outcomes."""
        envelope = self.message(message_id)
        if envelope is None:
            return []
        events = [
            TimelineEvent(
                envelope.received_at, "received", "", f"{envelope.source} {envelope.type}"
            )
        ]
        events += [
            TimelineEvent(envelope.received_at, "routed", route, f"key={key}")
            for route, key in envelope.routes
        ] or [TimelineEvent(envelope.received_at, "unrouted", "", "no route matched")]
        stored: list[TimelineEvent] = []
        for route, state in self.deliveries(envelope).items():
            if state.status is Status.DELIVERED:
                detail = f"attempt {state.attempts}"
                stored.append(
                    TimelineEvent(state.updated_at, "delivered", route, detail, state.attempts)
                )
        for key, value in self._scan("ev", message_id):
            if not key.startswith(message_id):
                break
            rec = codec.unpack(value)
            stored.append(
                TimelineEvent(
                    rec["at"],
                    rec["kind"],
                    rec["route"],
                    rec["detail"],
                    rec["attempt"],
                    rec["extra"],
                )
            )
        return events + sorted(stored, key=lambda event: event.at)

    def _scan(self, name: str, start: bytes, *, values: bool = True) -> Iterator[tuple[bytes, Any]]:
        with self._txn.cursor(db=self._dbs[name]) as cur:
            if not cur.set_range(start):
                return
            if not values:
                for key in cur.iternext(values=False):
                    yield as_bytes(key), None
                return
            for key, value in cur:
                yield as_bytes(key), as_bytes(value)
