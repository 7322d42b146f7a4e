"""Event-loop lag: how late the loop runs a timer, the edge's signal that it is overloaded.

Credit bounds the work held, but not how long a request waits for the loop: under twice the
sustainable rate every request was accepted, and answered with a p99 of 6.3 s. A timer that fires
every ``interval_s`` measures how late the loop gets round to it. The lag counts only when it is
sustained: the estimate is the *smallest* lag of the last ``WINDOW`` ticks, so one slow callback
(a garbage collection, a large body) sheds nothing, while a loop that is late on every tick sheds
within a few ticks, and one tick on time reopens it. While it is above the limit, the edge
answers 503 with ``Retry-After`` before it reads a body: shedding stays cheap, and the requests
it accepts keep a short ack time.
"""

from __future__ import annotations

import asyncio
from collections import deque

WINDOW = 4  # ticks: the lag must last this long to count


class LoopLag:
    def __init__(self, loop: asyncio.AbstractEventLoop, limit_s: float, interval_s: float) -> None:
        self.loop = loop
        self.limit_s = limit_s  # 0 disables shedding on lag (the lag is still measured)
        self.interval_s = interval_s
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    @property
    def lag_s(self) -> float:
        """The sustained lag: the smallest of the last ``WINDOW`` ticks (0 until there are so
        many)."""
        return min(self._recent) if len(self._recent) == WINDOW else 0.0

    @property
    def overloaded(self) -> bool:
        return 0 < self.limit_s < self.lag_s

    def start(self) -> None:
        self._due = self.loop.time() + self.interval_s
        self._handle = self.loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._recent.clear()

    def _tick(self) -> None:
        now = self.loop.time()
        self.observe(max(0.0, now - self._due))
        self._due = now + self.interval_s
        self._handle = self.loop.call_at(self._due, self._tick)

    def observe(self, lag_s: float) -> None:
        """Record one tick's lag."""
        self._recent.append(lag_s)
