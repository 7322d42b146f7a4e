"""A circuit breaker per connector: stop calling a target that keeps failing, probe it later.

::

    CLOSED --N consecutive transient failures--> OPEN --open_for elapsed--> HALF_OPEN (one probe)
       ^                                           ^                            |
       +-------------- probe succeeds -------------|---------- probe fails -----+

While OPEN (and while the one probe is out), :meth:`CircuitBreaker.acquire` raises TransientError
with ``retry_after`` = the time left, without calling the target: the message waits in the journal
and is retried, so nothing is lost. A permanent error is an answer from a live target, so it counts
as a success here.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from router.plugin import TransientError

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(enum.IntEnum):
    """The breaker's state; the value is what the ``circuit_state`` gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Consecutive-failure breaker; state changes are reported to ``on_change``."""

    def __init__(
        self,
        failures: int,
        open_for: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] | None = None,
    ) -> None:
        if failures < 1 or open_for <= 0:
            raise ValueError("failures must be >= 1 and open_for > 0")
        self.failures = failures
        self.open_for = open_for
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_out = False
        if on_change is not None:
            on_change(self._state)

    @property
    def state(self) -> CircuitState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def _set(self, state: CircuitState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)

    def remaining_open(self) -> float:
        """Seconds until a probe may go out (0 when not open)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.open_for - self._clock())

    def acquire(self) -> None:
        """Let a call through, or raise TransientError while open or while the probe is out."""
        if self._state is CircuitState.OPEN:
            remaining = self.remaining_open()
            if remaining > 0:
                raise TransientError(
                    f"circuit open after {self._consecutive} consecutive failures; "
                    f"next probe in {remaining:.1f}s",
                    retry_after=remaining,
                )
            self._set(CircuitState.HALF_OPEN)
            self._probe_out = True
            return
        if self._state is CircuitState.HALF_OPEN:
            if self._probe_out:
                raise TransientError(
                    "circuit half-open: waiting for the probe call", retry_after=self.open_for
                )
            self._probe_out = True

    def success(self) -> None:
        """The call got an answer from the target (2xx, or a permanent 4xx)."""
        self._consecutive = 0
        self._probe_out = False
        self._set(CircuitState.CLOSED)

    def failure(self) -> None:
        """The call failed transiently (timeout, connection error, 5xx, 429 ...)."""
        self._consecutive += 1
        self._probe_out = False
        if self._state is CircuitState.HALF_OPEN or self._consecutive >= self.failures:
            self._opened_at = self._clock()
            self._set(CircuitState.OPEN)
