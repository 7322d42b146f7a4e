"""Group commit on the loop side: gather acks and outcomes while the previous commit fsyncs.

At most one ``Append`` is in flight. Requests that arrive while it commits wait in ``pending`` and
go out together as the next batch (up to ``max_batch``), so batch size adapts to load: one message
per commit when idle, hundreds under pressure, and no timer adds latency unless ``linger_s`` > 0.

Outcomes decided by the route actors (on this same loop) wait here too and ride in the next
``Append``: one transaction and one fsync for both. So do cluster mode's adoptions (deliveries
taken from the backbone by the partitions' owner): they go out with the next batch, or alone when
no batch is queued, never waiting behind a timer. Only when no Append comes within
``OUTCOME_LINGER_S`` do they go on their own as a ``Record``. Holding them on the loop, not in the
journal thread, costs no thread crossing: the old flush timer went journal -> loop -> journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from router.envelope import Envelope
from router.errors import BackpressureError, UnavailableError
from router.runtime.messages import Append, Record
from router.runtime.supervision import tell_safely
from router.store.records import Adoption, AppendResult, Delivery, OutcomeRecord

MAX_HELD_OUTCOMES = 2048
# How long outcomes may wait for the next Append to carry them. Sending them as soon as nothing
# else was queued still cost a second fsync per cycle under load (the outcomes of batch n are
# decided just before batch n+1 is ready); a short wait lets them ride along.
OUTCOME_LINGER_S = 0.01


@dataclass(slots=True)
class PendingAck:
    envelope: Envelope
    future: asyncio.Future[AppendResult] = field(repr=False)


class JournalBatcher:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        journal_ref: Any,
        shed: Callable[[str], BackpressureError],
        *,
        max_batch: int,
        max_queued: int,
        linger_s: float,
        retry_after_s: float,
    ) -> None:
        self.loop = loop
        self.journal_ref = journal_ref
        self.shed = shed  # Engine.shed: counts a refusal, returns the error to raise
        self.max_batch = max_batch
        self.max_queued = max_queued
        self.linger_s = linger_s
        self.retry_after_s = retry_after_s
        self.pending: list[PendingAck] = []
        self.in_flight = False
        self._scheduled = False
        self._drained = asyncio.Event()
        self._drained.set()
        self._outcomes: list[OutcomeRecord] = []
        self._adoptions: list[tuple[list[Adoption], asyncio.Future[list[Delivery | None]]]] = []
        self._release = 0
        self._outcome_timer: asyncio.TimerHandle | None = None

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.max_queued

    def submit(self, envelope: Envelope) -> asyncio.Future[AppendResult]:
        """Queue one envelope for the next group commit; never blocks, may refuse (503)."""
        if self.full:
            raise self.shed("journal_queue")
        future: asyncio.Future[AppendResult] = self.loop.create_future()
        self.pending.append(PendingAck(envelope, future))
        self._drained.clear()
        if len(self.pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled and not self.in_flight:
            self._scheduled = True
            if self.linger_s > 0:
                self.loop.call_later(self.linger_s, self._flush)
            else:
                self.loop.call_soon(self._flush)
        return future

    def adopt(self, items: list[Adoption]) -> asyncio.Future[list[Delivery | None]]:
        """Cluster mode: journal ``items`` in the next group commit; resolves with each one's
        delivery (None: finished here already)."""
        future: asyncio.Future[list[Delivery | None]] = self.loop.create_future()
        self._adoptions.append((items, future))
        if not self._scheduled and not self.in_flight:
            self._scheduled = True
            self.loop.call_soon(self._flush)
        return future

    def record(self, outcomes: list[OutcomeRecord], release: int) -> None:
        """Hold outcomes (and the credit they free) for the next commit; from the loop only."""
        if not outcomes and not release:
            return
        self._outcomes.extend(outcomes)
        self._release += release
        if len(self._outcomes) >= MAX_HELD_OUTCOMES:
            self.flush_outcomes()
        elif self._outcome_timer is None:
            self._outcome_timer = self.loop.call_later(OUTCOME_LINGER_S, self.flush_outcomes)

    def _take_outcomes(self) -> tuple[list[OutcomeRecord], int]:
        if self._outcome_timer is not None:
            self._outcome_timer.cancel()
            self._outcome_timer = None
        outcomes, self._outcomes = self._outcomes, []
        release, self._release = self._release, 0
        return outcomes, release

    def flush_outcomes(self) -> None:
        """Journal the outcomes still held, in a transaction of their own."""
        outcomes, release = self._take_outcomes()
        if outcomes or release:
            tell_safely(self.journal_ref, Record(outcomes, release))

    def _flush(self) -> None:
        self._scheduled = False
        if self.in_flight or not (self.pending or self._adoptions):
            return
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        self.in_flight = True
        envelopes = [p.envelope for p in batch]

        def done(results: list[AppendResult] | None, error: Exception | None) -> None:
            self.in_flight = False
            for i, item in enumerate(batch):
                if item.future.done():  # the request was cancelled (client went away)
                    continue
                if error is not None:
                    item.future.set_exception(error)
                else:
                    assert results is not None
                    item.future.set_result(results[i])
            if self.pending or self._adoptions:
                self._flush()
            else:
                self._drained.set()

        queued, self._adoptions = self._adoptions, []
        adoptions = [item for items, _ in queued for item in items]

        def adopted(found: list[Delivery | None] | None, error: Exception | None) -> None:
            at = 0
            for items, future in queued:
                if not future.done():
                    if found is None:
                        future.set_exception(error or RuntimeError("the commit failed"))
                    else:
                        future.set_result(found[at : at + len(items)])
                at += len(items)

        outcomes, release = self._take_outcomes()
        try:
            self.journal_ref.tell(
                Append(envelopes, outcomes, release, done, adoptions, adopted if queued else None)
            )
        except pykka.ActorDeadError:
            error = UnavailableError("the router is shutting down", self.retry_after_s)
            done(None, error)
            adopted(None, error)

    async def drain(self) -> None:
        """Wait until every queued envelope has been committed (or refused)."""
        await self._drained.wait()
