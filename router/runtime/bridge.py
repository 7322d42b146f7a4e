"""The bridge between actor threads and the asyncio loop.

pykka's ``Future.__await__`` blocks in ``get()``, so awaiting an actor from a handler would freeze
the loop. Threaded actors instead hand results to the loop with ``call_soon_threadsafe`` (once per
batch) and schedule coroutines with ``run_coroutine_threadsafe``; the loop never waits on a thread.
:func:`reply_on_loop` is the one way an asyncio future is settled from another thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
Reply = Callable[[Any, Exception | None], None]
"""Called once, from any thread, with (result, error)."""


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


def settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    """Set ``future``'s result or exception unless it is done (its awaiter left); on its loop."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


def reply_on_loop(future: asyncio.Future[Any]) -> Reply:
    """A :data:`Reply` that settles ``future`` on its own loop, whichever thread calls it."""
    loop = future.get_loop()

    def reply(result: Any, error: Exception | None) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, future, result, error)

    return reply
