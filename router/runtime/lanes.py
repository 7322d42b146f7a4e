"""Lanes: per-key order, head of line, retry timing and the outcome decision, as a pure machine.

Each ordering key of a route is a FIFO lane, and only its head is ever with the connector, so
same-key messages reach the target in acceptance order while other keys proceed in parallel; a
head waiting for its retry holds back only its own lane. The machine decides what an attempt's
outcome means (delivered; retry at T with full-jitter backoff and ``Retry-After`` as a floor;
dead-lettered when the error is permanent or attempts or age run out) and returns it as a
:class:`Decision` with the record to journal.

Key order after a dead letter (``on_dead_letter: hold``, a route with a ``key``): a dead-lettered
head *holds* its key. The key's later deliveries, those queued behind it and any admitted later,
are set aside (a ``held`` decision: journaled as an event, their credit freed, only their ids kept
here) and stay pending in the journal. When an operator replays the dead letter or skips it
(:meth:`Lanes.release`), the held ones are loaded back (:meth:`Lanes.loaded`) and the lane goes
on, oldest first, the replayed head among them. With ``hold`` off a dead head only leaves its lane.

It does no I/O and reads no clock: callers pass ``now`` and a seeded ``rng``, and carry out what it
returns (send the heads, journal the records, arm the timers, load the held deliveries). So the
rules are unit-tested on their own, and the route actor that hosts the machine is only plumbing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from router.config.models import RetryPolicy
from router.errors import DeliveryError, PermanentError, TransientError
from router.ids import encode_id
from router.runtime.retry import backoff_delay, give_up_reason
from router.store.records import Delivery, OutcomeRecord
from router.store.statuses import Status

Verdict = Literal["delivered", "retry", "dead", "held"]


@dataclass(frozen=True, slots=True)
class Timer:
    """Start lane ``key`` again after ``delay`` s, unless a newer timer replaced this one."""

    key: str
    delay: float
    generation: int


@dataclass(frozen=True, slots=True)
class Decision:
    """What an outcome came to. ``advance``: the lane has a next head to start now.

    ``held``: a delivery set aside behind its key's dead letter (not an attempt; it stays pending).
    """

    delivery: Delivery
    verdict: Verdict
    record: OutcomeRecord
    timer: Timer | None = None
    advance: bool = False


class Lanes:
    """The lanes of one route."""

    def __init__(
        self, route: str, policy: RetryPolicy, rng: random.Random, *, hold: bool = False
    ) -> None:
        self.route = route
        self.policy = policy
        self.rng = rng
        self.hold = hold  # a dead-lettered head holds its key (on_dead_letter: hold)
        self._lanes: dict[str, deque[Delivery]] = {}
        self._in_flight: set[str] = set()  # lanes whose head is with the connector
        self._generation: dict[str, int] = {}
        self._unsent: set[str] = set()  # heads whose first_attempt_at this claim just set
        self._holds: dict[str, bytes] = {}  # key -> message id of the dead letter holding it
        self._held: dict[str, list[bytes]] = {}  # key -> ids set aside behind it, in order
        self._held_count = 0
        # Released keys waiting for their held deliveries to be loaded (with the replayed head).
        self._loading: dict[str, list[Delivery]] = {}
        self._aside: list[Decision] = []  # `held` decisions not yet taken by set_aside()

    def __len__(self) -> int:
        """Deliveries in memory, in flight or waiting (the held ones are not: only their ids)."""
        return sum(len(lane) for lane in self._lanes.values())

    @property
    def held_keys(self) -> int:
        """Keys held by a dead letter."""
        return len(self._holds)

    @property
    def held_deliveries(self) -> int:
        """Deliveries set aside behind a held key, waiting for a replay or skip."""
        return self._held_count

    @property
    def has_aside(self) -> bool:
        """Deliveries were set aside since the last :meth:`set_aside`."""
        return bool(self._aside)

    def holder(self, key: str) -> bytes | None:
        """The message id of the dead letter holding ``key``, if one does."""
        return self._holds.get(key)

    def admit(self, deliveries: Iterable[Delivery], now: float = 0.0) -> list[str]:
        """Queue deliveries at the tail of their lanes; returns the lanes that were idle.

        A delivery of a held key is set aside instead, at ``now`` (see :meth:`set_aside`).
        """
        opened: list[str] = []
        holds = self._holds
        for delivery in deliveries:
            key = delivery.state.ordering_key
            if holds and key in holds:
                self._set_aside(delivery, holds[key], now)
                continue
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
            if key in self._in_flight or key in self._loading:
                continue
            head = lane[0]
            state = head.state
            if state.next_at > now:
                timers.append(self._timer(key, state.next_at - now))
                continue
            if not state.first_attempt_at:
                state.first_attempt_at = now
                self._unsent.add(key)
            if not state.retry_from:
                state.retry_from = now
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
        self._unsent.discard(key)
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
        age = now - (state.retry_from or state.first_attempt_at or now)
        reason = give_up_reason(self.policy, state.attempts, age, delay)
        if reason is not None:
            return self._finish(delivery, "dead", "dead_lettered", f"{reason}; last error: {error}")
        state.status, state.next_at = Status.RETRY, now + delay
        record = self._record(delivery, "retry_scheduled", f"in {delay:.3f}s after: {error}")
        return Decision(delivery, "retry", record, timer=self._timer(key, delay))

    def reject(self, delivery: Delivery, reason: str, now: float) -> Decision | None:
        """Dead-letter an in-flight head that is not sent: it could not be built (a failing
        transform), or its key is past the target's window (:mod:`router.runtime.key_window`).

        No attempt reached the target, so none is counted; and a key never sent keeps no
        ``first_attempt_at`` (a later replay is then a first send, which no window refuses).
        """
        key = delivery.state.ordering_key
        lane = self._lanes.get(key)
        if key not in self._in_flight or not lane or lane[0] is not delivery:
            return None
        self._in_flight.discard(key)
        if key in self._unsent:
            self._unsent.discard(key)
            delivery.state.first_attempt_at = 0.0
        delivery.state.updated_at = now
        return self._finish(delivery, "dead", "dead_lettered", reason)

    def set_aside(self) -> list[Decision]:
        """The ``held`` decisions made since the last call (journal them; their credit is freed)."""
        aside, self._aside = self._aside, []
        return aside

    def restore(self, key: str, holder: bytes, held: list[bytes]) -> None:
        """At recovery: ``key`` is held by dead letter ``holder``, with ``held`` set aside."""
        self._holds[key] = holder
        if held:
            self._held.setdefault(key, []).extend(held)
            self._held_count += len(held)

    def release(
        self, key: str, holder: bytes, head: Delivery | None, now: float = 0.0
    ) -> tuple[list[bytes], list[str]]:
        """The operator replayed (``head``) or skipped dead letter ``holder``; the key goes on.

        Returns the ids of the held deliveries to load (the lane waits for :meth:`loaded` until
        they are back), and the lanes to start now. A release of a key not held by ``holder``
        only admits ``head``.
        """
        if self._holds.get(key) != holder:
            return [], self.admit([head] if head is not None else [], now)
        del self._holds[key]
        ids = self._held.pop(key, [])
        self._held_count -= len(ids)
        waiting = [head] if head is not None else []
        if ids:
            self._loading[key] = waiting
            return ids, []
        return [], self.admit(waiting, now)

    def loaded(self, key: str, deliveries: list[Delivery], now: float = 0.0) -> list[str]:
        """A released key's held deliveries are back: they go first, oldest first (the replayed
        head among them), before what was admitted meanwhile. Returns the lanes to start."""
        waiting = self._loading.pop(key, None)
        if waiting is None:
            return self.admit(deliveries, now)
        front = sorted([*waiting, *deliveries], key=lambda d: d.envelope.id)
        lane = self._lanes.get(key)
        if lane is None:
            self._lanes[key] = lane = deque()
        lane.extendleft(reversed(front))
        return [key] if lane else []

    def stalled(self) -> list[Delivery]:
        """Heads a crashed handler may have left neither in flight nor waiting on a timer.

        They come back marked in flight, so that a synthetic transient :meth:`outcome` for each
        puts them on a retry timer: nothing is dropped.
        """
        stalled = []
        for key, lane in self._lanes.items():
            if lane and key not in self._in_flight and key not in self._loading:
                self._in_flight.add(key)
                stalled.append(lane[0])
        return stalled

    def _finish(self, delivery: Delivery, verdict: Verdict, event: str, detail: str) -> Decision:
        """A terminal outcome: the head leaves its lane (the lane closes when it was the last).

        A dead head of a holding route holds its key: the rest of its lane is set aside.
        """
        state = delivery.state
        key = state.ordering_key
        lane = self._lanes[key]
        lane.popleft()
        hold = verdict == "dead" and self.hold
        if verdict == "dead":
            state.status = Status.DEAD
        if hold:
            holder = delivery.envelope.id
            self._holds[key] = holder
            behind = list(lane)
            lane.clear()
            for waiting in behind:
                self._set_aside(waiting, holder, state.updated_at)
        if not lane:
            self._close(key)
        record = self._record(delivery, event, detail, hold=hold)
        return Decision(delivery, verdict, record, advance=bool(lane))

    def _set_aside(self, delivery: Delivery, holder: bytes, now: float) -> None:
        key = delivery.state.ordering_key
        if now:
            delivery.state.updated_at = now
        self._held.setdefault(key, []).append(delivery.envelope.id)
        self._held_count += 1
        detail = (
            f"behind dead letter {encode_id(holder)} (key {key!r}): delivered after it is "
            "replayed, or skipped"
        )
        self._aside.append(Decision(delivery, "held", self._record(delivery, "held", detail)))

    def _close(self, key: str) -> None:
        self._lanes.pop(key, None)
        self._in_flight.discard(key)
        self._generation.pop(key, None)
        self._unsent.discard(key)

    def _timer(self, key: str, delay: float) -> Timer:
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        return Timer(key, max(0.0, delay), generation)

    def _record(
        self, delivery: Delivery, event: str, detail: str, *, hold: bool = False
    ) -> OutcomeRecord:
        return OutcomeRecord(
            message_id=delivery.envelope.id,
            route=self.route,
            state=delivery.state.copy(),  # a snapshot: the live state moves on
            event=event,
            detail=detail,
            trace_id=delivery.envelope.trace_id,
            hold=hold,
        )
