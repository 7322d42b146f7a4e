"""An adaptive cap on requests waiting for their commit: the edge's second overload signal.

Loop lag catches a loop too busy to run its callbacks on time. It misses the other overload: a
loop that keeps up, while the requests it took wait in a standing queue for the group commit (a
2x overload measured before this: every request accepted, then answered with a p99 of 6.3 s,
while the loop's timers ran on time). This cap is the remedy, after TCP Vegas and Netflix's
concurrency limits: it watches the time from a submitted body to its ack, and each
``interval_s`` it moves the number of requests allowed to wait: when even the fastest ack of
the interval was slower than ``target_s`` (a standing queue), down in proportion (``target /
fastest``, at most halved), else up by a twentieth. It starts at ``start``, not the ceiling, so a
sudden overload is capped within one interval rather than after a queue has built. It never
shrinks below what would carry 90 % of the best recent ack rate at the current ack time (Little's
law): without that floor, a loop busy answering 503s made every ack slow, the cap shrank to 8,
and goodput collapsed to a few hundred a second (measured, 2x overload and 256 eager senders).
The edge answers 503 with ``Retry-After``, before reading the body, once that many are waiting.
A slow sender costs nothing here: the clock starts after its body has arrived.
"""

from __future__ import annotations

import math

GROW = 0.05
MAX_SHRINK = 0.5
KEEP_GOODPUT = 0.9  # never cap below what carried this share of the best recent ack rate
PEAK_DECAY = 0.98  # per interval: the best rate is forgotten over a few seconds


class AckLimit:
    def __init__(
        self,
        target_s: float,
        ceiling: int,
        *,
        start: int = 128,
        floor: int = 8,
        interval_s: float = 0.1,
    ) -> None:
        self.target_s = target_s  # 0 disables the cap (acks are still counted)
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.interval_s = interval_s
        self.limit = max(self.floor, min(start, ceiling))
        self.waiting = 0
        self._fastest = math.inf
        self._interval_ends = 0.0
        self._interval_starts: float | None = None  # the first answer opens the first
        self._acks = 0
        self.peak_rate = 0.0  # acks per second, the best of recent intervals (decaying)

    @property
    def full(self) -> bool:
        return self.target_s > 0 and self.waiting >= self.limit

    def enter(self) -> None:
        self.waiting += 1

    def abandon(self) -> None:
        """One request left without an ack (refused or failed): no sample, it tells nothing."""
        self.waiting -= 1

    def leave(self, sojourn_s: float, now: float) -> None:
        """One request answered after ``sojourn_s`` s of waiting; ``now``: a monotonic clock."""
        self.waiting -= 1
        self._acks += 1
        self._fastest = min(self._fastest, sojourn_s)
        if now >= self._interval_ends:
            self._adjust(now)

    def _adjust(self, now: float) -> None:
        elapsed = 0.0 if self._interval_starts is None else now - self._interval_starts
        if elapsed > 0:
            self.peak_rate = max(self._acks / elapsed, self.peak_rate * PEAK_DECAY)
        if self._fastest > self.target_s:
            factor = max(MAX_SHRINK, self.target_s / self._fastest)
            # Little's law: the requests it takes to keep the best recent ack rate at today's
            # ack time. Capping below that would only trade goodput for 503s: when the ack time
            # is the loop's own slowness (it is busy answering 503s), a smaller cap cannot
            # shorten it, and shrinking on would collapse to the floor.
            keep = int(KEEP_GOODPUT * self.peak_rate * self._fastest)
            self.limit = max(self.floor, min(self.limit, keep), int(self.limit * factor))
        else:
            self.limit = min(self.ceiling, self.limit + max(1, int(self.limit * GROW)))
        self._fastest = math.inf
        self._acks = 0
        self._interval_starts = now
        self._interval_ends = now + self.interval_s
