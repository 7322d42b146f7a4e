"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import pytest

from actors.connectors._breaker import CircuitBreaker, CircuitState
from router.errors import TransientError
from tests.actors.connectors._support import FakeClock


def make(clock: FakeClock, states: list[CircuitState] | None = None) -> CircuitBreaker:
    return CircuitBreaker(3, 10.0, clock=clock, on_change=None if states is None else states.append)


def test_opens_after_n_consecutive_failures_and_refuses_with_the_time_left() -> None:
    clock = FakeClock()
    states: list[CircuitState] = []
    breaker = make(clock, states)
    for _ in range(3):
        breaker.acquire()
        breaker.failure()
    assert breaker.state is CircuitState.OPEN
    clock.advance(4)
    with pytest.raises(TransientError, match="circuit open after 3") as info:
        breaker.acquire()
    assert info.value.retry_after == pytest.approx(6.0)
    assert states == [CircuitState.CLOSED, CircuitState.OPEN]


def test_a_success_resets_the_count() -> None:
    breaker = make(FakeClock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 2


def test_after_the_interval_one_probe_goes_and_its_success_closes() -> None:
    clock = FakeClock()
    states: list[CircuitState] = []
    breaker = make(clock, states)
    for _ in range(3):
        breaker.failure()
    clock.advance(10)
    breaker.acquire()  # the probe
    with pytest.raises(TransientError, match="probe"):
        breaker.acquire()  # only one probe at a time
    breaker.success()
    breaker.acquire()
    assert states == [
        CircuitState.CLOSED,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_a_failed_probe_reopens_for_a_full_interval() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.failure()
    clock.advance(11)
    breaker.acquire()
    breaker.failure()
    assert breaker.state is CircuitState.OPEN
    assert breaker.remaining_open() == pytest.approx(10.0)
