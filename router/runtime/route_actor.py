"""The route actor: lanes per ordering key, the transform chain, and retry decisions.

Each ordering key is a FIFO lane; only its head is in flight, so same-key messages reach the
connector in acceptance order while other keys proceed in parallel. A failing head (waiting for a
retry) holds back only its own lane. Every decision is journaled before the lane moves on.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

from router.config.models import RouteSpec
from router.errors import DeliveryError, PermanentError, TransientError
from router.logs import get_logger
from router.metrics import Metrics
from router.registry import TransformSpec
from router.runtime.bridge import LoopBridge
from router.runtime.connector_actor import InlineSend, deliver_inline
from router.runtime.messages import Delivery, NewDeliveries, Outcomes, Record, RetryDue, Send
from router.runtime.outbound import build_request
from router.runtime.retry import backoff_delay, give_up_reason
from router.runtime.supervision import SupervisedActor, tell_safely
from router.store.records import OutcomeRecord, Status

log = get_logger("interlock.route")


class RouteActor(SupervisedActor):
    def __init__(
        self,
        route: RouteSpec,
        chain: list[TransformSpec],
        connector: Any,
        journal: Any,
        bridge: LoopBridge,
        metrics: Metrics,
        rng: random.Random | None = None,
        inline: InlineSend | None = None,
    ) -> None:
        super().__init__(metrics)
        self.name = f"route:{route.id}"
        self.route = route
        self.chain = chain
        self.connector = connector
        # A no-I/O connector's send_inline: delivered here, with no connector actor in between.
        self.inline = inline
        self.journal = journal
        self.bridge = bridge
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.lanes: dict[str, deque[Delivery]] = {}
        self.busy: set[str] = set()
        self.generation: dict[str, int] = {}
        self._released = 0

    def handle(self, message: object) -> None:
        match message:
            case NewDeliveries(deliveries):
                ready = []
                for delivery in deliveries:
                    key = delivery.state.ordering_key
                    self.lanes.setdefault(key, deque()).append(delivery)
                    if key not in self.busy:
                        self.busy.add(key)
                        ready.append(key)
                self._advance(ready)
            case Outcomes(results):
                self._on_outcomes(results)
            case RetryDue(key, generation) if self.generation.get(key) == generation:
                self._advance([key])

    def _advance(self, keys: list[str]) -> None:
        """Start the head of each lane in ``keys``; lanes that finish at once move on too.

        A loop, not recursion: with an inline connector a lane's next head is ready at once.
        """
        while keys:
            keys = self._start_heads(keys)

    def _start_heads(self, keys: list[str]) -> list[str]:
        """Start lane heads; returns the lanes to advance next (inline deliveries only)."""
        to_send: list[Delivery] = []
        records: list[OutcomeRecord] = []
        work = deque(keys)
        now = time.time()
        while work:
            key = work.popleft()
            lane = self.lanes.get(key)
            if not lane:
                self._close_lane(key)
                continue
            head = lane[0]
            if head.state.next_at > now:
                self._schedule(key, head.state.next_at - now)
                continue
            if head.request is None:
                try:
                    head.request = build_request(
                        self.route, self.chain, head.envelope, head.state.attempts + 1
                    )
                except PermanentError as exc:  # a transform or its output: retrying cannot help
                    records.append(self._dead(head, str(exc), now))
                    if self._finish(head):
                        work.append(key)
                    continue
            if head.in_flight:
                continue
            if not head.state.first_attempt_at:
                head.state.first_attempt_at = now
            head.in_flight = True
            to_send.append(head)
        self._journal(records)
        if not to_send:
            return []
        if self.inline is not None:
            target = self.route.target.connector
            return self._decide(deliver_inline(self.inline, to_send, target, self.metrics))
        tell_safely(self.connector, Send(to_send, self.actor_ref))
        return []

    def _on_outcomes(self, results: list[tuple[Delivery, DeliveryError | None]]) -> None:
        advance = self._decide(results)
        if advance:
            self._advance(advance)

    def _decide(self, results: list[tuple[Delivery, DeliveryError | None]]) -> list[str]:
        """Journal each outcome's decision; returns the lanes whose next head can start."""
        records: list[OutcomeRecord] = []
        advance: list[str] = []
        now = time.time()
        for delivery, error in results:
            if not delivery.in_flight:
                continue  # a stale outcome (e.g. after a handler restart); already decided
            delivery.in_flight = False
            state = delivery.state
            state.attempts += 1
            state.updated_at = now
            key = state.ordering_key
            if error is None:
                state.status = Status.DELIVERED
                state.last_error = ""
                records.append(self._record(delivery, "delivered", f"attempt {state.attempts}"))
                self.metrics.child(self.metrics.end_to_end_seconds, self.route.id).observe(
                    now - delivery.envelope.received_at
                )
                log.info(
                    "delivered",
                    message_id=delivery.request.message_id if delivery.request else "",
                    route=self.route.id,
                    correlation_id=delivery.envelope.correlation_id,
                    attempts=state.attempts,
                )
                if self._finish(delivery):
                    advance.append(key)
                continue
            state.last_error = str(error)
            if isinstance(error, PermanentError):
                records.append(self._dead(delivery, f"permanent: {error}", now))
                if self._finish(delivery):
                    advance.append(key)
                continue
            retry_after = error.retry_after if isinstance(error, TransientError) else None
            delay = backoff_delay(self.route.retry, state.attempts, retry_after, self.rng)
            reason = give_up_reason(
                self.route.retry, state.attempts, now - (state.first_attempt_at or now), delay
            )
            if reason is not None:
                records.append(self._dead(delivery, f"{reason}; last error: {error}", now))
                if self._finish(delivery):
                    advance.append(key)
                continue
            state.status = Status.RETRY
            state.next_at = now + delay
            if delivery.request is not None:
                delivery.request = (
                    None  # rebuilt with the next attempt number (same idempotency key)
                )
            self.metrics.retries.labels(route=self.route.id).inc()
            records.append(
                self._record(delivery, "retry_scheduled", f"in {delay:.3f}s after: {error}")
            )
            self._schedule(key, delay)
        self._journal(records)
        return advance

    def _journal(self, records: list[OutcomeRecord]) -> None:
        if records:
            release, self._released = self._released, 0
            tell_safely(self.journal, Record(records, release))

    def _schedule(self, key: str, delay: float) -> None:
        generation = self.generation.get(key, 0) + 1
        self.generation[key] = generation
        self.bridge.call_later(delay, tell_safely, self.actor_ref, RetryDue(key, generation))

    def _record(self, delivery: Delivery, event: str, detail: str) -> OutcomeRecord:
        return OutcomeRecord(
            message_id=delivery.envelope.id,
            route=self.route.id,
            state=delivery.state.copy(),  # a snapshot: the live state moves on
            event=event,
            detail=detail,
            trace_id=delivery.envelope.trace_id,
        )

    def _dead(self, delivery: Delivery, reason: str, now: float) -> OutcomeRecord:
        delivery.state.status = Status.DEAD
        delivery.state.updated_at = now
        self.metrics.dead_letters.labels(route=self.route.id).inc()
        log.warning(
            "dead_lettered",
            route=self.route.id,
            correlation_id=delivery.envelope.correlation_id,
            reason=reason,
            attempts=delivery.state.attempts,
        )
        return self._record(delivery, "dead_lettered", reason)

    def _finish(self, delivery: Delivery) -> bool:
        """Pop a terminal head; True when its lane has a next message to start."""
        key = delivery.state.ordering_key
        lane = self.lanes.get(key)
        if lane and lane[0] is delivery:
            lane.popleft()
            self._released += 1  # freed by the journal once the outcome is durable
        if lane:
            return True
        self._close_lane(key)
        return False

    def _close_lane(self, key: str) -> None:
        self.lanes.pop(key, None)
        self.busy.discard(key)
        self.generation.pop(key, None)

    def on_crash(self, message: object, exc: Exception) -> None:
        """Fail the heads touched by the message as transient: they retry, nothing is dropped."""
        heads: list[Delivery] = []
        if isinstance(message, NewDeliveries | Outcomes | RetryDue):
            # An inline delivery is never really in flight once the handler has failed.
            inline = self.inline is not None
            heads = [
                lane[0]
                for lane in self.lanes.values()
                if lane and (inline or not lane[0].in_flight)
            ]
        for head in heads:
            head.in_flight = True  # so that the synthetic outcome below is processed
        if heads:
            self._on_outcomes(
                [
                    (d, TransientError(f"route actor restarted after {type(exc).__name__}: {exc}"))
                    for d in heads
                ]
            )
