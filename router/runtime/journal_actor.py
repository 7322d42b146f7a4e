"""The journal actor: the single LMDB writer, one group commit per ``Append`` batch.

It is the one actor with a thread of its own on the hot path, because its work blocks (the
fsync). A batch crosses threads twice: the ``Append`` in, and after the commit ONE
``call_soon_threadsafe`` back that answers every request of the batch and hands the new
deliveries to their route actors on the loop. Outcomes reach it riding in the next ``Append``
(the loop side holds them briefly, :class:`~router.runtime.batcher.JournalBatcher`), so a busy
router pays one fsync per cycle for both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from router import telemetry
from router.envelope import Envelope
from router.errors import StorageFullError
from router.ids import encode_id
from router.logs import get_logger
from router.metrics import Metrics
from router.runtime.bridge import LoopBridge
from router.runtime.credit import Credit
from router.runtime.messages import (
    Adopted,
    Append,
    Committed,
    Counted,
    DropHolds,
    Load,
    Purge,
    Record,
    Replay,
    Skip,
    Sweep,
)
from router.runtime.supervision import SupervisedActor
from router.store.journal import Journal
from router.store.records import (
    Adoption,
    AppendOutcome,
    AppendResult,
    Delivery,
    OutcomeRecord,
    Released,
    delivery_state,
)

log = get_logger("interlock.journal")
Dispatch = Callable[[list[Delivery]], None]
"""Hands deliveries to their route actors; runs on the loop."""
Release = Callable[[list[Released]], None]
"""Tells route actors that keys held by a dead letter go on; runs on the loop."""


def _committed(
    on_done: Committed,
    results: list[AppendResult],
    dispatch: Dispatch,
    new: list[Delivery],
    on_adopted: Adopted | None = None,
    adopted: list[Delivery | None] | None = None,
) -> None:
    """On the loop, after a commit: answer the batch's requests, then start its deliveries."""
    on_done(results, None)
    if new:
        dispatch(new)
    if on_adopted is not None:
        on_adopted(adopted, None)


def _counted(
    on_done: Counted,
    count: int,
    dispatch: Dispatch,
    new: list[Delivery],
    release: Release | None = None,
    released: list[Released] | None = None,
) -> None:
    """On the loop, after a replay, skip or purge: answer, then hand the work over (the plain
    replays first: one of them may be an older message a released key must wait for)."""
    on_done(count, None)
    if new:
        dispatch(new)
    if released and release is not None:
        release(released)


