"""The route actor: hosts a route's lanes and runs its transform chain, on the event loop.

Its own work is the route's: admit deliveries into their lanes (:mod:`router.runtime.lanes`),
build each head's request (the transforms, which fail permanently or not at all), refuse a resend
whose key the target no longer deduplicates (:mod:`router.runtime.key_window`), hand the requests
to the connector actor (or, for a no-I/O connector, send them inline), and carry out each
decision: journal its record (through the loop-side batcher: it rides in the next group commit),
count it, log it once, arm its retry timer. When an operator releases a key held by a dead letter
it asks for the held deliveries back (``load``). Every hop it makes stays on the loop.

Time is the engine's clock (``clock``, the wall clock unless a test or a simulation sets its own):
attempts, retry ages and key windows all read it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from router.alerts.kind import Alert
from router.config.models import RouteSpec
from router.connector import KeyWindowed
from router.errors import DeliveryError, PermanentError, TransientError
from router.ids import encode_id
from router.logs import get_logger
from router.metrics import Metrics
from router.registry import TransformSpec
from router.runtime.key_window import refusal
from router.runtime.lanes import Decision, Lanes, Timer
from router.runtime.messages import (
    Holds,
    Loaded,
    NewDeliveries,
    Outcomes,
    Release,
    RetryDue,
    Send,
)
from router.runtime.outlet import InlineSend, Outlet
from router.runtime.request_builder import build_request
from router.runtime.supervision import SupervisedLoopActor, tell_safely
from router.store.records import Delivery, OutcomeRecord

log = get_logger("interlock.route")
RecordOutcomes = Callable[[list[OutcomeRecord], int], None]
"""JournalBatcher.record: hold outcomes, and the credit they free, for the next commit."""
LoadHeld = Callable[[str, str, list[bytes]], None]
"""Engine: read back (route, key)'s held deliveries by id; the answer comes as ``Loaded``."""
LOAD_RETRY_S = 1.0  # a failed read of held deliveries is asked again after this


