"""Actors whose messages are handled on the event loop: a dispatcher, not a thread per actor.

An actor is a mailbox, private state and one message at a time; a thread is only one way to run
it. Akka and Pekko call this the dispatcher. Interlock has two:

- **a thread of its own** (``pykka.ThreadingActor``) for an actor whose work blocks: the journal
  (the fsync) and the orchestrator (its store's fsync);
- **the event loop** (:class:`LoopActor`) for actors whose work is I/O on the loop or short CPU:
  routes (lanes and transforms) and connectors (the call itself). Telling one of them from the
  loop is an append and at most one ``call_soon`` per burst, not a thread crossing, and its I/O is
  its own work rather than a relay onto the loop from another thread.

A LoopActor is a real pykka actor: it registers in ``ActorRegistry``, its ref takes ``tell``,
``ask`` and ``stop`` from any thread (another thread's message arrives with one
``call_soon_threadsafe``), and its mailbox stays bounded by the engine's credit. A stop asked
from the loop thread itself is handled at once (after the messages queued before it), so
``stop(block=True)`` there cannot deadlock; once the loop is closed, messages are handled on the
caller's thread, so ``ActorRegistry.stop_all()`` after a test's loop is gone still stops it.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque
from typing import Any

import pykka
from pykka import ActorDeadError, ActorRegistry, ThreadingFuture
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

BURST = 256  # messages handled per loop callback before other callbacks get their turn


class _LoopInbox:
    """The mailbox: a deque drained by one scheduled loop callback at a time."""

    def __init__(self, actor: LoopActor, loop: asyncio.AbstractEventLoop) -> None:
        self.actor = actor
        self.loop = loop
        self.queue: deque[Envelope[Any]] = deque()
        self._scheduled = False
        self._lock = threading.Lock()  # put() may come from any thread

    def put(self, envelope: Envelope[Any], /) -> None:
        on_loop = _on_loop_thread(self.loop)
        if on_loop and isinstance(envelope.message, _ActorStop):
            with self._lock:
                self.queue.append(envelope)
                self._scheduled = True
            self._drain(limit=None)  # a blocking stop from the loop itself must not wait for it
            return
        with self._lock:
            self.queue.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        if on_loop:
            self.loop.call_soon(self._drain)
        elif self.loop.is_closed():
            self._drain(limit=None)
        else:
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # closed between the check and the call
                self._drain(limit=None)

    def get(self) -> Envelope[Any]:
        return self.queue.popleft()

    def empty(self) -> bool:
        return not self.queue

    def qsize(self) -> int:
        return len(self.queue)

    def _drain(self, limit: int | None = BURST) -> None:
        handled = 0
        while True:
            with self._lock:
                if not self.queue or (limit is not None and handled >= limit):
                    more = bool(self.queue)
                    self._scheduled = more
                    break
                envelope = self.queue.popleft()
            self.actor._handle_envelope(envelope)
            handled += 1
        if more:
            self.loop.call_soon(self._drain)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class LoopActor(pykka.Actor):
    """A pykka actor handled on the running event loop (construct it on the loop thread)."""

    def _create_actor_inbox(self) -> _LoopInbox:  # type: ignore[override]
        return _LoopInbox(self, asyncio.get_running_loop())

    @staticmethod
    def _create_future() -> ThreadingFuture[Any]:
        return ThreadingFuture()

    def _start_actor_loop(self) -> None:
        self._actor_loop_setup()  # on_start, here on the loop thread

    def _handle_envelope(self, envelope: Envelope[Any]) -> None:
        """One message, as pykka's own actor loop handles it."""
        if self.actor_stopped.is_set():
            if envelope.reply_to is not None:
                if isinstance(envelope.message, _ActorStop):
                    envelope.reply_to.set(None)
                else:
                    error = ActorDeadError(f"{self.actor_ref} stopped before handling the message")
                    envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))
            return
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:  # noqa: BLE001 - as pykka's own loop: the asker gets it, or a log
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:  # noqa: BLE001 - as pykka: a failing hook only logs
                    self._handle_failure(*sys.exc_info())
        except BaseException:
            self._stop()
            ActorRegistry.stop_all()
            raise
