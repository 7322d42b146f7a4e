"""The route actor: hosts a route's lanes and runs its transform chain, on the event loop.

Its own work is the route's: admit deliveries into their lanes (:mod:`router.runtime.lanes`),
build each head's request (the transforms, which fail permanently or not at all), hand the
requests to the connector actor (or, for a no-I/O connector, send them inline), and carry out
each decision: journal its record (through the loop-side batcher: it rides in the next group
commit), count it, log it once, arm its retry timer. Every hop it makes stays on the loop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from router.alerts.kind import Alert
from router.config.models import RouteSpec
from router.errors import DeliveryError, PermanentError, TransientError
from router.logs import get_logger
from router.metrics import Metrics
from router.registry import TransformSpec
from router.runtime.lanes import Decision, Lanes, Timer
from router.runtime.messages import NewDeliveries, Outcomes, RetryDue, Send
from router.runtime.outlet import InlineSend, Outlet
from router.runtime.request_builder import build_request
from router.runtime.supervision import SupervisedLoopActor, tell_safely
from router.store.records import Delivery, OutcomeRecord

log = get_logger("interlock.route")
RecordOutcomes = Callable[[list[OutcomeRecord], int], None]
"""JournalBatcher.record: hold outcomes, and the credit they free, for the next commit."""


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
        self.lanes = Lanes(route.id, route.retry, rng or random.Random())  # noqa: S311 - jitter
        self._loop = asyncio.get_running_loop()
        self._claimed: list[Delivery] = []  # heads taken from their lanes, not yet handed over

    def handle(self, message: object) -> None:
        match message:
            case NewDeliveries(deliveries):
                self._start(self.lanes.admit(deliveries))
            case Outcomes(results):
                self._start(self._decide(results))
            case RetryDue(key, generation) if self.lanes.due(key, generation):
                self._start([key])

    def _start(self, keys: list[str]) -> None:
        """Start the heads of ``keys``; lanes that finish at once (inline, rejected) move on.

        A loop, not recursion: with an inline connector a lane's next head is ready at once.
        """
        while keys:
            now = time.time()
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
        now = time.time()
        decisions = decided or []
        decisions += [self.lanes.outcome(delivery, error, now) for delivery, error in results]
        return self._carry_out(decisions)

    def _carry_out(self, decisions: list[Decision | None]) -> list[str]:
        """Journal, count, log and time each decision; returns the lanes to advance."""
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
                    attempts=state.attempts,
                )
            else:
                metrics.child(metrics.dead_letters, route).inc()
                if self.alert is not None:
                    envelope = delivery.envelope
                    key = state.ordering_key or envelope.idempotency_key
                    self.alert("dead_letter", route, envelope.id_text, key, decision.record.detail)
                log.warning(
                    "dead_lettered",
                    route=route,
                    correlation_id=delivery.envelope.correlation_id,
                    reason=decision.record.detail,
                    attempts=state.attempts,
                )
        self.record(records, finished)
        return advance

    def _arm(self, timer: Timer) -> None:
        self._loop.call_later(
            timer.delay, tell_safely, self.actor_ref, RetryDue(timer.key, timer.generation)
        )

    def on_crash(self, message: object, exc: Exception) -> None:
        """Fail the heads a crash may have stranded as transient: they retry, nothing is lost."""
        if not isinstance(message, NewDeliveries | Outcomes | RetryDue):
            return
        error = TransientError(f"route actor restarted after {type(exc).__name__}: {exc}")
        # Claimed heads never reached the connector (or the inline send failed with the handler).
        stalled, self._claimed = [*self._claimed, *self.lanes.stalled()], []
        self._start(self._decide([(head, error) for head in stalled]))
