"""Cluster mode, the accepting side: publish each accepted delivery to its partition.

A delivery stays pending in the local journal until its publish is acknowledged; then it is
recorded ``forwarded`` (riding the next commit). What the backbone could not confirm at once (an
outage, or what a restart found pending) waits here, oldest first, and is published as soon as
the backbone is back. A duplicate of a message still waiting here is answered only once that
message is published: the sender moves on to the key's next event only after its 2xx, so that
event cannot overtake it on the partition.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from router.cluster.backbone import Backbone, BackboneUnavailable
from router.cluster.metrics import ClusterMetrics
from router.cluster.wire import Wire, partition_for
from router.envelope import Envelope
from router.logs import get_logger
from router.store.records import Delivery, DeliveryState, OutcomeRecord
from router.store.statuses import Status

log = get_logger("interlock.cluster")
RETRY_MIN_S, RETRY_MAX_S = 0.2, 5.0  # the retry pace while the backbone is away
Record = Callable[[list[OutcomeRecord], int], None]


class Outbox:
    def __init__(
        self,
        backbone: Backbone,
        partitions: int,
        instance: str,
        metrics: ClusterMetrics,
    ) -> None:
        self.backbone = backbone
        self.partitions = partitions
        self.instance = instance
        self.metrics = metrics
        self.record: Record | None = None  # the journal's outcome sink, wired at start
        self._waiting: deque[Delivery] = deque()
        self._put = asyncio.Event()
        self._published: dict[bytes, asyncio.Future[None]] = {}  # waiting message id -> done
        self._task: asyncio.Task[None] | None = None

    def start(self, record: Record, pending: list[Delivery]) -> None:
        """Begin forwarding; ``pending``: what the journal's pending index held at start."""
        self.record = record
        for delivery in pending:
            self._wait(delivery)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster:outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._waiting)

    async def forward(self, envelope: Envelope) -> None:
        """Publish an accepted envelope's deliveries now; BackboneUnavailable if the backbone
        cannot confirm (then call :meth:`later`)."""
        await self._publish([_delivery(envelope, route, key) for route, key in envelope.routes])

    def later(self, envelope: Envelope) -> None:
        """Leave an envelope's deliveries to the retry task (their credit stays held)."""
        for route, key in envelope.routes:
            self._wait(_delivery(envelope, route, key))

    def published(self, message_id: bytes) -> asyncio.Future[None] | None:
        """Resolves once a message waiting here is published; None when none is waiting."""
        return self._published.get(message_id)

    def _wait(self, delivery: Delivery) -> None:
        self._waiting.append(delivery)
        mid = delivery.envelope.id
        if mid not in self._published:
            self._published[mid] = asyncio.get_running_loop().create_future()
        self._put.set()

    async def _publish(self, deliveries: list[Delivery]) -> None:
        envelope = deliveries[0].envelope
        record = envelope.to_record()
        now = time.time()
        outcomes: list[OutcomeRecord] = []
        for d in deliveries:
            key = d.state.ordering_key
            partition = partition_for(d.route, key, envelope, self.partitions)
            wire = Wire(envelope.id, record, d.route, key, False, self.instance)
            # The broker's window drops a re-publish of the same delivery (a restart's outbox).
            seq = await self.backbone.publish(
                partition, wire.pack(), f"{envelope.id_text}:{d.route}"
            )
            outcomes.append(_final(d, now, f"partition {partition} seq {seq}"))
        self.metrics.forwarded.inc(len(deliveries))
        assert self.record is not None
        self.record(outcomes, len(outcomes))

    async def _run(self) -> None:
        pause = RETRY_MIN_S
        while True:
            if not self._waiting:
                self._put.clear()
                await self._put.wait()
                continue
            group = [self._waiting.popleft()]
            # The other routes of the same message go with it.
            while self._waiting and self._waiting[0].envelope.id == group[0].envelope.id:
                group.append(self._waiting.popleft())
            while True:
                try:
                    await self._publish(group)
                    break
                except BackboneUnavailable as exc:
                    log.debug("outbox_waiting", reason=str(exc), deliveries=len(group))
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MAX_S)
            pause = RETRY_MIN_S
            done = self._published.pop(group[0].envelope.id, None)
            if done is not None and not done.done():
                done.set_result(None)


def _delivery(envelope: Envelope, route: str, key: str) -> Delivery:
    return Delivery(
        envelope, route, DeliveryState(ordering_key=key, updated_at=envelope.received_at)
    )


def _final(delivery: Delivery, now: float, detail: str) -> OutcomeRecord:
    state = delivery.state.copy()
    state.status, state.updated_at = Status.FORWARDED, now
    return OutcomeRecord(delivery.envelope.id, delivery.route, state, "forwarded", detail)
