"""Cluster mode: this instance's part among N routers that share a NATS JetStream backbone.

Ingress (any instance): the message is journaled and fsynced here as in the embedded mode, then
published, one JetStream message per route, to the partition its ordering key hashes to; only
then the 202. Until the publish is acknowledged the delivery stays pending in this journal: that
is the outbox, and a restart (or the backbone coming back) forwards what is left in it.

Delivery (the partition's owner): :class:`~router.cluster.partitions.Partitions` hands each owned
partition's messages over in stream order. Each is claimed in the backbone's idempotency bucket
(create-only, kept for the idempotency retention): the first message id to claim an event's key
is delivered, a later copy (the same event accepted by another instance, or again days later) is
acknowledged and dropped. Claiming at the owner rather than at ingress keeps per-key order: a
copy that an instance journaled and then crashed on, forwarded by its restart after the sender's
retry went elsewhere, loses the claim instead of arriving late. The winners are journaled here
as ``adopted`` deliveries and go through the same route actors, transforms, connectors, retries
and dead letters as in the embedded mode. A delivered one is acked; a dead-lettered one is
written to the backbone's dead-letter bucket (any instance lists and replays it) and then acked.
An unacked message survives its owner: the next owner's consumer starts at the ack floor and
gets it again, before anything newer of its partition, which keeps per-key order across a crash.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from router import codec
from router.cluster.backbone import Backbone, BackboneOptions, BackboneUnavailable
from router.cluster.metrics import ClusterMetrics
from router.cluster.names import Names, kv_key
from router.cluster.outbox import RETRY_MAX_S, RETRY_MIN_S, Outbox
from router.cluster.partitions import Delivered, Partitions
from router.cluster.wire import Wire, partition_for
from router.envelope import Envelope
from router.ids import encode_id
from router.logs import get_logger
from router.runtime.credit import Credit
from router.runtime.messages import NewDeliveries
from router.runtime.supervision import tell_safely
from router.settings import Settings
from router.store.records import Adoption, Delivery, DeliveryState, OutcomeRecord
from router.store.statuses import Status

log = get_logger("interlock.cluster")
WIRE_VERSION = 1
BACKLOG_EVERY_S = 5.0  # how often the partitions' backlog gauge is refreshed
ACKS_AT_STOP_S = 5.0  # how long a stop waits for the acks (and dead letters) still on their way
SETTLED_KEPT = 100_000  # settled triggers whose delivery outcome had not arrived yet
Record = Callable[[list[OutcomeRecord], int], None]
Adopt = Callable[[list[Adoption]], Awaitable[list[Delivery | None]]]


def instance_name(settings: Settings) -> str:
    """This instance's name: configured, or the host plus a digest of its data folder.

    The same folder restarted is the same instance, which lets it take its own leases back at
    once: the data folder's lock proves the previous holder of that name is gone.
    """
    if settings.instance:
        return settings.instance
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())[:40]
    folder = hashlib.sha256(str(Path(settings.data_dir).resolve()).encode()).hexdigest()[:8]
    return f"{host or 'host'}-{folder}"


class ClusterNode:
    """Owns the backbone connection, the partitions this instance holds, and the outbox."""

    def __init__(
        self,
        settings: Settings,
        credit: Credit,
        registry: CollectorRegistry,
        retention_s: float,
        dead_letter_retention_s: float,
    ) -> None:
        self.settings = settings
        self.instance = instance_name(settings)
        self.names = Names(
            settings.backbone_prefix,
            settings.partitions,
            min(settings.backbone_shards, settings.partitions),
        )
        self.partition_count = settings.partitions
        self.credit = credit
        self.metrics = ClusterMetrics(registry, self.instance)
        self.backbone = Backbone(
            BackboneOptions(
                url=settings.backbone,
                names=self.names,
                idempotency_ttl_s=retention_s,
                dead_letter_ttl_s=dead_letter_retention_s,
                lease_s=settings.lease_s,
                replicas=settings.backbone_replicas,
            ),
            self.instance,
        )
        self.partitions = Partitions(
            self.backbone,
            self.instance,
            self._take,
            self._capacity,
            on_change=self._owned_changed,
        )
        self.metrics.up.set_function(lambda: 1.0 if self.backbone.connected else 0.0)
        # Wired by the engine in start(): the journal's adoption, the route actors, the outcomes.
        self._adopt: Adopt | None = None
        self._route_refs: dict[str, Any] = {}
        self._record: Record | None = None
        # (message id, route) -> the backbone message to ack once it is final here.
        self._live: dict[tuple[bytes, str], Delivered] = {}
        self.outbox = Outbox(self.backbone, self.partition_count, self.instance, self.metrics)
        self._tasks: list[asyncio.Task[None]] = []
        self._acks: set[asyncio.Task[None]] = set()
        # Workflow triggers: a delivered trigger is acked when its workflow is done with it
        # (``settle``), so an owner that dies mid-workflow leaves the trigger to the next owner,
        # which runs the instance again with the same step keys (the targets dedupe them).
        self._owned_hooks: list[Callable[[frozenset[int]], None]] = []
        self._workflow_routes: frozenset[str] = frozenset()
        self._awaiting: dict[str, Delivered] = {}  # trigger message id -> its backbone message
        self._settled: OrderedDict[str, None] = OrderedDict()  # settled before it was delivered

    @property
    def connected(self) -> bool:
        return self.backbone.connected

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(
        self,
        adopt: Adopt,
        route_refs: dict[str, Any],
        record: Record,
        outbox: list[Delivery],
        workflow_routes: frozenset[str] = frozenset(),
    ) -> None:
        """Connect (BackboneUnavailable / BackboneConfigError if it cannot), forward what the
        outbox still holds, then take partitions. ``workflow_routes``: the routes whose target
        starts a workflow."""
        self._adopt, self._route_refs, self._record = adopt, route_refs, record
        self._workflow_routes = workflow_routes
        await self.backbone.connect()
        if outbox:
            self.credit.force_acquire(len(outbox))
            log.info("outbox_resumed", deliveries=len(outbox))
        self.outbox.start(record, outbox)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch_backlog(), name="cluster:backlog")]
        await self.partitions.start()
        log.info(
            "cluster_joined",
            instance=self.instance,
            backbone=self.settings.backbone,
            partitions=self.partition_count,
        )

    async def drain(self, timeout_s: float) -> None:
        """Hand the partitions over: stop taking, let in-flight deliveries finish (bounded), then
        release the leases so the others take over at once; forward what the outbox holds."""
        await self.partitions.drain(timeout_s)
        deadline = time.monotonic() + timeout_s
        # Polled: the outbox task empties the queue, and an Event per put would cost every put.
        while len(self.outbox) and self.connected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.outbox.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._acks:  # bounded: an unacked message is delivered again by its next owner
            _, late = await asyncio.wait(self._acks, timeout=ACKS_AT_STOP_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.partitions.stop()
        await self.backbone.close()

    # -- ingress: the outbox ---------------------------------------------------------------------

    async def forward(self, envelope: Envelope) -> None:
        """Publish an accepted envelope's deliveries (BackboneUnavailable: ``forward_later``)."""
        await self.outbox.forward(envelope)

    def forward_later(self, envelope: Envelope) -> None:
        """The backbone could not confirm: the outbox publishes it when it can (credit held)."""
        self.outbox.later(envelope)

    def published(self, message_id: bytes) -> asyncio.Future[None] | None:
        """For a duplicate's answer: resolves once the original, waiting in the outbox, is out."""
        return self.outbox.published(message_id)

    # -- delivery: the partitions this instance owns ---------------------------------------------

    def _capacity(self) -> int:
        return max(0, self.credit.limit - self.credit.in_use)

    def on_owned(self, hook: Callable[[frozenset[int]], None]) -> None:
        """Call ``hook(owned)`` on the loop now and whenever the partitions owned here change."""
        self._owned_hooks.append(hook)
        hook(self.partitions.owned)

    def _owned_changed(self, owned: frozenset[int]) -> None:
        for hook in self._owned_hooks:
            hook(owned)
        for p in range(self.partition_count):
            self.metrics.owned.labels(partition=str(p)).set(1 if p in owned else 0)
        log.info("partitions_owned", partitions=sorted(owned))

    async def _take(self, partition: int, batch: list[Delivered]) -> None:
        """One partition's batch, in stream order: journal it, then hand it to the route actors."""
        items: list[Adoption] = []
        sources: list[Delivered] = []
        wires: list[tuple[Delivered, Wire, Envelope]] = []
        for item in batch:
            try:
                wire = Wire.unpack(item.data)
                envelope = Envelope.from_record(wire.message_id, wire.record)
            except (ValueError, TypeError, KeyError) as exc:
                # Not ours to deliver, and it would block its partition for good.
                log.warning(
                    "backbone_message_unreadable", partition=partition, seq=item.seq, error=str(exc)
                )
                await self.partitions.ack(item)
                continue
            key = (wire.message_id, wire.route)
            if key in self._live:  # already in a lane here: the newest copy is the one to ack
                self._live[key] = item
                continue
            if wire.route not in self._route_refs:
                log.warning("backbone_route_unknown", route=wire.route, message_id=envelope.id_text)
                await self.partitions.ack(item)  # the operator's config decides; see docs
                continue
            wires.append((item, wire, envelope))
        winners = await self._claims(wires)
        for (item, wire, envelope), winner in zip(wires, winners, strict=True):
            if winner != wire.message_id and not wire.replay:
                self.metrics.adopted.labels(kind="duplicate").inc()
                log.debug("duplicate_dropped", message_id=envelope.id_text, first=encode_id(winner))
                self._ack(item)
                continue
            detail = f"partition {partition} seq {item.seq} from {wire.origin}"
            items.append(
                Adoption(
                    envelope,
                    wire.record,
                    wire.route,
                    wire.ordering_key,
                    wire.replay,
                    detail,
                    trigger=wire.route in self._workflow_routes,
                )
            )
            sources.append(item)
        if not items:
            return
        self.credit.force_acquire(len(items))
        assert self._adopt is not None
        found = await self._adopt(items)  # with the next group commit
        per_route: dict[str, list[Delivery]] = defaultdict(list)
        for adoption, source, delivery in zip(items, sources, found, strict=True):
            if delivery is None:  # finished here before its ack got through
                self.credit.release(1)
                self.metrics.adopted.labels(kind="known").inc()
                self._ack(source)
                continue
            self.metrics.adopted.labels(kind="replay" if adoption.replay else "new").inc()
            self._live[delivery.envelope.id, delivery.route] = source
            per_route[delivery.route].append(delivery)
        for route, deliveries in per_route.items():
            tell_safely(self._route_refs[route], NewDeliveries(deliveries))
        self.metrics.inflight.labels(partition=str(partition)).set(
            self.partitions.inflight(partition)
        )

    async def _claims(self, wires: list[tuple[Delivered, Wire, Envelope]]) -> list[bytes]:
        """Each delivery's winning message id, claimed concurrently (order kept); retried while the
        backbone is away, since the partition cannot go on without them."""
        pause = RETRY_MIN_S
        while True:
            try:
                return list(
                    await asyncio.gather(
                        *(
                            # Per event and route: each route of an event takes effect once.
                            self.backbone.claim(
                                kv_key(env.source, env.idempotency_key, wire.route),
                                wire.message_id,
                                item.partition,
                            )
                            for item, wire, env in wires
                        )
                    )
                )
            except BackboneUnavailable:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)

    def record(self, outcomes: list[OutcomeRecord], release: int) -> None:
        """The route actors' outcome sink in cluster mode: the journal's, plus the backbone's ack
        of each adopted delivery that became final (a dead letter is published first)."""
        assert self._record is not None
        self._record(outcomes, release)
        for out in outcomes:
            if out.state.status is Status.DELIVERED:
                source = self._live.pop((out.message_id, out.route), None)
                if source is None:
                    continue
                if out.route in self._workflow_routes:
                    trigger = encode_id(out.message_id)
                    if trigger not in self._settled:  # acked once the workflow is done with it
                        self._awaiting[trigger] = source
                        continue
                    del self._settled[trigger]  # it finished before its outcome got here
                self._ack(source)
            elif out.state.status is Status.DEAD:
                source = self._live.pop((out.message_id, out.route), None)
                if source is not None:
                    self._spawn(self._dead_then_ack(out, source))

    def settle(self, trigger_messages: list[str]) -> None:
        """Workflows are done with these triggers (finished, or a duplicate of a live instance):
        their backbone messages are acked (on the loop)."""
        for trigger in trigger_messages:
            source = self._awaiting.pop(trigger, None)
            if source is not None:
                self._ack(source)
                continue
            self._settled[trigger] = None  # its delivery outcome is still on its way
            while len(self._settled) > SETTLED_KEPT:
                self._settled.popitem(last=False)

    def _ack(self, source: Delivered) -> None:
        self._spawn(self.partitions.ack(source))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    def rejected_at_ingress(self, envelope: Envelope) -> None:
        """A message kept and dead-lettered at once here (a malformed file row): into the
        cluster's dead letters too, so every instance lists it (retried while NATS is away)."""
        now = time.time()
        record = envelope.to_record()
        for route, key in envelope.routes:
            state = DeliveryState(
                status=Status.DEAD, ordering_key=key, last_error=envelope.rejected, updated_at=now
            )
            out = OutcomeRecord(envelope.id, route, state, "dead_lettered", envelope.rejected)
            self._spawn(self._put_dead(out, record, -1, self.instance))

    async def _dead_then_ack(self, out: OutcomeRecord, source: Delivered) -> None:
        wire = Wire.unpack(source.data)
        await self._put_dead(out, wire.record, source.partition, wire.origin)
        await self.partitions.ack(source)

    async def _put_dead(
        self, out: OutcomeRecord, record: bytes, partition: int, origin: str
    ) -> None:
        value = codec.pack(
            {
                "id": out.message_id,
                "route": out.route,
                "reason": out.detail,
                "attempts": out.state.attempts,
                "last_error": out.state.last_error,
                "at": out.state.updated_at,
                "trace_id": out.trace_id,
                "owner": self.instance,
                "partition": partition,
                "key": out.state.ordering_key,
                "record": record,
                "origin": origin,
            }
        )
        pause = RETRY_MIN_S
        while True:  # an ack waits for its dead letter: never acked and lost
            try:
                await self.backbone.put_dead(kv_key(out.message_id.hex(), out.route), value)
            except BackboneUnavailable:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
            else:
                return

    # -- dead letters, from any instance ---------------------------------------------------------

    async def dead_letters(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every dead letter of the cluster (the backbone's bucket), oldest first."""
        found = [codec.unpack(value) for _, value in await self.backbone.dead_letters(limit)]
        return sorted(found, key=lambda d: (d["at"], d["id"]))

    async def replay(self, items: list[tuple[bytes, str]]) -> int:
        """Publish dead letters again to their partitions; their owner delivers them afresh."""
        count = 0
        for message_id, route in items:
            key = kv_key(message_id.hex(), route)
            raw = await self.backbone.get_dead(key)
            if raw is None:
                continue
            dead = codec.unpack(raw)
            envelope = Envelope.from_record(message_id, bytes(dead["record"]))
            partition = partition_for(route, dead["key"], envelope, self.partition_count)
            wire = Wire(message_id, dead["record"], route, dead["key"], True, self.instance)
            msg_id = f"{encode_id(message_id)}:{route}:replay:{time.time_ns()}"
            await self.backbone.publish(partition, wire.pack(), msg_id)
            await self.backbone.delete_dead(key)
            count += 1
        return count

    async def drop(self, items: list[tuple[bytes, str]]) -> int:
        """Purge or skip: the dead letters leave the cluster's list, undelivered."""
        count = 0
        for message_id, route in items:
            key = kv_key(message_id.hex(), route)
            if await self.backbone.get_dead(key) is not None:
                await self.backbone.delete_dead(key)
                count += 1
        return count

    async def _watch_backlog(self) -> None:
        while True:
            try:
                backlog = await self.backbone.partition_backlog()
                for p, count in backlog.items():
                    self.metrics.backlog.labels(partition=str(p)).set(count)
                for p in range(self.partition_count):
                    self.metrics.inflight.labels(partition=str(p)).set(self.partitions.inflight(p))
            except BackboneUnavailable:
                pass
            await asyncio.sleep(BACKLOG_EVERY_S)