class JournalActor(SupervisedActor):
    name = "journal"

    def __init__(
        self,
        journal: Journal,
        bridge: LoopBridge,
        dispatch: Dispatch,
        retention: Retention,
        credit: Credit,
        metrics: Metrics,
        release: Release | None = None,
    ) -> None:
        super().__init__(metrics)
        self.credit = credit
        self.journal = journal
        self.bridge = bridge
        self.dispatch = dispatch
        self.release = release
        self.retention = retention
        self._sweep_from = b""  # where the next sweep pass starts (in memory: a restart rescans)
        self._committed = False  # the Append being handled is durable
        self._answered = False  # ...and its requests were answered

    def handle(self, message: object) -> None:
        match message:
            case Append(batch, outcomes, release, on_done, adoptions, on_adopted):
                self._append(batch, outcomes, release, on_done, adoptions, on_adopted)
            case Record(outcomes, release):
                self._record(outcomes, release)
            case Replay(items, on_done):
                replayed, released = self.journal.requeue(items)
                count = len(replayed) + len(released)
                # Each is in flight again until it finishes; each release holds one more unit.
                self.credit.force_acquire(count + len(released))
                self.bridge.call(
                    _counted, on_done, count, self.dispatch, replayed, self.release, released
                )
            case Purge(items, on_done):
                purged, released = self.journal.purge(items)
                self.credit.force_acquire(len(released))
                self.bridge.call(
                    _counted, on_done, purged, self.dispatch, [], self.release, released
                )
            case Skip(items, reason, on_done):
                skipped, released = self.journal.skip(items, reason)
                self.credit.force_acquire(len(released))
                self.bridge.call(
                    _counted, on_done, skipped, self.dispatch, [], self.release, released
                )
            case Load(route, ids, on_done):
                found = self.journal.load(route, ids)
                self.credit.force_acquire(len(found))
                self.bridge.call(on_done, found, None)
            case DropHolds(holds):
                dropped = self.journal.drop_holds(holds, "the route no longer holds its keys")
                log.info("holds_dropped", count=dropped)
            case Sweep(now):
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        r = self.retention
        found = self.journal.sweep(now, r.idempotency_s, r.dead_letter_s, self._sweep_from)
        self._sweep_from = found.next
        expired = 0
        if found.dead:
            if r.archive is not None:  # written and synced before the journal lets them go
                archive_dead_letters(r.archive, found.dead, now)
            expired = self.journal.expire_dead([key for key, _, _ in found.dead])
            action = "archived" if r.archive is not None else "purged"
            self.metrics.child(self.metrics.dead_letters_expired, action).inc(expired)
            log.info("dead_letters_expired", count=expired, action=action, archive=str(r.archive))
        self.metrics.journal_bytes.set(self.journal.size_bytes())
        if found.removed:
            log.info("journal_swept", removed=found.removed, expired_dead_letters=expired)

    def _record(self, outcomes: list[OutcomeRecord], release: int) -> None:
        try:
            if outcomes:
                self.journal.record(outcomes)
        except StorageFullError:
            # The deliveries stay `pending` in the journal, so a restart redelivers them
            # (idempotently); the live lanes carry on meanwhile.
            log.warning("journal_full_recording_outcomes", count=len(outcomes))
        finally:
            self.credit.release(release)

    def _append(
        self,
        batch: list[Envelope],
        outcomes: list[OutcomeRecord],
        release: int,
        on_done: Committed,
        adoptions: list[Adoption],
        on_adopted: Adopted | None,
    ) -> None:
        self._committed = self._answered = False
        span = None
        if batch and telemetry.enabled():  # one span per commit, linked to every message's trace
            span = telemetry.start(
                "interlock.journal.commit",
                batch[0].traceparent,
                attributes={"interlock.batch_messages": len(batch)},
                links=[(env.traceparent, None) for env in batch[1:]],
            )
        started = time.perf_counter()
        try:
            results, adopted = self.journal.commit(batch, outcomes, adoptions)
        except StorageFullError as exc:
            if span is not None:
                span.end()
            self.bridge.call(on_done, None, exc)
            if on_adopted is not None:
                self.bridge.call(on_adopted, None, exc)
            self._answered = True
            self._record(outcomes, release)  # alone: they may still fit
            return
        self._committed = True
        if span is not None:
            span.end()
        self.credit.release(release)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        if batch:  # a commit of adoptions alone is not an ingress batch
            self.metrics.commit_batch.observe(len(batch))
        new = [
            Delivery(env, route, delivery_state(None, env, route))
            for env, result in zip(batch, results, strict=True)
            if result.outcome is AppendOutcome.ACCEPTED and not env.rejected
            for route, _key in env.routes
        ]
        self.bridge.call(_committed, on_done, results, self.dispatch, new, on_adopted, adopted)
        self._answered = True

    def on_crash(self, message: object, exc: Exception) -> None:
        if isinstance(message, Append):
            if not self._answered:
                # Nothing of the batch was acknowledged: the senders get 503 and retry (a batch
                # already durable answers them as duplicates, and restarts deliver it).
                self.bridge.call(message.on_done, None, exc)
                if message.on_adopted is not None:
                    self.bridge.call(message.on_adopted, None, exc)
            if not self._committed:
                self._record(message.outcomes, message.release)
        elif isinstance(message, Replay | Purge | Skip | Load):
            self.bridge.call(message.on_done, None, exc)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long the journal keeps things: idempotency keys (and finished messages), dead letters,
    and where expired dead letters are archived (None: purged)."""

    idempotency_s: float
    dead_letter_s: float
    archive: Path | None


def archive_dead_letters(
    folder: Path, dead: list[tuple[bytes, dict[str, Any], list[dict[str, Any]]]], now: float
) -> None:
    """Append expired dead letters to ``folder/dead-letters-<day>.jsonl``, synced.

    One JSON line per message, with its dead-letter records; a crash after this and before the
    journal removes them writes them again next pass (an archive may hold a line twice, never
    miss one)."""
    folder.mkdir(parents=True, exist_ok=True)
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    path = folder / f"dead-letters-{day}.jsonl"
    with path.open("ab") as out:
        for key, message, records in dead:
            line = {
                "message_id": encode_id(key),
                "message": message,
                "dead_letters": records,
                "archived_at": now,
            }
            out.write(orjson.dumps(line, default=str) + b"\n")
        out.flush()
        os.fsync(out.fileno())
