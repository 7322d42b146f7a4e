"""The journal actor: the single LMDB writer, one group commit per ``Append`` batch.

It is the one actor with a thread of its own on the hot path, because its work blocks (the
fsync). A batch crosses threads twice: the ``Append`` in, and after the commit ONE
``call_soon_threadsafe`` back that answers every request of the batch and hands the new
deliveries to their route actors on the loop. Outcomes reach it riding in the next ``Append``
(the loop side holds them briefly, :class:`~router.runtime.batcher.JournalBatcher`), so a busy
router pays one fsync per cycle for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from router.envelope import Envelope
from router.errors import StorageFullError
from router.logs import get_logger
from router.metrics import Metrics
from router.runtime.bridge import LoopBridge
from router.runtime.credit import Credit
from router.runtime.messages import Append, Committed, Counted, Purge, Record, Replay, Sweep
from router.runtime.supervision import SupervisedActor
from router.store.journal import Journal
from router.store.records import (
    AppendOutcome,
    AppendResult,
    Delivery,
    OutcomeRecord,
    delivery_state,
)

log = get_logger("interlock.journal")
Dispatch = Callable[[list[Delivery]], None]
"""Hands deliveries to their route actors; runs on the loop."""


def _committed(
    on_done: Committed, results: list[AppendResult], dispatch: Dispatch, new: list[Delivery]
) -> None:
    """On the loop, after a commit: answer the batch's requests, then start its deliveries."""
    on_done(results, None)
    if new:
        dispatch(new)


def _counted(on_done: Counted, count: int, dispatch: Dispatch, new: list[Delivery]) -> None:
    on_done(count, None)
    if new:
        dispatch(new)


class JournalActor(SupervisedActor):
    name = "journal"

    def __init__(
        self,
        journal: Journal,
        bridge: LoopBridge,
        dispatch: Dispatch,
        retention_s: float,
        credit: Credit,
        metrics: Metrics,
    ) -> None:
        super().__init__(metrics)
        self.credit = credit
        self.journal = journal
        self.bridge = bridge
        self.dispatch = dispatch
        self.retention_s = retention_s
        self._committed = False  # the Append being handled is durable
        self._answered = False  # ...and its requests were answered

    def handle(self, message: object) -> None:
        match message:
            case Append(batch, outcomes, release, on_done):
                self._append(batch, outcomes, release, on_done)
            case Record(outcomes, release):
                self._record(outcomes, release)
            case Replay(items, on_done):
                replayed = self.journal.requeue(items)
                self.credit.force_acquire(len(replayed))
                self.bridge.call(_counted, on_done, len(replayed), self.dispatch, replayed)
            case Purge(items, on_done):
                self.bridge.call(on_done, self.journal.purge(items), None)
            case Sweep(now):
                removed = self.journal.sweep(now, self.retention_s)
                self.metrics.journal_bytes.set(self.journal.size_bytes())
                if removed:
                    log.info("journal_swept", removed=removed)

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
    ) -> None:
        self._committed = self._answered = False
        started = time.perf_counter()
        try:
            results = self.journal.append(batch, outcomes)
        except StorageFullError as exc:
            self.bridge.call(on_done, None, exc)
            self._answered = True
            self._record(outcomes, release)  # alone: they may still fit
            return
        self._committed = True
        self.credit.release(release)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.metrics.commit_batch.observe(len(batch))
        new = [
            Delivery(env, route, delivery_state(None, env, route))
            for env, result in zip(batch, results, strict=True)
            if result.outcome is AppendOutcome.ACCEPTED and not env.rejected
            for route, _key in env.routes
        ]
        self.bridge.call(_committed, on_done, results, self.dispatch, new)
        self._answered = True

    def on_crash(self, message: object, exc: Exception) -> None:
        if isinstance(message, Append):
            if not self._answered:
                # Nothing of the batch was acknowledged: the senders get 503 and retry (a batch
                # already durable answers them as duplicates, and restarts deliver it).
                self.bridge.call(message.on_done, None, exc)
            if not self._committed:
                self._record(message.outcomes, message.release)
        elif isinstance(message, Replay | Purge):
            self.bridge.call(message.on_done, None, exc)
