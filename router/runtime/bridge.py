"""The bridge between actor threads and the asyncio loop.

pykka's ``Future.__await__`` blocks in ``get()``, so awaiting an actor from a handler would freeze
the loop. Actors instead hand results to the loop with ``call_soon_threadsafe`` (once per batch) and
schedule coroutines with ``run_coroutine_threadsafe``; the loop never waits on a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon; safe from any thread, a no-op once it closed."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop after ``delay`` seconds; safe from any thread."""
        self.call(self.loop.call_later, max(0.0, delay), fn, *args)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Schedule a coroutine on the loop from any thread."""
        if self.loop.is_closed():
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, self.loop)
