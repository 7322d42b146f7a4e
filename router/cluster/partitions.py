"""Partition ownership (leases in a KV bucket) and consumption (one pull consumer per partition).

Each instance keeps a member key alive, claims leases up to its fair share and renews them every
heartbeat; a lease it fails to renew is lost at once. A gained partition always gets a freshly
created durable consumer: with work-queue retention the stream holds exactly the unacked
messages, so the new consumer hands them over first, in stream order, which keeps per-key order
across a crash. Reusing the old durable would return the dead owner's unacked messages only after
ack_wait, behind newer ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from router.cluster.backbone import Backbone, BackboneUnavailable
from router.cluster.names import partition_of
from router.logs import get_logger

CLOSE_TIMEOUT_S = 2.0
log = get_logger("interlock.cluster")

IDLE_S = 0.02
FETCH_TIMEOUT_S = 1.0
RETRY_S = 0.5


@dataclass(slots=True)
class Delivered:
    partition: int
    seq: int  # stream sequence
    data: bytes
    headers: dict[str, str]
    _msg: Any  # the nats Msg, for ack


Handler = Callable[[int, list[Delivered]], Awaitable[None]]


@dataclass(slots=True, eq=False)
class _Lease:
    partition: int
    revision: int
    sub: JetStreamContext.PullSubscription | None = None
    task: asyncio.Task[None] | None = None
    inflight: dict[int, Delivered] = field(default_factory=dict)
    paused: bool = False
    closed: bool = False
    fetching: bool = False
    in_handler: bool = False


class Partitions:
    """This instance's share of the partitions, and a fetch task for each one it owns."""

    def __init__(
        self,
        backbone: Backbone,
        instance: str,
        handler: Handler,
        capacity: Callable[[], int],
        *,
        fetch_batch: int = 256,
        heartbeat_s: float | None = None,
        on_change: Callable[[frozenset[int]], None] | None = None,
    ) -> None:
        self.backbone = backbone
        self.instance = instance
        self.boot = uuid.uuid4().hex
        self._handler = handler
        self._capacity = capacity
        self._fetch_batch = fetch_batch
        self._heartbeat_s = heartbeat_s or backbone.options.lease_s / 3
        self._on_change = on_change
        self._lease_value = f"{instance}/{self.boot}".encode()
        self._count = backbone.options.partitions
        start = partition_of(instance, self._count)
        # Each instance tries free partitions from its own offset, so they do not all race for p0.
        self._order = [(start + i) % self._count for i in range(self._count)]
        self._leases: dict[int, _Lease] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._draining = False
        self._down = False

    # -- public ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._beat()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="cluster-heartbeat")

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._leases)

    def inflight(self, partition: int) -> int:
        lease = self._leases.get(partition)
        return len(lease.inflight) if lease else 0

    async def ack(self, item: Delivered) -> None:
        lease = self._leases.get(item.partition)
        if lease is None or lease.inflight.get(item.seq) is not item:
            # The partition was lost (and maybe regained): its new consumer redelivers the
            # message, and an ack here could reach that consumer under the same durable name.
            log.warning("partition_ack_skipped", partition=item.partition, seq=item.seq)
            return
        # Not ack_sync: a round trip per message costs more than an ack lost now and then,
        # which only means the message comes again (to a new consumer at takeover, or after
        # ack_wait) and is found finished in the owner's journal, or re-sent with its key.
        try:
            await item._msg.ack()
        except (TimeoutError, OSError, nats.errors.Error) as err:
            log.warning(
                "partition_ack_failed",
                partition=item.partition,
                seq=item.seq,
                error=f"{type(err).__name__}: {err}",
            )
        finally:
            lease.inflight.pop(item.seq, None)

    async def drain(self, timeout_s: float) -> None:
        """Stop fetching, wait for in-flight work (up to ``timeout_s``), then hand every
        partition over at once by deleting our leases and member key."""
        self._draining = True
        for lease in self._leases.values():
            lease.paused = True
        deadline = time.monotonic() + timeout_s
        # Polled: acks, fetches and handlers all change these, an event each would be noise.
        while time.monotonic() < deadline and any(  # noqa: ASYNC110
            _busy(lease) for lease in self._leases.values()
        ):
            await asyncio.sleep(IDLE_S)
        await self._cancel_heartbeat()
        for lease in list(self._leases.values()):
            if lease.inflight:
                log.warning(
                    "partition_released_with_inflight",
                    partition=lease.partition,
                    inflight=len(lease.inflight),
                )
            await self._release(lease, notify=False)
        with contextlib.suppress(BackboneUnavailable):
            kv = self.backbone.bucket(self.backbone.names.members_bucket)
            await self.backbone.call("leave", lambda: kv.delete(self.instance))
        self._changed()
        log.info("partitions_drained", instance=self.instance)

    async def stop(self) -> None:
        """Cancel everything without releasing anything, as a crash would."""
        await self._cancel_heartbeat()
        for lease in list(self._leases.values()):
            await self._close(lease, cancel_handler=True)
        self._leases.clear()

    # -- heartbeat: membership, renewal, claims, surplus -------------------------------------

    async def _cancel_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            await _ended(task, "heartbeat")

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self._beat()
            except BackboneUnavailable as err:
                if not self._down:
                    log.warning("partitions_backbone_down", instance=self.instance, error=str(err))
                self._down = True
            else:
                if self._down:
                    log.info("partitions_backbone_up", instance=self.instance)
                self._down = False

    async def _beat(self) -> None:
        bb = self.backbone
        members = bb.bucket(bb.names.members_bucket)
        await bb.call("heartbeat", lambda: members.put(self.instance, self.boot.encode()))
        await self._renew()
        if self._draining:
            return

        async def keys() -> list[str]:
            try:
                return list(await members.keys())
            except nats.js.errors.NoKeysError:  # seen under load right after our own put
                return [self.instance]

        live = await bb.call("members", keys)
        fair = math.ceil(self._count / max(1, len(live)))
        if len(self._leases) < fair:
            await self._claim(fair)
        await self._rebalance(fair)

    async def _renew(self) -> None:
        bb = self.backbone
        owners = bb.bucket(bb.names.owners_bucket)
        for lease in list(self._leases.values()):
            try:
                lease.revision = await bb.call(
                    "renew",
                    functools.partial(
                        owners.update,
                        f"p{lease.partition}",
                        self._lease_value,
                        last=lease.revision,
                    ),
                )
            except BackboneUnavailable as err:
                if isinstance(err.__cause__, nats.js.errors.KeyWrongLastSequenceError):
                    log.warning("partition_lost", partition=lease.partition, instance=self.instance)
                    await self._close(lease, cancel_handler=False)
                    del self._leases[lease.partition]
                    self._changed()
                else:
                    raise

    async def _claim(self, fair: int) -> None:
        bb = self.backbone
        owners = bb.bucket(bb.names.owners_bucket)
        for partition in self._order:
            if len(self._leases) >= fair:
                return
            if partition in self._leases:
                continue
            create = functools.partial(owners.create, f"p{partition}", self._lease_value)
            revision: int | None
            try:
                revision = await bb.call("claim_partition", create)
            except BackboneUnavailable as err:
                if not isinstance(err.__cause__, nats.js.errors.KeyWrongLastSequenceError):
                    raise
                revision = await self._take_from_dead_boot(partition)
            if revision is not None:
                await self._gain(partition, revision)

    async def _take_from_dead_boot(self, partition: int) -> int | None:
        """A lease naming our instance with another boot id was held by a dead process of ours
        (the data folder lock allows one process per instance): take it without waiting."""
        bb = self.backbone
        owners = bb.bucket(bb.names.owners_bucket)
        key = f"p{partition}"

        async def get() -> Any:
            try:
                return await owners.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None  # expired since: the next heartbeat's create gets it

        entry = await bb.call("read_lease", get)
        if entry is None:
            return None
        holder, _, boot = (entry.value or b"").decode(errors="replace").partition("/")
        if holder != self.instance or boot == self.boot:
            return None
        try:
            revision: int = await bb.call(
                "take_lease",
                lambda: owners.update(key, self._lease_value, last=entry.revision),
            )
        except BackboneUnavailable as err:
            if isinstance(err.__cause__, nats.js.errors.KeyWrongLastSequenceError):
                return None
            raise
        log.info("partition_taken_from_dead_boot", partition=partition, old_boot=boot)
        return revision

    async def _gain(self, partition: int, revision: int) -> None:
        bb, names, opts = self.backbone, self.backbone.names, self.backbone.options
        js = bb.js
        durable = names.consumer(partition)
        lease = _Lease(partition, revision)
        self._leases[partition] = lease

        async def delete() -> None:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_consumer(names.stream_of(partition), durable)

        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=names.subject(partition),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=opts.ack_wait_s,
            max_ack_pending=opts.max_ack_pending,
        )
        try:
            await bb.call("delete_consumer", delete)
            await bb.call(
                "add_consumer", lambda: js.add_consumer(names.stream_of(partition), config)
            )
            lease.sub = await bb.call(
                "bind_consumer", lambda: js.pull_subscribe_bind(durable, names.stream_of(partition))
            )
        except BackboneUnavailable as err:
            # Give the lease back so another instance (or our next heartbeat) can try again.
            log.warning("partition_setup_failed", partition=partition, error=str(err))
            await self._release(lease, notify=False)
            return
        lease.task = asyncio.create_task(self._fetch_loop(lease), name=f"cluster-fetch-{partition}")
        log.info("partition_gained", partition=partition, instance=self.instance)
        self._changed()

    async def _rebalance(self, fair: int) -> None:
        surplus = len(self._leases) - fair
        paused = [lease for lease in self._leases.values() if lease.paused]
        if surplus > len(paused):
            # Idle partitions first: they can be handed over soonest.
            running = sorted(
                (lease for lease in self._leases.values() if not lease.paused),
                key=lambda lease: len(lease.inflight),
            )
            for lease in running[: surplus - len(paused)]:
                lease.paused = True
                log.info("partition_pausing", partition=lease.partition, instance=self.instance)
        elif surplus < len(paused):
            for lease in paused[: len(paused) - max(0, surplus)]:
                lease.paused = False  # a member left: keep it after all
        for lease in list(self._leases.values()):
            # Never hand over a partition with work in flight: its new owner would redeliver it
            # while we may still be delivering it.
            if lease.paused and not _busy(lease):
                await self._release(lease, notify=True)

    async def _release(self, lease: _Lease, *, notify: bool) -> None:
        await self._close(lease, cancel_handler=True)
        self._leases.pop(lease.partition, None)
        bb = self.backbone
        owners = bb.bucket(bb.names.owners_bucket)
        try:
            await bb.call(
                "release", lambda: owners.delete(f"p{lease.partition}", last=lease.revision)
            )
        except BackboneUnavailable as err:
            # Lost already, or the backbone is away: the lease expires by itself either way.
            log.warning("partition_release_failed", partition=lease.partition, error=str(err))
        else:
            log.info("partition_released", partition=lease.partition, instance=self.instance)
        if notify:
            self._changed()

    async def _close(self, lease: _Lease, *, cancel_handler: bool) -> None:
        """Stop fetching on ``lease`` at once; a running handler finishes unless told otherwise."""
        lease.closed = True
        task = lease.task
        if task is not None and (cancel_handler or not lease.in_handler):
            task.cancel()
            await _ended(task, f"partition {lease.partition} fetch")
        lease.task = None
        if lease.sub is not None:
            with contextlib.suppress(Exception):  # bounded: a stop must never hang on the network
                await asyncio.wait_for(lease.sub.unsubscribe(), CLOSE_TIMEOUT_S)
            lease.sub = None

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.owned)

    # -- fetching ----------------------------------------------------------------------------

    async def _fetch_loop(self, lease: _Lease) -> None:
        failing = False
        sub = lease.sub
        assert sub is not None
        while not lease.closed:
            n = min(self._fetch_batch, self._capacity())
            if lease.paused or n <= 0:
                await asyncio.sleep(IDLE_S)
                continue
            lease.fetching = True
            try:
                msgs = await sub.fetch(n, timeout=FETCH_TIMEOUT_S)
            except nats.errors.TimeoutError:
                continue
            except (OSError, nats.errors.Error) as err:
                if not failing:
                    log.warning(
                        "partition_fetch_failed",
                        partition=lease.partition,
                        error=f"{type(err).__name__}: {err}",
                    )
                failing = True
                await asyncio.sleep(RETRY_S)
                continue
            finally:
                lease.fetching = False
            if failing:
                log.info("partition_fetch_resumed", partition=lease.partition)
                failing = False
            if lease.closed:
                return  # lost while fetching: the new owner's consumer redelivers these
            batch = _accept(lease, msgs)
            if not batch:
                continue
            lease.in_handler = True
            try:
                await self._handler(lease.partition, batch)
            except Exception:
                # One bad batch must not stop the partition. It stays in flight, so the partition
                # is not handed over while it is there; the engine's handler is not meant to raise.
                log.exception("partition_handler_failed", partition=lease.partition)
            finally:
                lease.in_handler = False


async def _ended(task: asyncio.Task[None], what: str) -> None:
    """Wait for a cancelled task, bounded: a client call that swallows the cancellation (and
    goes on until its own timeout) must not hang a stop."""
    done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
    if not done:
        log.warning("cluster_task_slow_to_stop", task=what, waited_s=CLOSE_TIMEOUT_S)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("cluster_task_failed", task=what, error=repr(task.exception()))


def _busy(lease: _Lease) -> bool:
    return bool(lease.inflight) or lease.fetching or lease.in_handler


def _accept(lease: _Lease, msgs: list[Any]) -> list[Delivered]:
    batch = []
    for msg in msgs:
        seq = msg.metadata.sequence.stream
        if seq in lease.inflight:
            continue  # a redelivery after ack_wait: one live copy is enough
        item = Delivered(lease.partition, seq, msg.data, dict(msg.headers or {}), msg)
        lease.inflight[seq] = item
        batch.append(item)
    return batch
