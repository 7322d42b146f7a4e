"""Non-blocking admission credit, checked at the edge.

pykka inboxes are unbounded and a bounded ``queue.Queue`` would block ``tell()`` on the event loop,
so the bound lives here instead: every accepted delivery holds one unit of credit until it is
delivered or dead-lettered. Every actor mailbox downstream holds at most that many deliveries, so
memory is bounded by ``max_inflight`` without any ``tell()`` ever blocking.
"""

from __future__ import annotations

import threading


class Credit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_use = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_acquire(self, units: int) -> bool:
        """Take ``units`` if all fit under the limit; never blocks."""
        with self._lock:
            if self._in_use + units > self.limit:
                return False
            self._in_use += units
            self._idle.clear()
            return True

    def force_acquire(self, units: int) -> None:
        """Take credit regardless of the limit (recovery must reload what was accepted)."""
        with self._lock:
            self._in_use += units
            if self._in_use:
                self._idle.clear()

    def release(self, units: int = 1) -> None:
        with self._lock:
            self._in_use = max(0, self._in_use - units)
            if self._in_use == 0:
                self._idle.set()

    def is_idle(self) -> bool:
        return self._idle.is_set()
