"""The journal and idempotency store: its environment and every write.

One environment per process; every write happens on the journal actor's thread, so LMDB's single
writer is never contended. Readers (recovery, the admin API, the CLI on a stopped router) use short
read transactions through :meth:`Journal.reader` (:mod:`router.store.reads`); LMDB errors leave as
the errors tree (:mod:`router.store.lmdb_env`). Databases::

    msg        message id (16 B)            -> envelope record (time-ordered: the sweeper's index)
    idem       source \\0 key               -> [message id, body digest]
    dlv        message id + route           -> delivery state, once it has one beyond "new"
    pending    message id + route           -> ''   (recovery index: not yet terminal)
    ev         message id + ns + seq        -> timeline event (failures, replays, conflicts)

Every LMDB call releases and re-takes the GIL, which beside a busy event loop costs up to a switch
interval each; so the hot path writes as little as it can: 2 + routes puts per accepted message,
and a delete plus one put per delivered route. What can be derived is derived on read instead
(the "received", "routed" and "delivered" timeline events, a new delivery's state).
    dlq        message id + route           -> dead-letter record
    unrouted   message id                   -> ''
    holds      route \\0 ordering key       -> [dead letter's message id, route, key]

A hold (``on_dead_letter: hold``) is written in the transaction that writes its dead letter, and
cleared in the one that replays, skips or purges it; the deliveries it holds back are ordinary
``pending`` ones, so recovery derives them from the two (:mod:`router.runtime.recovery`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router import codec
from router.envelope import Envelope
from router.store.lmdb_env import Transaction, open_environment, translated
from router.store.reads import JournalReader
from router.store.reads import as_bytes as _b
from router.store.records import (
    Adoption,
    AppendOutcome,
    AppendResult,
    Delivery,
    DeliveryState,
    OutcomeRecord,
    Released,
    TimelineEvent,
    body_digest,
    delivery_key,
    delivery_state,
    hold_key,
    idempotency_db_key,
)
from router.store.statuses import FINAL, Status

_DBS = ("msg", "idem", "dlv", "pending", "ev", "dlq", "unrouted", "holds")


@dataclass(frozen=True, slots=True)
class SweepResult:
    removed: int  # idempotency keys expired and messages removed
    next: bytes  # where the next pass starts (b"": from the oldest again)
    # Dead letters past their own retention: (message id, the message, its dead-letter records).
    dead: list[tuple[bytes, dict[str, Any], list[dict[str, Any]]]]


_seq = itertools.count()
_FULL_HINT = "; raise INTERLOCK_MAP_SIZE_MB or shorten the retention"


def _archived(env: Envelope) -> dict[str, Any]:
    """A message as an archive keeps it: its metadata, and its body (JSON, else as text)."""
    try:
        body: Any = env.payload
    except ValueError:
        body = env.body.decode("utf-8", "replace")
    return {
        "source": env.source,
        "type": env.type,
        "idempotency_key": env.idempotency_key,
        "correlation_id": env.correlation_id,
        "received_at": env.received_at,
        "routes": [route for route, _ in env.routes],
        "body": body,
    }


def _rejected(env: Envelope, route: str, key: str, now: float) -> OutcomeRecord:
    state = DeliveryState(
        status=Status.DEAD, ordering_key=key, last_error=env.rejected, updated_at=now
    )
    return OutcomeRecord(env.id, route, state, "dead_lettered", env.rejected, env.trace_id)


def _event_key(message_id: bytes) -> bytes:
    return (
        message_id
        + time.time_ns().to_bytes(8, "big")
        + (next(_seq) & 0xFFFFFFFF).to_bytes(4, "big")
    )


def _event_item(
    message_id: bytes,
    kind: str,
    *,
    route: str = "",
    detail: str = "",
    attempt: int = 0,
    at: float | None = None,
) -> tuple[bytes, bytes]:
    """A timeline event's key and record (``at``: when it happened; default now)."""
    record = {
        "at": time.time() if at is None else at,
        "kind": kind,
        "route": route,
        "detail": detail,
        "attempt": attempt,
        "extra": {},
    }
    return _event_key(message_id), codec.pack(record)