class RouteActor(SupervisedLoopActor):
    def __init__(
        self,
        route: RouteSpec,
        chain: list[TransformSpec],
        connector: Any,
        outlet: Outlet,
        record: RecordOutcomes,
        metrics: Metrics,
        rng: random.Random | None = None,
        inline: InlineSend | None = None,
        alert: Alert | None = None,
        clock: Callable[[], float] = time.time,
        load: LoadHeld | None = None,
    ) -> None:
        super().__init__(metrics)
        self.alert = alert  # dead letters reach the operator's alerts (router/alerts)
        self.name = f"route:{route.id}"
        self.route = route
        self.chain = chain
        self.connector = connector
        self.outlet = outlet
        # A no-I/O connector's send_inline: delivered here, with no connector actor in between.
        self.inline = inline
        self.record = record
        self.clock = clock
        self.load = load
        rng = rng or random.Random()  # noqa: S311 - jitter
        self.lanes = Lanes(route.id, route.retry, rng, hold=route.holds_key_order)
        self._loop = asyncio.get_running_loop()
        self._claimed: list[Delivery] = []  # heads taken from their lanes, not yet handed over
        # Asked once: an isinstance of a runtime-checkable protocol costs microseconds a call.
        self._windowed = isinstance(outlet.connector, KeyWindowed)

    def handle(self, message: object) -> None:
        match message:
            case NewDeliveries(deliveries):
                self._admitted(self.lanes.admit(deliveries, self.clock()))
            case Outcomes(results):
                self._start(self._decide(results))
            case RetryDue(key, generation) if self.lanes.due(key, generation):
                self._start([key])
            case Holds(holds):
                for key, (holder, held) in holds.items():
                    self.lanes.restore(key, holder, held)
                self._count_held()
            case Release(key, holder, head):
                ids, opened = self.lanes.release(key, holder, head, self.clock())
                self._count_held()
                log.info(
                    "key_released",
                    route=self.route.id,
                    key=key,
                    dead_letter=encode_id(holder),
                    replayed=head is not None,
                    held=len(ids),
                )
                if ids:
                    self._load(key, ids)
                else:
                    self.record([], 1)  # the release's own unit of credit (see Released)
                self._admitted(opened)
            case Loaded(key, ids, deliveries, error):
                if error is not None:
                    log.warning("held_load_failed", route=self.route.id, key=key, error=str(error))
                    self._loop.call_later(LOAD_RETRY_S, self._load, key, ids)
                    return
                opened = self.lanes.loaded(key, deliveries, self.clock())
                self.record([], 1)  # the release is done: its held deliveries are back
                self._admitted(opened)

    def _admitted(self, opened: list[str]) -> None:
        """Carry out what admitting did: set aside deliveries of held keys, start the rest."""
        if self.lanes.has_aside:
            self._carry_out([])
        self._start(opened)

    def _load(self, key: str, ids: list[bytes]) -> None:
        if self.load is not None:
            self.load(self.route.id, key, ids)

    def _start(self, keys: list[str]) -> None:
        """Start the heads of ``keys``; lanes that finish at once (inline, rejected) move on.

        A loop, not recursion: with an inline connector a lane's next head is ready at once.
        """
        while keys:
            now = self.clock()
            heads, timers = self.lanes.heads(keys, now)
            self._claimed = heads
            for timer in timers:
                self._arm(timer)
            decisions: list[Decision | None] = []
            sends = []
            for head in heads:
                try:
                    request = build_request(
                        self.route, self.chain, head.envelope, head.state.attempts + 1
                    )
                except PermanentError as exc:  # a transform or its output: retrying cannot help
                    decisions.append(self.lanes.reject(head, str(exc), now))
                    continue
                # A resend (retry, replay) of a key older than the target remembers it would be
                # a new request to the target: refused, never sent (the first send never is:
                # the lanes stamp its first_attempt_at with this very `now`).
                first_sent = head.state.first_attempt_at
                if self._windowed and first_sent < now:
                    refused = refusal(self.outlet.connector, request, first_sent, now)
                    if refused is not None:
                        decisions.append(self.lanes.reject(head, refused, now))
                        continue
                sends.append((head, request))
            if sends and self.inline is not None:
                results = [
                    (head, self.outlet.call_inline(self.inline, request).error)
                    for head, request in sends
                ]
                self._claimed = []
                keys = self._decide(results, decisions)
            else:
                if sends:
                    tell_safely(self.connector, Send(sends, self.actor_ref))
                self._claimed = []
                keys = self._carry_out(decisions)

    def _decide(
        self,
        results: list[tuple[Delivery, DeliveryError | None]],
        decided: list[Decision | None] | None = None,
    ) -> list[str]:
        now = self.clock()
        decisions = decided or []
        decisions += [self.lanes.outcome(delivery, error, now) for delivery, error in results]
        return self._carry_out(decisions)

    def _carry_out(self, decisions: list[Decision | None]) -> list[str]:
        """Journal, count, log and time each decision; returns the lanes to advance.

        The deliveries the lanes set aside behind a held key (``held``) are carried out too.
        """
        aside = self.lanes.set_aside()
        if aside:
            decisions = [*decisions, *aside]
        holds = bool(aside)  # the held counts changed
        records: list[OutcomeRecord] = []
        advance: list[str] = []
        finished = 0
        route, metrics = self.route.id, self.metrics
        for decision in decisions:
            if decision is None:
                continue  # a stale outcome (e.g. after a handler restart); already decided
            records.append(decision.record)
            delivery, state = decision.delivery, decision.delivery.state
            if decision.verdict == "retry":
                metrics.child(metrics.retries, route).inc()
                if decision.timer is not None:
                    self._arm(decision.timer)
                continue
            finished += 1  # its credit is freed once the outcome is durable
            if decision.verdict == "held":
                continue  # pending in the journal, out of memory, until its key is released
            if decision.advance:
                advance.append(state.ordering_key)
            if decision.verdict == "delivered":
                metrics.child(metrics.end_to_end_seconds, route).observe(
                    state.updated_at - delivery.envelope.received_at
                )
                log.info(
                    "delivered",
                    message_id=delivery.envelope.id_text,
                    route=route,
                    correlation_id=delivery.envelope.correlation_id,
                    trace_id=delivery.envelope.trace_id,
                    attempts=state.attempts,
                )
            else:
                metrics.child(metrics.dead_letters, route).inc()
                holds = holds or decision.record.hold
                if self.alert is not None:
                    envelope = delivery.envelope
                    key = state.ordering_key or envelope.idempotency_key
                    self.alert("dead_letter", route, envelope.id_text, key, decision.record.detail)
                log.warning(
                    "dead_lettered",
                    message_id=delivery.envelope.id_text,
                    route=route,
                    correlation_id=delivery.envelope.correlation_id,
                    trace_id=delivery.envelope.trace_id,
                    reason=decision.record.detail,
                    attempts=state.attempts,
                    holds_key=decision.record.hold,
                )
        if holds:
            self._count_held()
        self.record(records, finished)
        return advance

    def _count_held(self) -> None:
        metrics, route = self.metrics, self.route.id
        metrics.child(metrics.held_keys, route).set(self.lanes.held_keys)
        metrics.child(metrics.held_deliveries, route).set(self.lanes.held_deliveries)

    def _arm(self, timer: Timer) -> None:
        self._loop.call_later(
            timer.delay, tell_safely, self.actor_ref, RetryDue(timer.key, timer.generation)
        )

    def on_crash(self, message: object, exc: Exception) -> None:
        """Fail the heads a crash may have stranded as transient: they retry, nothing is lost."""
        if not isinstance(message, NewDeliveries | Outcomes | RetryDue | Release | Loaded):
            return
        error = TransientError(f"route actor restarted after {type(exc).__name__}: {exc}")
        # Claimed heads never reached the connector (or the inline send failed with the handler).
        stalled, self._claimed = [*self._claimed, *self.lanes.stalled()], []
        self._start(self._decide([(head, error) for head in stalled]))
