"""Lanes: per-key order, head of line, retry timing and the outcome decision, as a pure machine.

Each ordering key of a route is a FIFO lane, and only its head is ever with the connector, so
same-key messages reach the target in acceptance order while other keys proceed in parallel; a
head waiting for its retry holds back only its own lane. The machine decides what an attempt's
outcome means (delivered; retry at T with full-jitter backoff and ``Retry-After`` as a floor;
dead-lettered when the error is permanent or attempts or age run out) and returns it as a
:class:`Decision` with the record to journal.

It does no I/O and reads no clock: callers pass ``now`` and a seeded ``rng``, and carry out what it
returns (send the heads, journal the records, arm the timers). So the rules are unit-tested on
their own, and the route actor that hosts the machine is only plumbing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from router.config.models import RetryPolicy
from router.errors import DeliveryError, PermanentError, TransientError
from router.runtime.retry import backoff_delay, give_up_reason
from router.store.records import Delivery, OutcomeRecord
from router.store.statuses import Status

Verdict = Literal["delivered", "retry", "dead"]


@dataclass(frozen=True, slots=True)
class Timer:
    """Start lane ``key`` again after ``delay`` s, unless a newer timer replaced this one."""

    key: str
    delay: float
    generation: int


@dataclass(frozen=True, slots=True)
class Decision:
    """What an outcome came to. ``advance``: the lane has a next head to start now."""

    delivery: Delivery
    verdict: Verdict
    record: OutcomeRecord
    timer: Timer | None = None
    advance: bool = False


class Lanes:
    """The lanes of one route."""

    def __init__(self, route: str, policy: RetryPolicy, rng: random.Random) -> None:
        self.route = route
        self.policy = policy
        self.rng = rng
        self._lanes: dict[str, deque[Delivery]] = {}
        self._in_flight: set[str] = set()  # lanes whose head is with the connector
        self._generation: dict[str, int] = {}

    def __len__(self) -> int:
        """Deliveries held, in flight or waiting."""
        return sum(len(lane) for lane in self._lanes.values())

    def admit(self, deliveries: Iterable[Delivery]) -> list[str]:
        """Queue deliveries at the tail of their lanes; returns the lanes that were idle."""
        opened: list[str] = []
        for delivery in deliveries:
            key = delivery.state.ordering_key
            lane = self._lanes.get(key)
            if lane is None:
                self._lanes[key] = lane = deque()
                opened.append(key)
            lane.append(delivery)
        return opened

    def heads(self, keys: Iterable[str], now: float) -> tuple[list[Delivery], list[Timer]]:
        """The heads of ``keys`` due now, marked in flight; a timer for each head not yet due."""
        ready: list[Delivery] = []
        timers: list[Timer] = []
        for key in keys:
            lane = self._lanes.get(key)
            if not lane:
                self._close(key)
                continue
            if key in self._in_flight:
                continue
            head = lane[0]
            if head.state.next_at > now:
                timers.append(self._timer(key, head.state.next_at - now))
                continue
            if not head.state.first_attempt_at:
                head.state.first_attempt_at = now
            self._in_flight.add(key)
            ready.append(head)
        return ready, timers

    def due(self, key: str, generation: int) -> bool:
        """True when a fired timer is the lane's current one (a stale timer is ignored)."""
        return self._generation.get(key) == generation

    def outcome(
        self, delivery: Delivery, error: DeliveryError | None, now: float
    ) -> Decision | None:
        """Decide an attempt of an in-flight head; None for a stale outcome (already decided)."""
        key = delivery.state.ordering_key
        lane = self._lanes.get(key)
        if key not in self._in_flight or not lane or lane[0] is not delivery:
            return None
        self._in_flight.discard(key)
        state = delivery.state
        state.attempts += 1
        state.updated_at = now
        if error is None:
            state.status, state.last_error = Status.DELIVERED, ""
            return self._finish(delivery, "delivered", "delivered", f"attempt {state.attempts}")
        state.last_error = str(error)
        if isinstance(error, PermanentError):
            return self._finish(delivery, "dead", "dead_lettered", f"permanent: {error}")
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        delay = backoff_delay(self.policy, state.attempts, retry_after, self.rng)
        age = now - (state.first_attempt_at or now)
        reason = give_up_reason(self.policy, state.attempts, age, delay)
        if reason is not None:
            return self._finish(delivery, "dead", "dead_lettered", f"{reason}; last error: {error}")
        state.status, state.next_at = Status.RETRY, now + delay
        record = self._record(delivery, "retry_scheduled", f"in {delay:.3f}s after: {error}")
        return Decision(delivery, "retry", record, timer=self._timer(key, delay))

    def reject(self, delivery: Delivery, reason: str, now: float) -> Decision | None:
        """Dead-letter an in-flight head that could not even be built (a failing transform).

        No attempt reached the target, so none is counted.
        """
        key = delivery.state.ordering_key
        lane = self._lanes.get(key)
        if key not in self._in_flight or not lane or lane[0] is not delivery:
            return None
        self._in_flight.discard(key)
        delivery.state.updated_at = now
        return self._finish(delivery, "dead", "dead_lettered", reason)

    def stalled(self) -> list[Delivery]:
        """Heads a crashed handler may have left neither in flight nor waiting on a timer.

        They come back marked in flight, so that a synthetic transient :meth:`outcome` for each
        puts them on a retry timer: nothing is dropped.
        """
        stalled = []
        for key, lane in self._lanes.items():
            if lane and key not in self._in_flight:
                self._in_flight.add(key)
                stalled.append(lane[0])
        return stalled

    def _finish(self, delivery: Delivery, verdict: Verdict, event: str, detail: str) -> Decision:
        """A terminal outcome: the head leaves its lane (the lane closes when it was the last)."""
        state = delivery.state
        if verdict == "dead":
            state.status = Status.DEAD
        key = state.ordering_key
        lane = self._lanes[key]
        lane.popleft()
        if not lane:
            self._close(key)
        return Decision(
            delivery, verdict, self._record(delivery, event, detail), advance=bool(lane)
        )

    def _close(self, key: str) -> None:
        self._lanes.pop(key, None)
        self._in_flight.discard(key)
        self._generation.pop(key, None)

    def _timer(self, key: str, delay: float) -> Timer:
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        return Timer(key, max(0.0, delay), generation)

    def _record(self, delivery: Delivery, event: str, detail: str) -> OutcomeRecord:
        return OutcomeRecord(
            message_id=delivery.envelope.id,
            route=self.route,
            state=delivery.state.copy(),  # a snapshot: the live state moves on
            event=event,
            detail=detail,
            trace_id=delivery.envelope.trace_id,
        )
