"""The connector actor: sends its connector's deliveries, on the event loop where its I/O lives.

Its own work is the call: each delivery of a ``Send`` batch becomes a task that calls the
connector through its :class:`~router.runtime.outlet.Outlet` (the connector's concurrency limit,
deadline and failure classification, shared with request/reply and workflow steps). Outcomes go
back to each route actor in one ``Outcomes`` message per loop tick, so a slow call never holds
back a fast one's report. Both actors live on the loop, so none of this crosses a thread.

A connector that delivers without I/O (``null``, ``log``) may offer ``send_inline(request)``: its
route actors call it themselves (no task, timeout or semaphore per delivery; for such a send
they cost far more than the send itself) and never involve this actor.
"""

from __future__ import annotations

import asyncio
from typing import Any

from router.connector import OutboundRequest
from router.errors import DeliveryError, TransientError
from router.metrics import Metrics
from router.runtime.messages import Outcomes, Send
from router.runtime.outlet import Outlet
from router.runtime.supervision import SupervisedLoopActor, tell_safely
from router.store.records import Delivery


class ConnectorActor(SupervisedLoopActor):
    def __init__(self, outlet: Outlet, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.name = f"connector:{outlet.name}"
        self.outlet = outlet
        self._loop = asyncio.get_running_loop()
        self._outbox: dict[int, tuple[Any, list[tuple[Delivery, DeliveryError | None]]]] = {}
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, message: object) -> None:
        match message:
            case Send(items, reply_to):
                for delivery, request in items:
                    task = self._loop.create_task(self._deliver(delivery, request, reply_to))
                    self._tasks.add(task)  # a strong reference until done (the loop keeps weak)
                    task.add_done_callback(self._tasks.discard)

    def on_crash(self, message: object, exc: Exception) -> None:
        if isinstance(message, Send):
            error = TransientError(f"connector actor restarted after {type(exc).__name__}: {exc}")
            tell_safely(message.reply_to, Outcomes([(d, error) for d, _ in message.items]))

    async def _deliver(self, delivery: Delivery, request: OutboundRequest, reply_to: Any) -> None:
        result = await self.outlet.call(request)
        slot = self._outbox.setdefault(id(reply_to), (reply_to, []))
        slot[1].append((delivery, result.error))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, {}
        for reply_to, results in outbox.values():
            tell_safely(reply_to, Outcomes(results))
