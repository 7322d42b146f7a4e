"""A token bucket per connector: ``rate_per_s`` sustained, ``burst`` at once, waits are async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from router.plugin import TransientError

__all__ = ["TokenBucket"]


class TokenBucket:
    """Hands out call slots at ``rate_per_s``, up to ``burst`` at once.

    A caller reserves its slot at once (the bucket may go into debt) and sleeps until the slot is
    due, so waiting callers are served in arrival order and never block the event loop. A caller
    that would wait longer than ``max_wait`` gets a TransientError with ``retry_after`` instead, so
    the message waits in the journal rather than holding a connection slot.
    """

    __slots__ = ("_clock", "_tokens", "_updated", "burst", "rate_per_s")

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._updated = now

    def wait_time(self) -> float:
        """Seconds until the next slot is free (0 when one is free now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    async def acquire(self, max_wait: float) -> None:
        """Take a slot, sleeping until it is due; raise TransientError past ``max_wait``."""
        wait = self.wait_time()
        if wait > max_wait:
            raise TransientError(f"rate limit: next call slot in {wait:.2f}s", retry_after=wait)
        self._tokens -= 1.0
        if wait <= 0:
            return
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self._tokens = min(float(self.burst), self._tokens + 1.0)  # give the slot back
            raise
