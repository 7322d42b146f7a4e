"""The journal actor: the single LMDB writer, one group commit per ``Append`` batch."""

from __future__ import annotations

import time
from collections.abc import Callable

from router.envelope import Envelope
from router.errors import StorageFullError
from router.logs import get_logger
from router.metrics import Metrics
from router.runtime.bridge import LoopBridge
from router.runtime.credit import Credit
from router.runtime.messages import (
    Append,
    Delivery,
    FlushOutcomes,
    Purge,
    Record,
    Replay,
    Sweep,
)
from router.runtime.supervision import SupervisedActor, tell_safely
from router.store.journal import Journal
from router.store.records import AppendOutcome, DeliveryState, OutcomeRecord

log = get_logger("interlock.journal")
MAX_HELD_OUTCOMES = 2048
# How long outcomes may wait for the next Append to carry them. Flushing them as soon as the inbox
# was momentarily empty still cost a second fsync per cycle under load (the Record of batch n
# usually arrives just before the Append of batch n+1); a short wait lets them ride along.
OUTCOME_LINGER_S = 0.01
Deliver = Callable[[list[Delivery]], None]


class JournalActor(SupervisedActor):
    name = "journal"

    def __init__(
        self,
        journal: Journal,
        bridge: LoopBridge,
        deliver: Deliver,
        retention_s: float,
        credit: Credit,
        metrics: Metrics,
    ) -> None:
        super().__init__(metrics)
        self.credit = credit
        self.journal = journal
        self.bridge = bridge
        self.deliver = deliver
        self.retention_s = retention_s
        self._acked = False
        self._outcomes: list[OutcomeRecord] = []
        self._release = 0
        self._flush_due = False
        self._held_since = 0.0  # when the oldest outcome still held arrived

    def handle(self, message: object) -> None:
        match message:
            case Append(batch, on_done):
                self._append(batch, on_done)
            case Record(outcomes, release):
                # Held until the next Append carries them, or OUTCOME_LINGER_S, so that a busy
                # router journals outcomes in the appends' transactions: one fsync per cycle.
                if not self._outcomes:
                    self._held_since = time.monotonic()
                self._outcomes.extend(outcomes)
                self._release += release
                if len(self._outcomes) >= MAX_HELD_OUTCOMES:
                    self._flush_outcomes()
            case FlushOutcomes():
                self._flush_due = False
                # Outcomes that arrived after an Append took the earlier ones wait their own
                # full linger (else this timer would still cost a lone fsync per cycle).
                if time.monotonic() - self._held_since >= OUTCOME_LINGER_S * 0.9:
                    self._flush_outcomes()
            case Replay(items, on_done):
                self._flush_outcomes()
                replayed = self.journal.requeue(items)
                self.credit.force_acquire(len(replayed))
                self.deliver([Delivery(p.envelope, p.route, p.state) for p in replayed])
                self.bridge.call(on_done, len(replayed), None)
            case Purge(items, on_done):
                self._flush_outcomes()
                self.bridge.call(on_done, self.journal.purge(items), None)
            case Sweep(now):
                removed = self.journal.sweep(now, self.retention_s)
                self.metrics.journal_bytes.set(self.journal.size_bytes())
                if removed:
                    log.info("journal_swept", removed=removed)
        if self._outcomes and not self._flush_due:
            self._flush_due = True  # one timer at a time; a flush that finds nothing is a no-op
            delay = self._held_since + OUTCOME_LINGER_S - time.monotonic()
            self.bridge.call_later(delay, tell_safely, self.actor_ref, FlushOutcomes())

    def on_stop(self) -> None:
        self._flush_outcomes()  # outcomes still held when the engine stops

    def _flush_outcomes(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        release, self._release = self._release, 0
        try:
            if outcomes:
                self.journal.record(outcomes)
        except StorageFullError:
            # The deliveries stay `pending` in the journal, so a restart redelivers them
            # (idempotently); the live lanes carry on meanwhile.
            log.warning("journal_full_recording_outcomes", count=len(outcomes))
        finally:
            self.credit.release(release)

    def _append(self, batch: list[Envelope], on_done: Callable[..., None]) -> None:
        self._acked = False
        started = time.perf_counter()
        outcomes, self._outcomes = self._outcomes, []
        release, self._release = self._release, 0
        try:
            results = self.journal.append(batch, outcomes)
        except StorageFullError as exc:
            self._outcomes, self._release = outcomes, release  # retried alone, below
            self.bridge.call(on_done, None, exc)
            self._flush_outcomes()
            return
        except BaseException:
            self._outcomes, self._release = outcomes + self._outcomes, release + self._release
            raise
        self.credit.release(release)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.metrics.commit_batch.observe(len(batch))
        # One hop back to the loop resolves every waiting request of the batch.
        self.bridge.call(on_done, results, None)
        self._acked = True
        deliveries = [
            Delivery(env, route, DeliveryState(ordering_key=key, updated_at=env.received_at))
            for env, result in zip(batch, results, strict=True)
            if result.outcome is AppendOutcome.ACCEPTED
            for route, key in env.routes
        ]
        if deliveries:
            self.deliver(deliveries)

    def on_crash(self, message: object, exc: Exception) -> None:
        if isinstance(message, Append) and not self._acked:
            # Nothing of the batch was acknowledged: the senders get 503 and retry.
            self.bridge.call(message.on_done, None, exc)
        elif isinstance(message, Replay | Purge):
            self.bridge.call(message.on_done, None, exc)
