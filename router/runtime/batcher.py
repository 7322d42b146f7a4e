"""Group commit on the loop side: gather acks while the previous commit is being fsynced.

At most one ``Append`` is in flight. Requests that arrive while it commits wait in ``pending`` and
go out together as the next batch (up to ``max_batch``), so batch size adapts to load: one message
per commit when idle, hundreds under pressure, and no timer adds latency unless ``linger_s`` > 0.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pykka

from router.envelope import Envelope
from router.errors import BackpressureError, UnavailableError
from router.metrics import Metrics
from router.runtime.messages import Append, PendingAck
from router.store.records import AppendResult


class JournalBatcher:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        journal_ref: Any,
        metrics: Metrics,
        *,
        max_batch: int,
        max_queued: int,
        linger_s: float,
        retry_after_s: float,
    ) -> None:
        self.loop = loop
        self.journal_ref = journal_ref
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_queued = max_queued
        self.linger_s = linger_s
        self.retry_after_s = retry_after_s
        self.pending: list[PendingAck] = []
        self.in_flight = False
        self._scheduled = False
        self._drained = asyncio.Event()
        self._drained.set()

    def submit(self, envelope: Envelope) -> asyncio.Future[AppendResult]:
        """Queue one envelope for the next group commit; never blocks, may refuse (503)."""
        if len(self.pending) >= self.max_queued:
            self.metrics.shed.labels(reason="journal_queue").inc()
            raise BackpressureError("journal queue is full", retry_after=self.retry_after_s)
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

    def _flush(self) -> None:
        self._scheduled = False
        if self.in_flight or not self.pending:
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
            if self.pending:
                self._flush()
            else:
                self._drained.set()

        try:
            self.journal_ref.tell(Append(envelopes, done))
        except pykka.ActorDeadError:
            done(None, UnavailableError("the router is shutting down", self.retry_after_s))

    async def drain(self) -> None:
        """Wait until every queued envelope has been committed (or refused)."""
        await self._drained.wait()
