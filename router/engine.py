"""The engine: wires journal, routing, actors and connectors; usable embedded or behind HTTP.

Embedded use (inside a running asyncio loop)::

    engine = Engine(load_config("routes"), Settings(data_dir=Path("data"), demo=True))
    await engine.start()          # rebuilds in-flight work from the journal, then ready
    ack = await engine.submit("stripe", body, headers)
    await engine.stop()
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pykka
from multidict import CIMultiDict, CIMultiDictProxy
from opentelemetry.trace import SpanKind

from router import registry, telemetry
from router.alerts.kind import ALERTS
from router.alerts.service import Alerter
from router.cluster.backbone import BackboneConfigError, BackboneUnavailable
from router.cluster.node import ClusterNode
from router.config import RouterConfig, refuse_demo_secrets
from router.connector import Connector
from router.envelope import Envelope
from router.errors import (
    BackboneStartError,
    BackpressureError,
    BadRequestError,
    ConflictError,
    StorageFullError,
    UnavailableError,
    UnknownSourceError,
)
from router.file_source import FileDrop
from router.ids import decode_id, encode_id
from router.jobs.kind import JOB, RECONCILIATION
from router.jobs.metrics import JobMetrics
from router.jobs.placement import JobPlacement
from router.jobs.service import Clock, JobService
from router.logs import get_logger
from router.metrics import Metrics
from router.request_reply.kind import REQUEST_REPLY
from router.request_reply.service import RequestReply
from router.routing import RoutingTable
from router.runtime.admission import AckLimit
from router.runtime.batcher import JournalBatcher
from router.runtime.bridge import LoopBridge, reply_on_loop
from router.runtime.connector_actor import ConnectorActor
from router.runtime.credit import Credit
from router.runtime.journal_actor import JournalActor, Retention
from router.runtime.lag import LoopLag
from router.runtime.messages import (
    Load,
    Loaded,
    NewDeliveries,
    Purge,
    Release,
    Replay,
    Skip,
    Sweep,
)
from router.runtime.outlet import Outlet
from router.runtime.recovery import recover_deliveries
from router.runtime.route_actor import RouteActor
from router.runtime.supervision import tell_safely
from router.settings import Settings
from router.source_handler import Ack, SourceHandler
from router.store.journal import Journal
from router.store.lock import DataDirLock
from router.store.records import AppendOutcome, Delivery, Released
from router.workflows.kind import WORKFLOW
from router.workflows.service import Workflows

log = get_logger("interlock.engine")
GC_GEN0_THRESHOLD = 10_000
LAG_INTERVAL_S = 0.005  # the loop-lag probe: 200 cheap timer callbacks a second
STOP_TIMEOUT_S = 10.0
SHED_DETAIL = {  # interlock_shed_total{reason}: why a 503 refused new work
    "credit": "delivery credit exhausted",
    "journal_queue": "journal queue is full",
    "loop_lag": "the router is overloaded (event loop lag)",
    "ack_latency": "the router is overloaded (commit queue)",
    "backbone": "the backbone is unreachable (cluster mode)",
}


class Engine:
    def __init__(
        self,
        config: RouterConfig,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.config = config
        # The wall clock of the scheduler and of the route actors (attempts, retry ages, key
        # windows); a test or a simulation may set its own.
        self.clock = clock
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.table = RoutingTable.from_config(config)
        self.sources = {name: SourceHandler(src) for name, src in config.sources.items()}
        self.credit = Credit(settings.max_inflight)
        self.ready = False
        self.started = False
        self.recovered = 0
        self.storage_full = False
        self.draining = False
        self.journal: Journal | None = None
        self._data_lock = DataDirLock(settings.data_dir)  # one process per data folder
        self._connectors: dict[str, Connector] = {}
        self._outlets: dict[str, Outlet] = {}
        self.lag: LoopLag | None = None
        self.ack_limit = AckLimit(settings.shed_ack_ms / 1000, ceiling=settings.max_connections)
        self.request_reply: dict[str, RequestReply] = {}
        self._connector_refs: dict[str, Any] = {}
        self._route_refs: dict[str, Any] = {}
        self._journal_ref: Any = None
        self._batcher: JournalBatcher | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self.workflows: Workflows | None = None
        self._jobs = JobPlacement(self._job_service)
        self.alerter: Alerter | None = None
        self._drops: list[asyncio.Task[None]] = []  # the drop folders' watchers (files sources)
        # Cluster mode (``INTERLOCK_BACKBONE``): N instances share the work through NATS.
        self.cluster: ClusterNode | None = None
        if settings.backbone:
            self.cluster = ClusterNode(
                settings,
                self.credit,
                self.metrics.registry,
                settings.idempotency_retention_s,
                settings.dead_letter_retention_s,
            )

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal, start actors and connectors, and reload unfinished deliveries.

        Outside demo mode (``Settings.demo``), a source secret left at its placeholder's shipped
        default raises :class:`~router.config.ConfigErrors` before anything is opened.
        """
        refuse_demo_secrets(self.config, self.settings.demo)
        self._data_lock.acquire()  # before any LMDB environment is opened
        loop = asyncio.get_running_loop()
        bridge = LoopBridge(loop)
        s = self.settings
        self.journal = Journal(
            s.data_dir / "journal",
            map_size_mb=s.map_size_mb,
            sync=s.sync,
        )
        # Cluster mode: what a restart left adopted goes back to the backbone; the rest of the
        # pending index is the outbox, forwarded once the backbone is connected.
        outbox = self.journal.hand_back() if self.cluster is not None else []
        self._journal_ref = JournalActor.start(
            self.journal,
            bridge,
            self._dispatch if self.cluster is None else _forwarded_elsewhere,
            Retention(
                s.idempotency_retention_s,
                s.dead_letter_retention_s,
                s.data_dir / "archive" if s.dead_letter_expiry == "archive" else None,
            ),
            self.credit,
            self.metrics,
            self._release,
        )
        self._batcher = JournalBatcher(
            loop,
            self._journal_ref,
            self.shed,
            max_batch=s.group_commit_max,
            max_queued=s.group_commit_max * s.mailbox_size,
            linger_s=s.group_commit_ms / 1000,
            retry_after_s=s.retry_after_s,
        )
        kinds = registry.connectors()
        for name, conn in self.config.connectors.items():
            connector: Connector = kinds[conn.kind].factory(name, conn.settings)
            # A connector may keep its own metrics (calls, latency, circuit state, refreshes).
            for collector in getattr(connector, "collectors", list)():
                self.metrics.adopt(collector)
            await connector.start()
            self._connectors[name] = connector
            self._outlets[name] = outlet = Outlet(name, connector, self.metrics)
            self._connector_refs[name] = ConnectorActor.start(outlet, self.metrics)
        for alerts in self.config.specs(ALERTS).values():  # at most one (checked at load)
            outlet = self._outlets[alerts.notify.connector]
            self.alerter = Alerter(alerts, outlet, self.metrics.registry)
            self.alerter.start()
        alert = self.alerter.note if self.alerter is not None else None
        transforms = registry.transforms()
        workflow_specs = self.config.specs(WORKFLOW)
        if workflow_specs:
            self.workflows = Workflows(
                workflow_specs,
                s.data_dir,
                s.sync,
                self._outlets,
                transforms,
                bridge,
                self.metrics,
                alert,
                clock=self.clock,
                # Cluster mode: a trigger is acked on the backbone once its workflow is done.
                on_settled=self.cluster.settle if self.cluster is not None else None,
            )
            for name, trigger in self.workflows.triggers.items():
                self._outlets[name] = outlet = Outlet(name, trigger, self.metrics)
                self._connector_refs[name] = ConnectorActor.start(outlet, self.metrics)
        for spec in self.config.specs(REQUEST_REPLY).values():
            self.request_reply[spec.id] = RequestReply(
                spec,
                [transforms[name] for name in spec.transforms],
                [transforms[name] for name in spec.reply],
                self._outlets[spec.target.connector],
                self.metrics,
            )
        self._start_routes(transforms, alert)
        self.lag = LoopLag(loop, s.shed_lag_ms / 1000, interval_s=LAG_INTERVAL_S)
        self.lag.start()
        self._watch_gauges()
        self.started = True
        if self.cluster is not None and self.workflows is not None:
            # Before any trigger can come back from the backbone: the instances a restart left
            # here run again wherever their triggers' partitions are owned now.
            await self.workflows.hand_back()
        await self._start_delivery(outbox)
        if self.cluster is None and self.workflows is not None:
            await self.workflows.resume()
        self._schedule_sweep()
        self.ready = True
        self.metrics.ready.set(1)
        for name, handler in self.sources.items():
            if handler.format == "files":
                self._drops.append(self._watch(name, handler))
        if self.config.specs(JOB):  # after ready: a resumed run may emit its repairs at once
            await self._jobs.start(self.cluster.on_owned if self.cluster is not None else None)
        log.info("engine_ready", routes=len(self._route_refs), recovered=self.recovered)

    def _job_service(self, metrics: JobMetrics | None) -> JobService:
        return JobService(
            self.config.specs(JOB),
            self.config.specs(RECONCILIATION),
            self.settings.data_dir,
            self.settings.sync,
            self._outlets,
            self.emit,
            self.metrics.registry,
            self.clock,
            self._dead_letter,
            metrics=metrics,
        )

    @property
    def jobs(self) -> JobService | None:
        """The scheduled jobs' service while it runs in this process (cluster mode: on one)."""
        return self._jobs.service

    def _start_routes(self, transforms: dict[str, Any], alert: Any) -> None:
        assert self._batcher is not None
        record = self._batcher.record if self.cluster is None else self.cluster.record
        for route in self._routes():
            chain = [transforms[name] for name in route.transforms]
            target = route.target.connector
            inline = getattr(self._connectors.get(target), "send_inline", None)
            self._route_refs[route.id] = RouteActor.start(
                route,
                chain,
                self._connector_refs[target],
                self._outlets[target],
                record,
                self.metrics,
                inline=inline,
                alert=alert,
                clock=self.clock,
                load=self._load_held,
            )

    async def _start_delivery(self, outbox: list[Delivery]) -> None:
        """Embedded: reload the journal's unfinished deliveries. Cluster mode: join the backbone
        and forward the outbox (the partitions bring the rest)."""
        if self.cluster is None:
            loop = asyncio.get_running_loop()
            self.recovered = await loop.run_in_executor(None, self._recover)
            return
        assert self._batcher is not None
        self.recovered = len(outbox)
        triggers = self.workflows.triggers if self.workflows is not None else {}
        workflow_routes = frozenset(
            r.id for r in self.config.routes.values() if r.target.connector in triggers
        )
        try:
            await self.cluster.start(
                self._batcher.adopt, self._route_refs, self._batcher.record, outbox, workflow_routes
            )
        except (BackboneUnavailable, BackboneConfigError) as exc:
            raise BackboneStartError(f"backbone {self.settings.backbone}: {exc}") from None

    def _dead_letter(self, message_id: str) -> str | None:
        """Why message ``message_id`` is dead-lettered (``route: reason``), or None (any thread)."""
        if self.journal is None:
            return None
        with self.journal.reader() as reader:
            for record in reader.dead_letters_of(decode_id(message_id)):
                return f"{record['route']}: {record['reason']}"
        return None

    def _watch(self, name: str, handler: SourceHandler) -> asyncio.Task[None]:
        spec = self.config.sources[name].spec
        folder = Path(spec.folder) if spec.folder else Path("drop") / name
        if not folder.is_absolute():
            folder = self.settings.data_dir / folder
        drop = FileDrop(handler, folder, spec.poll, spec.max_file_mb * 1024 * 1024, self.emit)
        task = asyncio.get_running_loop().create_task(drop.run(), name=f"files:{name}")
        task.add_done_callback(_watcher_ended)
        return task

    def _watch_gauges(self) -> None:
        refs = {"journal": self._journal_ref, **self._connector_refs, **self._route_refs}
        for name, ref in refs.items():
            self.metrics.watch_mailbox(name, _inbox_depth(ref))
        self.metrics.inflight.set_function(lambda: float(self.credit.in_use))
        self.metrics.loop_lag.set_function(lambda: self.lag.lag_s if self.lag else 0.0)

    def _recover(self) -> int:
        assert self.journal is not None
        holding = {r.id for r in self.config.routes.values() if r.holds_key_order}
        return recover_deliveries(
            self.journal, self._route_refs, self.credit, self._journal_ref, holding
        )

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()

        def sweep() -> None:
            tell_safely(self._journal_ref, Sweep(self.clock()))
            self._sweeper = loop.call_later(self.settings.sweep_interval_s, sweep)

        self._sweeper = loop.call_later(self.settings.sweep_interval_s, sweep)

    async def stop(self) -> None:
        """Stop accepting, flush the journal queue, stop actors and connectors, close it all.

        The journal is closed whatever happens before it: an actor that does not stop in time is
        logged, not allowed to leave the LMDB environment open.
        """
        self.ready = False
        self.metrics.ready.set(0)
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.lag is not None:
            self.lag.stop()
        loop = asyncio.get_running_loop()
        try:
            for task in self._drops:  # a file cut short stays in its folder and is read again
                task.cancel()
            await asyncio.gather(*self._drops, return_exceptions=True)
            self._drops = []
            await self._jobs.stop()
            if self._batcher is not None:
                await self._batcher.drain()
            await self._leave_cluster(drain=True)
            # Route actors first (they stop handing out work), then connectors; then the
            # outcomes they decided go to the journal, which records them before its stop.
            refs = [*self._route_refs.values(), *self._connector_refs.values()]
            await loop.run_in_executor(None, self._stop_refs, refs)
            await self._leave_cluster(drain=False)  # the acks of what the route actors finished
            if self.workflows is not None:  # in-flight steps resume, with the same keys, on start
                await loop.run_in_executor(None, self.workflows.stop)
                self.workflows = None
            if self.alerter is not None:  # what the last interval saw is still sent
                await self.alerter.stop()
                self.alerter = None
            for connector in self._connectors.values():
                await connector.close()
        finally:
            if self._batcher is not None:
                self._batcher.flush_outcomes()
            if self._journal_ref is not None:
                await loop.run_in_executor(None, self._stop_refs, [self._journal_ref])
            if self.journal is not None:
                self.journal.close()
                self.journal = None
            self.started = False
            self._data_lock.release()

    async def _leave_cluster(self, *, drain: bool) -> None:
        """Cluster mode: hand the partitions over (``drain``), or close the backbone."""
        if self.cluster is None or not self.started:
            return
        if drain:
            await self.cluster.drain(self.settings.shutdown_grace_s / 2)
        else:
            await self.cluster.stop()

    @staticmethod
    def _stop_refs(refs: list[Any]) -> None:
        for ref in refs:
            ref.stop(block=False)
        for ref in refs:
            if ref.is_alive():
                try:
                    ref.stop(block=True, timeout=STOP_TIMEOUT_S)
                except pykka.Timeout:
                    log.warning("actor_did_not_stop", actor=str(ref), timeout_s=STOP_TIMEOUT_S)

    # -- traffic ---------------------------------------------------------------------------------

    def _handler(
        self, source: str, headers: Mapping[str, str] | None
    ) -> tuple[SourceHandler, Mapping[str, str]]:
        handler = self.sources.get(source)
        if handler is None:
            raise UnknownSourceError(f"no source named {source!r}")
        if not self.ready or self._batcher is None:
            raise UnavailableError(
                "the router is not ready", retry_after=self.settings.retry_after_s
            )
        if not isinstance(headers, CIMultiDictProxy | CIMultiDict):
            headers = CIMultiDict(headers or {})
        return handler, headers

    async def submit(
        self, source: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Ack:
        """Accept one message; returns after the fsynced commit (or raises an InterlockError)."""
        started = time.perf_counter()
        handler, headers = self._handler(source, headers)
        if handler.format == "cloudevents":
            raise UnknownSourceError(f"source {source!r} takes CloudEvents at /events/{source}")
        if handler.format != "webhook":
            raise UnknownSourceError(f"no webhook source named {source!r}")
        return await self._accept(handler.envelope(body, headers), started)

    async def submit_cloudevents(
        self, source: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> list[Ack]:
        """Accept every CloudEvent of a request (binary, structured or batch mode).

        A batch is validated as a whole before anything is journaled. If some events cannot be
        accepted (503), the first error is raised after the others settled: the sender retries the
        whole batch, and the events already accepted answer as duplicates.
        """
        started = time.perf_counter()
        handler, headers = self._handler(source, headers)
        if handler.format != "cloudevents":
            raise UnknownSourceError(f"source {source!r} does not take CloudEvents")
        envelopes = handler.cloudevents(body, headers)
        if len(envelopes) > 1 and self.journal is not None:
            # A 409 must mean "nothing of this batch was taken": look before journaling any of it.
            # (A conflicting event committed between this read and the append still gets its own
            # 409 from the journal's check-and-set; only that narrow race is not all-or-nothing.)
            taken = self.journal.conflicting(envelopes)
            if taken:
                self.metrics.conflicts.labels(source=source).inc(len(taken))
                raise ConflictError(f"idempotency key {taken[0]!r} was used with a different body")
        results = await asyncio.gather(
            *(self._accept(e, started) for e in envelopes), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, Ack)]

    async def emit(
        self,
        source: str,
        event_type: str,
        payload: Any,
        key: str,
        origin: str,
        rejected: str = "",
    ) -> Ack:
        """Accept a message Interlock itself makes (a reconciliation's repair, a file's row).

        It is routed, journaled, deduplicated by ``key`` and delivered like a webhook of that
        source, so a repair takes the same route, retries and dead-letter path as the original
        would have; it skips only the signature check (it never crossed a network). With
        ``rejected`` (a malformed row) it is kept and dead-lettered at once, with that reason,
        on every route it matched: an operator sees it, the rest of its file goes on."""
        started = time.perf_counter()
        handler, _ = self._handler(source, None)
        envelope = handler.internal(payload, event_type, key, origin, correlation=key[:128])
        envelope.rejected = rejected
        return await self._accept(envelope, started)

    async def _accept(self, envelope: Envelope, started: float) -> Ack:
        span = telemetry.start(
            "interlock.ingress",
            envelope.traceparent,
            envelope.headers.get("tracestate"),
            kind=SpanKind.SERVER,
            attributes={"interlock.source": envelope.source},
        )
        if span is None:
            return await self._accept_span(envelope, started)
        envelope.traceparent = telemetry.span_traceparent(span)  # the deliveries' parent
        span.set_attribute("interlock.message_id", envelope.id_text)
        try:
            return await self._accept_span(envelope, started)
        finally:
            span.end()

    async def _accept_span(self, envelope: Envelope, started: float) -> Ack:
        assert self._batcher is not None
        source = envelope.source
        envelope.routes = self.table.match(
            source, envelope.type, envelope.payload, envelope.idempotency_key
        )
        units = len(envelope.routes)
        if units and not self.credit.try_acquire(units):
            raise self.shed("credit")
        self.ack_limit.enter()
        try:
            result = await self._batcher.submit(envelope)
        except StorageFullError as exc:
            self.ack_limit.abandon()
            self.credit.release(units)
            self._storage_full(exc)
            raise
        except BaseException:
            self.ack_limit.abandon()
            self.credit.release(units)
            raise
        settled = False  # cluster mode: the credit went with the forwarded deliveries, or back
        if (
            self.cluster is not None
            and envelope.rejected
            and result.outcome is AppendOutcome.ACCEPTED
        ):
            self.cluster.rejected_at_ingress(envelope)
        if (
            self.cluster is not None
            and result.outcome is AppendOutcome.ACCEPTED
            and envelope.routes
            and not envelope.rejected
        ):
            await self._forward(envelope)
            settled = True
        elif self.cluster is not None and result.outcome is AppendOutcome.DUPLICATE:
            self.credit.release(units)  # a duplicate delivers nothing
            settled = True
            await self._published(result.message_id)
        done = time.perf_counter()
        self.ack_limit.leave(done - started, done)
        self.storage_full = False
        self.metrics.ack_seconds.observe(done - started)
        if (result.outcome is not AppendOutcome.ACCEPTED or envelope.rejected) and not settled:
            self.credit.release(units)  # nothing to deliver: a duplicate, or dead at once
        if result.outcome is AppendOutcome.CONFLICT:
            self.metrics.conflicts.labels(source=source).inc()
            raise ConflictError(
                f"idempotency key {envelope.idempotency_key!r} was used with a different body"
            )
        if result.outcome is AppendOutcome.REJECTED:
            raise BadRequestError("the message cannot be stored (unencodable headers or body)")
        duplicate = result.outcome is AppendOutcome.DUPLICATE
        self.metrics.child(
            self.metrics.acks, source, "duplicate" if duplicate else "accepted"
        ).inc()
        if not duplicate and not envelope.routes:
            self.metrics.unrouted.labels(source=source).inc()
        same = result.message_id == envelope.id
        return Ack(envelope.id_text if same else encode_id(result.message_id), duplicate)

    async def _forward(self, envelope: Envelope) -> None:
        """Cluster mode: publish a journaled envelope's deliveries to their partitions.

        The message is durable here already, so a backbone that cannot confirm leaves it to the
        outbox, and the sender gets a 503: its retry is answered as a duplicate (here) or is
        accepted elsewhere, and the partition's owner delivers the first copy only.
        """
        assert self.cluster is not None
        try:
            await self.cluster.forward(envelope)
        except BackboneUnavailable:
            self.ack_limit.abandon()
            self.cluster.forward_later(envelope)
            raise self.shed("backbone") from None

    async def _published(self, message_id: bytes) -> None:
        """Cluster mode: a duplicate of a message still in the outbox is answered once that one
        is published (else 503): the sender's next event of the key must not overtake it."""
        assert self.cluster is not None
        waiting = self.cluster.published(message_id)
        if waiting is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(waiting), self.settings.retry_after_s * 2)
        except TimeoutError:
            self.ack_limit.abandon()
            raise self.shed("backbone") from None

    def _routes(self) -> list[Any]:
        """The routes as configured; in cluster mode a dead letter does not hold its key."""
        routes = list(self.config.routes.values())
        if self.cluster is None:
            return routes
        held = [r.id for r in routes if r.holds_key_order]
        if held:
            log.warning(
                "cluster_key_holds_off",
                routes=held,
                reason="on_dead_letter: hold is per instance; in cluster mode a dead letter "
                "does not hold its key (docs/operations.md)",
            )
        return [
            r.model_copy(update={"on_dead_letter": "continue"}) if r.holds_key_order else r
            for r in routes
        ]

    def _storage_full(self, exc: StorageFullError) -> None:
        if not self.storage_full:  # one line when it starts, not one per refused request
            log.error("journal_full", reason=exc.detail)
        self.storage_full = True

    def _dispatch(self, deliveries: list[Delivery]) -> None:
        """On the loop, after a commit or a replay: one batch per route actor (no crossing)."""
        per_route: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            per_route[delivery.route].append(delivery)
        for route, batch in per_route.items():
            ref = self._route_refs.get(route)
            if ref is not None:
                tell_safely(ref, NewDeliveries(batch))

    def _release(self, released: list[Released]) -> None:
        """On the loop, after a replay, skip or purge: each released key to its route actor."""
        for item in released:
            ref = self._route_refs.get(item.route)
            if ref is None:  # the route was removed meanwhile: the release's credit is free
                self.credit.release(1 + (item.head is not None))
                continue
            tell_safely(ref, Release(item.key, item.holder, item.head))

    def _load_held(self, route: str, key: str, ids: list[bytes]) -> None:
        """A route actor asks for a released key's held deliveries (read by the journal actor)."""

        def found(deliveries: list[Delivery] | None, error: Exception | None) -> None:
            ref = self._route_refs.get(route)
            if ref is not None:
                tell_safely(ref, Loaded(key, ids, deliveries or [], error))

        tell_safely(self._journal_ref, Load(route, ids, found))

    async def _journal_call(
        self, message_type: Any, items: list[tuple[bytes, str]], *args: Any
    ) -> int:
        if not self.ready:  # recovery must have rebuilt the held keys before one is released
            raise UnavailableError(
                "the router is starting or stopping", retry_after=self.settings.retry_after_s
            )
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tell_safely(self._journal_ref, message_type(items, *args, reply_on_loop(future)))
        return await future

    async def replay(self, items: list[tuple[bytes, str]]) -> int:
        if self.cluster is not None:  # the cluster's dead letters live on the backbone
            return await self.cluster.replay(items)
        return await self._replay(items)

    async def _replay(self, items: list[tuple[bytes, str]]) -> int:
        """Re-deliver dead-lettered (message id, route) pairs; returns how many were requeued.

        Only routes that still exist are replayed; the outbound idempotency key is unchanged, so a
        replay of something the target already applied is deduplicated there. A dead letter that
        holds its key is delivered first, then the messages held behind it, oldest first.
        """
        live = [(message_id, route) for message_id, route in items if route in self._route_refs]
        return await self._journal_call(Replay, live) if live else 0

    async def purge(self, items: list[tuple[bytes, str]]) -> int:
        """Delete dead letters for good; returns how many were removed (a held key goes on)."""
        if self.cluster is not None:
            return await self.cluster.drop(items)
        return await self._journal_call(Purge, items) if items else 0

    async def skip(self, items: list[tuple[bytes, str]], reason: str) -> int:
        """Give up on dead letters, with the operator's ``reason``; returns how many.

        They leave the dead-letter queue undelivered (their timeline keeps the reason), and the
        keys they hold go on: the held messages are delivered, oldest first.
        """
        if self.cluster is not None:
            return await self.cluster.drop(items)
        return await self._journal_call(Skip, items, reason) if items else 0

    def overloaded(self) -> str | None:
        """Why new work would be refused now (the edge sheds before reading a body), or None."""
        if self.credit.in_use >= self.credit.limit:
            return "credit"
        if self._batcher is not None and self._batcher.full:
            return "journal_queue"
        if self.lag is not None and self.lag.overloaded:
            return "loop_lag"
        if self.ack_limit.full:
            return "ack_latency"
        if self.cluster is not None and not self.cluster.connected:
            return "backbone"
        return None

    def shed(self, reason: str) -> BackpressureError:
        """Count one refusal by ``reason``; returns the 503 (with Retry-After) to raise."""
        self.metrics.child(self.metrics.shed, reason).inc()
        return BackpressureError(SHED_DETAIL[reason], retry_after=self.settings.retry_after_s)

    @property
    def is_ready(self) -> bool:
        backbone = self.cluster is None or self.cluster.connected
        return self.ready and not self.storage_full and not self.draining and backbone

    def idle(self) -> bool:
        return self.credit.is_idle() and (self._batcher is None or not self._batcher.pending)

    async def wait_idle(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109 - public API
        """Wait until every accepted delivery is delivered or dead-lettered."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.credit.in_use} deliveries still in flight after {timeout}s"
                )
            await asyncio.sleep(0.01)


def _forwarded_elsewhere(deliveries: list[Delivery]) -> None:
    """Cluster mode: a commit's new deliveries are not delivered here (they are forwarded)."""


def _watcher_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("file_drop_stopped", source=task.get_name(), error=repr(task.exception()))


def _inbox_depth(ref: Any) -> Callable[[], float]:
    return lambda: float(ref.actor_inbox.qsize())


def configure_interpreter(settings: Settings) -> None:
    """Process-wide interpreter settings for a router (``interlock run``, the benchmarks).

    The GIL switch interval (docs/architecture.md). And the garbage collector: everything loaded
    so far (modules, pydantic schemas, the config) lives as long as the process, so it is frozen
    out of the collector's scans, and young collections run every 10,000 allocations instead of
    700. Measured in the pipeline benchmark: 0.53-0.65 s of collection per 22,000 messages
    (~25 µs a message, 5 of them full collections) against about 0.2 s. Garbage cycles are still
    collected, only less often.
    """
    sys.setswitchinterval(settings.switch_interval_s)
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
