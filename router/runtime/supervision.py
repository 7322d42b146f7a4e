"""Supervised actors: a failure while handling one message restarts the handler, not the process.

pykka stops an actor whose ``on_receive`` raises, which would strand every delivery it held. A
supervised actor instead counts the restart, logs it once, and gives the failed message to
``on_crash`` so that its deliveries go to retry or the dead-letter store; they are never dropped.
The same supervision serves both dispatchers: a thread of its own (:class:`SupervisedActor`) and
the event loop (:class:`SupervisedLoopActor`).
"""

from __future__ import annotations

from typing import Any

import pykka

from router.logs import get_logger
from router.metrics import Metrics
from router.runtime.loop_actor import LoopActor

log = get_logger("interlock.supervisor")


def tell_safely(ref: Any, message: Any) -> None:
    """``tell`` that tolerates an actor already stopped during shutdown (work stays journaled)."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        log.debug("actor_gone", actor=str(ref), message=type(message).__name__)


class Supervised(pykka.Actor):
    """The supervision itself: ``handle`` does the work, ``on_crash`` saves what it held."""

    name = "actor"

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics
        self.restarts = 0

    def on_receive(self, message: Any) -> Any:
        try:
            return self.handle(message)
        except Exception as exc:
            self.restarts += 1
            self.metrics.restarts.labels(actor=self.name).inc()
            log.exception("actor_restart", actor=self.name, message=type(message).__name__)
            try:
                self.on_crash(message, exc)
            except Exception:
                log.exception("actor_crash_handler_failed", actor=self.name)
            return None

    def handle(self, message: Any) -> Any:
        raise NotImplementedError

    def on_crash(self, message: Any, exc: Exception) -> None:
        """Route the failed message's work to retry or dead-letter; default: nothing held."""


class SupervisedActor(Supervised, pykka.ThreadingActor):
    """Supervised, on a thread of its own: for work that blocks (an fsync)."""


class SupervisedLoopActor(Supervised, LoopActor):
    """Supervised, on the event loop: for I/O on the loop and short CPU work."""