class Journal:
    """Durable message journal, idempotency store, delivery states, timeline and dead letters.

    The map is opened at its full size once: the file is sparse, so this reserves address space,
    not disk. Growing it later (``set_mapsize``) would invalidate read transactions that other
    threads hold open (recovery, admin queries), so it is never resized while open.
    """

    def __init__(
        self,
        path: Path,
        *,
        map_size_mb: int = 65536,
        sync: bool = True,
        readonly: bool = False,
    ) -> None:
        self.path = path
        self.env, self._db, self.stale_readers_cleared = open_environment(
            path,
            _DBS,
            what="journal",
            map_size_mb=map_size_mb,
            sync=sync,
            readonly=readonly,
            max_readers=256,
            max_spare_txns=4,
            optional=("holds",),
        )

    def close(self) -> None:
        self.env.close()

    @contextmanager
    def reader(self) -> Iterator[JournalReader]:
        """One consistent read snapshot (any thread); LMDB errors leave as StorageError."""
        with translated("journal"), self.env.begin() as txn:
            yield JournalReader(txn, self._db)

    # -- writes (journal actor thread only) ---------------------------------------------------

    def _write(self, work: Any) -> Any:
        """Run ``work(txn)`` in one write transaction; a full map fails only that transaction."""
        with translated("journal", full_hint=_FULL_HINT), self.env.begin(write=True) as txn:
            return work(txn)

    def append(
        self, batch: list[Envelope], outcomes: list[OutcomeRecord] | None = None
    ) -> list[AppendResult]:
        """Make a batch durable in one transaction with the idempotency check-and-set.

        ``outcomes`` waiting to be journaled ride along in the same transaction: one fsync for
        both, which roughly halves the commits of a busy router.
        """
        return self.commit(batch, outcomes or [], [])[0]

    def commit(
        self, batch: list[Envelope], outcomes: list[OutcomeRecord], adoptions: list[Adoption]
    ) -> tuple[list[AppendResult], list[Delivery | None]]:
        """:meth:`append` with cluster mode's adoptions (:meth:`adopt`) in the same transaction."""

        def work(txn: Transaction) -> tuple[list[AppendResult], list[Delivery | None]]:
            if outcomes:
                self._record(txn, outcomes)
            adopted = self._adopt(txn, adoptions) if adoptions else []
            return self._append(txn, batch), adopted

        return self._write(work)  # type: ignore[no-any-return]

    def _append(self, txn: Transaction, batch: list[Envelope]) -> list[AppendResult]:
        """The batch's idempotency check-and-set and its records, in a few bulk LMDB calls.

        A single-key ``put`` beside a busy event loop can give the GIL away and wait up to a
        switch interval to get it back (measured: 100 puts in 34-91 ms beside a busy thread,
        against 0.8-2 ms as one ``putmulti``). So the batch reads every idempotency key at once
        (``getmulti``), decides in Python (a key repeated inside the batch included), and writes
        each database with one ``putmulti``. This is the only writer, inside one transaction, so
        reading then writing is still an atomic check-and-set.
        """
        db = self._db
        results: list[AppendResult | None] = [None] * len(batch)
        candidates: list[tuple[int, Envelope, bytes, bytes, bytes]] = []
        for i, env in enumerate(batch):
            try:
                record = env.to_record()
                idem_key = idempotency_db_key(env.source, env.idempotency_key)
            except (TypeError, ValueError, UnicodeError):
                # One unencodable message must not fail its whole batch (or reach the disk).
                results[i] = AppendResult(AppendOutcome.REJECTED, env.id)
                continue
            candidates.append((i, env, record, idem_key, body_digest(env.fingerprint or env.body)))
        with txn.cursor(db=db["idem"]) as cur:
            taken: dict[bytes, tuple[bytes, bytes]] = {
                _b(key): tuple(codec.unpack(_b(value))[:2])
                for key, value in cur.getmulti([c[3] for c in candidates])
            }
        now = time.time()
        idem: list[tuple[bytes, bytes]] = []
        messages: list[tuple[bytes, bytes]] = []
        pending: list[tuple[bytes, bytes]] = []
        unrouted: list[tuple[bytes, bytes]] = []
        rejected: list[OutcomeRecord] = []
        for i, env, record, idem_key, digest in candidates:
            first = taken.get(idem_key)
            if first is not None:  # seen before, in the store or earlier in this batch
                first_id, first_digest = first
                # A fingerprinted message (a CloudEvent) stored before fingerprints: its body's.
                same = first_digest == digest or (
                    bool(env.fingerprint) and first_digest == body_digest(env.body)
                )
                outcome = AppendOutcome.DUPLICATE if same else AppendOutcome.CONFLICT
                results[i] = AppendResult(outcome, first_id)
                if not same:
                    self._event(
                        txn, first_id, "conflict", detail=f"same key, different body at {now:.3f}"
                    )
                continue
            taken[idem_key] = (env.id, digest)
            idem.append((idem_key, codec.pack([env.id, digest])))
            # "received" and "routed" timeline events are derived from this record on read.
            messages.append((env.id, record))
            if not env.routes:
                unrouted.append((env.id, b""))
            results[i] = AppendResult(AppendOutcome.ACCEPTED, env.id)
            if env.rejected:
                rejected += [_rejected(env, route, key, now) for route, key in env.routes]
                continue
            # No `dlv` record yet: a new delivery's state is derived from the message record.
            pending += [(delivery_key(env.id, route), b"") for route, _key in env.routes]
        self._put_all(txn, "idem", idem)
        self._put_all(txn, "msg", messages)
        self._put_all(txn, "pending", pending)
        self._put_all(txn, "unrouted", unrouted)
        if rejected:  # kept, and dead-lettered in the same transaction: never half-accepted
            self._record(txn, rejected)
        return [r for r in results if r is not None]

    def _put_all(self, txn: Transaction, name: str, items: list[tuple[bytes, bytes]]) -> None:
        """Write ``items`` in order (a later value for a key wins) with one LMDB call."""
        if items:
            with txn.cursor(db=self._db[name]) as cur:
                cur.putmulti(items)

    def _event(
        self,
        txn: Transaction,
        message_id: bytes,
        kind: str,
        route: str = "",
        detail: str = "",
        attempt: int = 0,
        **extra: Any,
    ) -> None:
        key, value = _event_item(message_id, kind, route=route, detail=detail, attempt=attempt)
        if extra:
            value = codec.pack({**codec.unpack(value), "extra": extra})
        txn.put(key, value, db=self._db["ev"])

    def record(self, outcomes: list[OutcomeRecord]) -> None:
        """Journal delivery outcomes (and their timeline events) in one transaction."""
        self._write(lambda txn: self._record(txn, outcomes))

    def _record(self, txn: Transaction, outcomes: list[OutcomeRecord]) -> None:
        """Outcomes in decision order: states (the last one of a delivery wins), dead letters and
        timeline events each in one bulk write; finished deliveries leave the ``pending`` index."""
        states: list[tuple[bytes, bytes]] = []
        dead: list[tuple[bytes, bytes]] = []
        holds: list[tuple[bytes, bytes]] = []
        events: list[tuple[bytes, bytes]] = []
        finished: list[bytes] = []
        for out in outcomes:
            dk = delivery_key(out.message_id, out.route)
            state = out.state
            states.append((dk, codec.pack(state.pack())))
            if state.status in FINAL:
                finished.append(dk)
            if state.status is Status.DEAD:
                record = {
                    "route": out.route,
                    "reason": out.detail,
                    "attempts": state.attempts,
                    "last_error": state.last_error,
                    "trace_id": out.trace_id,
                    "at": state.updated_at,
                }
                dead.append((dk, codec.pack(record)))
                if out.hold:  # its key's later messages wait for it: durable with it
                    key = state.ordering_key
                    holds.append(
                        (hold_key(out.route, key), codec.pack([out.message_id, out.route, key]))
                    )
            if out.event == "delivered":
                continue  # derived on read from the delivered state (one put less per message)
            events.append(
                _event_item(
                    out.message_id,
                    out.event,
                    route=out.route,
                    detail=out.detail or state.last_error,
                    attempt=state.attempts,
                    # When it was decided, not when it was journaled: outcomes may wait for the
                    # next group commit, and the timeline must keep the order of the decisions.
                    at=state.updated_at or None,
                )
            )
        self._put_all(txn, "dlv", states)
        self._put_all(txn, "dlq", dead)
        self._put_all(txn, "holds", holds)
        self._put_all(txn, "ev", events)
        for dk in finished:  # deletes have no bulk call; measured cheap beside a busy loop
            txn.delete(dk, db=self._db["pending"])

    def _adopt(self, txn: Transaction, items: list[Adoption]) -> list[Delivery | None]:
        """Cluster mode: journal deliveries taken from the backbone (in :meth:`commit`).

        Each becomes pending here (``adopted``), unless this journal already holds its fate:
        delivered or dead-lettered by this instance before its ack reached the backbone (None:
        the caller acks it and sends nothing). A replay clears the dead letter first. The message
        record is written once; a second route of it taken later joins its routes.
        """
        db = self._db
        now = time.time()
        out: list[Delivery | None] = []
        for item in items:
            mid = item.envelope.id
            envelope = item.envelope
            stored_record = txn.get(mid, db=db["msg"])
            if stored_record is None:
                envelope.routes = [(item.route, item.ordering_key)]
                txn.put(mid, envelope.to_record(), db=db["msg"])
            else:
                envelope = Envelope.from_record(mid, _b(stored_record))
                if all(route != item.route for route, _ in envelope.routes):
                    envelope.routes = [*envelope.routes, (item.route, item.ordering_key)]
                    txn.put(mid, envelope.to_record(), db=db["msg"])
            dk = delivery_key(mid, item.route)
            stored = txn.get(dk, db=db["dlv"])
            old = delivery_state(None if stored is None else _b(stored), envelope, item.route)
            final = (Status.DEAD,) if item.trigger else (Status.DELIVERED, Status.DEAD)
            finished = stored is not None and old.status in final
            if finished and (not item.replay or txn.get(dk, db=db["dlq"]) is None):
                out.append(None)  # its fate is here already: ack it, send nothing
                continue
            if item.replay:
                txn.delete(dk, db=db["dlq"])
            state = DeliveryState(
                ordering_key=item.ordering_key,
                updated_at=now,
                first_attempt_at=old.first_attempt_at if stored is not None else 0.0,
                adopted=True,
            )
            txn.put(dk, codec.pack(state.pack()), db=db["dlv"])
            txn.put(dk, b"", db=db["pending"])
            kind = "replayed" if item.replay else "adopted"
            self._event(txn, mid, kind, route=item.route, detail=item.detail)
            out.append(Delivery(envelope, item.route, state))
        return out

    def hand_back(self) -> list[Delivery]:
        """Cluster mode, at start: adopted deliveries still pending go back to the backbone.

        The backbone redelivers them to their partition's owner (this instance or another), so
        they leave this journal's pending index (``forwarded``, event ``handed_back``). Returns
        the rest of the pending index: accepted here and not yet forwarded (the outbox).
        """
        return self._write(self._hand_back)  # type: ignore[no-any-return]

    def _hand_back(self, txn: Transaction) -> list[Delivery]:
        outbox: list[Delivery] = []
        back: list[OutcomeRecord] = []
        now = time.time()
        for pending in JournalReader(txn, self._db).pending():
            if not pending.state.adopted:
                outbox.append(pending)
                continue
            state = pending.state.copy()
            state.status, state.updated_at = Status.FORWARDED, now
            detail = "pending at a restart: its partition's owner delivers it"
            back.append(
                OutcomeRecord(pending.envelope.id, pending.route, state, "handed_back", detail)
            )
        if back:
            self._record(txn, back)
        return outbox

    def sweep(
        self,
        now: float,
        retention_s: float,
        dead_retention_s: float,
        start: bytes = b"",
        limit: int = 10000,
    ) -> SweepResult:
        """One pass of the sweeper from ``start``: see :meth:`_sweep`."""
        return self._write(  # type: ignore[no-any-return]
            lambda txn: self._sweep(txn, now, retention_s, dead_retention_s, start, limit)
        )

    def _sweep(
        self,
        txn: Transaction,
        now: float,
        retention_s: float,
        dead_retention_s: float,
        start: bytes,
        limit: int,
    ) -> SweepResult:
        """Walk at most ``limit`` messages older than the retention (ids are time-ordered), from
        ``start``: expire each one's idempotency key, remove the message once nothing is pending
        or dead, and name the dead-lettered ones older than ``dead_retention_s`` (to archive,
        then :meth:`expire_dead`).

        The pass resumes where the last one stopped (``SweepResult.next``) rather than at the
        oldest message, so messages it must keep (pending, dead-lettered) never stop it: with
        10,000 old dead letters it used to re-read the same 10,000 every pass and expire nothing
        after them. ``next`` is empty when the pass reached the horizon: the next pass starts
        over, and looks at the kept ones again.
        """
        db = self._db
        horizon_ms = int((now - retention_s) * 1000)
        dead_ms = int((now - dead_retention_s) * 1000)
        expired: list[tuple[bytes, bytes]] = []
        following = b""
        with txn.cursor(db=db["msg"]) as cur:
            found = cur.set_range(start) if start else cur.first()
            while found:
                key = _b(cur.key())
                if int.from_bytes(key[:6], "big") > horizon_ms:
                    break
                if len(expired) >= limit:
                    following = key
                    break
                expired.append((key, _b(cur.value())))
                found = cur.next()
        removed, dead = 0, []
        view = JournalReader(txn, db)
        for key, value in expired:
            envelope = Envelope.from_record(key, value)
            idem_key = idempotency_db_key(envelope.source, envelope.idempotency_key)
            seen = txn.get(idem_key, db=db["idem"])
            if seen is not None and codec.unpack(_b(seen))[0] == key:
                txn.delete(idem_key, db=db["idem"])
                removed += 1
            if view.has_prefix("pending", key):
                continue  # unfinished: kept until it is delivered or dead
            if view.has_prefix("dlq", key):
                if int.from_bytes(key[:6], "big") <= dead_ms and not any(
                    view.holding(key, route) for route, _ in envelope.routes
                ):  # one that holds its key waits for the operator's replay or skip
                    dead.append((key, _archived(envelope), list(view.dead_letters_of(key))))
                continue  # dead-lettered: kept for the operator, up to its own retention
            self._remove(txn, key)
            removed += 1
        return SweepResult(removed, following, dead)

    def _remove(self, txn: Transaction, key: bytes) -> None:
        """A message and everything recorded about it (its idempotency key is the caller's)."""
        db = self._db
        txn.delete(key, db=db["msg"])
        txn.delete(key, db=db["unrouted"])
        for name in ("dlv", "ev", "dlq"):
            with txn.cursor(db=db[name]) as cur:
                while cur.set_range(key) and _b(cur.key()).startswith(key):
                    cur.delete()

    def expire_dead(self, message_ids: list[bytes]) -> int:
        """Remove dead-lettered messages past their retention (archived first by the caller)."""

        def work(txn: Transaction) -> int:
            view = JournalReader(txn, self._db)
            gone = 0
            for key in message_ids:
                if view.has_prefix("pending", key) or txn.get(key, db=self._db["msg"]) is None:
                    continue  # replayed meanwhile, or gone already
                self._remove(txn, key)
                gone += 1
            return gone

        return self._write(work)  # type: ignore[no-any-return]

    def requeue(self, items: list[tuple[bytes, str]]) -> tuple[list[Delivery], list[Released]]:
        """Move dead-lettered deliveries back to pending (a replay); others are left alone.

        Replaying twice is safe: the second call finds no dead letter and does nothing, and the
        delivery keeps its outbound idempotency key, so a target that applied it once dedupes it.
        It keeps ``first_attempt_at`` too (when the key was first sent: the target's key window
        counts from it), and gets a fresh retry budget. Returns the requeued deliveries that held
        no key, and the keys released by the ones that did (each carrying its delivery).
        """
        return self._write(lambda txn: self._requeue(txn, items))  # type: ignore[no-any-return]

    def _requeue(
        self, txn: Transaction, items: list[tuple[bytes, str]]
    ) -> tuple[list[Delivery], list[Released]]:
        db = self._db
        now = time.time()
        plain: list[Delivery] = []
        released: list[Released] = []
        for message_id, route in items:
            dk = delivery_key(message_id, route)
            record = txn.get(message_id, db=db["msg"])
            if txn.get(dk, db=db["dlq"]) is None or record is None:
                continue
            old = DeliveryState.unpack(codec.unpack(_b(txn.get(dk, db=db["dlv"]))))
            state = DeliveryState(
                ordering_key=old.ordering_key,
                updated_at=now,
                first_attempt_at=old.first_attempt_at,
            )
            txn.delete(dk, db=db["dlq"])
            txn.put(dk, codec.pack(state.pack()), db=db["dlv"])
            txn.put(dk, b"", db=db["pending"])
            held = self._unhold(txn, message_id, route, old.ordering_key)
            detail = f"after {old.attempts} attempts" + (
                f"; key {old.ordering_key!r} goes on after it" if held else ""
            )
            self._event(txn, message_id, "replayed", route=route, detail=detail)
            delivery = Delivery(Envelope.from_record(message_id, _b(record)), route, state)
            if held:
                released.append(Released(route, old.ordering_key, message_id, delivery))
            else:
                plain.append(delivery)
        return plain, released

    def _unhold(self, txn: Transaction, message_id: bytes, route: str, ordering_key: str) -> bool:
        """Clear the hold of ``route``'s ``ordering_key`` if dead letter ``message_id`` holds it."""
        hk = hold_key(route, ordering_key)
        found = txn.get(hk, db=self._db["holds"])
        if found is None or bytes(codec.unpack(_b(found))[0]) != message_id:
            return False
        txn.delete(hk, db=self._db["holds"])
        return True

    def _ordering_key(self, txn: Transaction, message_id: bytes, route: str) -> str:
        stored = txn.get(delivery_key(message_id, route), db=self._db["dlv"])
        return "" if stored is None else DeliveryState.unpack(codec.unpack(_b(stored))).ordering_key

    def purge(self, items: list[tuple[bytes, str]]) -> tuple[int, list[Released]]:
        """Drop dead letters for good (the delivery stays recorded as dead in its timeline).

        One that held its key releases it, as a skip does. Returns how many were dropped, and
        the keys released.
        """
        dropped: tuple[int, list[Released]] = self._write(
            lambda txn: self._drop(txn, items, "purged", "")
        )
        return dropped

    def skip(self, items: list[tuple[bytes, str]], reason: str) -> tuple[int, list[Released]]:
        """Give up on dead letters: never delivered, out of the dead-letter queue, ``reason`` in
        their timeline; the keys they held go on. Returns how many, and the keys released."""
        dropped: tuple[int, list[Released]] = self._write(
            lambda txn: self._drop(txn, items, "skipped", reason)
        )
        return dropped

    def _drop(
        self, txn: Transaction, items: list[tuple[bytes, str]], event: str, reason: str
    ) -> tuple[int, list[Released]]:
        dropped = 0
        released: list[Released] = []
        for message_id, route in items:
            if not txn.delete(delivery_key(message_id, route), db=self._db["dlq"]):
                continue
            dropped += 1
            key = self._ordering_key(txn, message_id, route)
            held = self._unhold(txn, message_id, route, key)
            parts = [reason, f"key {key!r} goes on without it" if held else ""]
            self._event(
                txn, message_id, event, route=route, detail="; ".join(p for p in parts if p)
            )
            if held:
                released.append(Released(route, key, message_id, None))
        return dropped, released

    def load(self, route: str, ids: list[bytes]) -> list[Delivery]:
        """The pending deliveries of ``route`` among ``ids`` (a released key's held ones), with
        their messages and states; one no longer pending is left out."""
        with self.reader() as reader:
            found = []
            for message_id in ids:
                if not reader.is_pending(message_id, route):
                    continue
                envelope = reader.message(message_id)
                if envelope is not None:
                    found.append(Delivery(envelope, route, reader.state(envelope, route)))
            return found

    def drop_holds(self, holds: list[tuple[str, str]], why: str) -> int:
        """Clear the holds of ``(route, ordering key)`` pairs (their routes no longer hold)."""

        def work(txn: Transaction) -> int:
            dropped = 0
            for route, key in holds:
                hk = hold_key(route, key)
                found = txn.get(hk, db=self._db["holds"])
                if found is None:
                    continue
                txn.delete(hk, db=self._db["holds"])
                holder = bytes(codec.unpack(_b(found))[0])
                self._event(txn, holder, "released", route=route, detail=f"key {key!r}: {why}")
                dropped += 1
            return dropped

        return self._write(work)  # type: ignore[no-any-return]

    # -- reads (any thread) ------------------------------------------------------------------

    def pending(self) -> Iterator[Delivery]:
        """Every delivery not yet terminal, in message-id (arrival) order."""
        with self.reader() as reader:
            yield from reader.pending()

    def conflicting(self, batch: list[Envelope]) -> list[str]:
        """Idempotency keys of ``batch`` already taken by a different body (a read, no write)."""
        with self.reader() as reader:
            return reader.conflicting(batch)

    def message(self, message_id: bytes) -> Envelope | None:
        with self.reader() as reader:
            return reader.message(message_id)

    def deliveries(self, message_id: bytes) -> dict[str, DeliveryState]:
        """Each route's delivery state (derived for a delivery not attempted yet)."""
        with self.reader() as reader:
            envelope = reader.message(message_id)
            return {} if envelope is None else reader.deliveries(envelope)

    def timeline(self, message_id: bytes) -> list[TimelineEvent]:
        """Every event of a message in order: received, routed (or unrouted), then outcomes."""
        with self.reader() as reader:
            return reader.timeline(message_id)

    def dead_letters(self, limit: int = 1000) -> list[tuple[bytes, dict[str, Any]]]:
        with self.reader() as reader:
            found = reader.dead_letters_from(b"")
            return [(key[:16], record) for key, record in itertools.islice(found, limit)]

    def unrouted(self, limit: int = 1000) -> list[bytes]:
        with self.reader() as reader:
            return list(itertools.islice(reader.unrouted_ids(), limit))

    def counts(self) -> dict[str, int]:
        with self.reader() as reader:
            return reader.counts()

    def size_bytes(self) -> int:
        with translated("journal"):
            info = self.env.info()
            return int((info["last_pgno"] + 1) * self.env.stat()["psize"])
