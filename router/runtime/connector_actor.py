"""The connector actor: hands deliveries to its connector's coroutines on the event loop.

The actor thread only hops each ``Send`` batch onto the loop; the loop runs the calls under the
connector's concurrency limit and timeout, and reports outcomes back to each route actor in one
``Outcomes`` message per loop tick (so a slow call never holds back a fast one's report).

A connector that delivers without I/O (``null``, ``log``) may offer ``send_inline(request)``: its
route actors then call it on their own thread (:func:`deliver_inline`) and never involve this actor
or the loop. No thread hop, loop hop, task, timeout or semaphore per delivery: for such a send
they cost far more than the send itself (profiled under HTTP load with the null connector: about
8 % of the loop's samples, and the connector thread's ~30 µs of CPU per request).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from router.connector import Connector, OutboundRequest
from router.errors import DeliveryError, PermanentError, TransientError
from router.metrics import Metrics
from router.runtime.bridge import LoopBridge
from router.runtime.messages import Delivery, Outcomes, Send
from router.runtime.supervision import SupervisedActor, tell_safely


class ConnectorActor(SupervisedActor):
    def __init__(
        self, name: str, connector: Connector, bridge: LoopBridge, metrics: Metrics
    ) -> None:
        super().__init__(metrics)
        self.name = f"connector:{name}"
        self.connector_name = name
        self.connector = connector
        self.bridge = bridge
        # Loop-side state below: touched only by coroutines and callbacks on the event loop.
        self._limit: asyncio.Semaphore | None = None
        self._outbox: dict[int, tuple[Any, list[tuple[Delivery, DeliveryError | None]]]] = {}
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, message: object) -> None:
        match message:
            case Send(deliveries, reply_to):
                # One hop onto the loop per batch, not per delivery (each hop is a wake-up).
                self.bridge.spawn(self._start_batch(deliveries, reply_to))

    def on_crash(self, message: object, exc: Exception) -> None:
        if isinstance(message, Send):
            error = TransientError(f"connector actor restarted after {type(exc).__name__}: {exc}")
            tell_safely(message.reply_to, Outcomes([(d, error) for d in message.deliveries]))

    async def _start_batch(self, deliveries: list[Delivery], reply_to: Any) -> None:
        for delivery in deliveries:
            task = asyncio.create_task(self._deliver(delivery, reply_to))
            self._tasks.add(task)  # a strong reference until done (the loop keeps only weak ones)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, reply_to: Any) -> None:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.connector.concurrency)
        request = delivery.request
        assert request is not None
        started = time.perf_counter()
        error: DeliveryError | None = None
        async with self._limit:
            try:
                async with asyncio.timeout(self.connector.timeout_s):
                    await self.connector.send(request)
            except DeliveryError as exc:
                error = exc
            except TimeoutError:
                error = TransientError(f"timed out after {self.connector.timeout_s:g}s")
            except Exception as exc:  # noqa: BLE001 - a connector bug delays, never loses
                error = TransientError(f"connector raised {type(exc).__name__}: {exc}")
        count_delivery(
            self.metrics, self.connector_name, request.route, error, time.perf_counter() - started
        )
        self._report(reply_to, delivery, error)

    def _report(self, reply_to: Any, delivery: Delivery, error: DeliveryError | None) -> None:
        slot = self._outbox.setdefault(id(reply_to), (reply_to, []))
        slot[1].append((delivery, error))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, {}
        for reply_to, results in outbox.values():
            tell_safely(reply_to, Outcomes(results))


def count_delivery(
    metrics: Metrics, connector: str, route: str, error: DeliveryError | None, seconds: float
) -> None:
    metrics.child(metrics.delivery_seconds, connector).observe(seconds)
    outcome = (
        "delivered"
        if error is None
        else "permanent"
        if isinstance(error, PermanentError)
        else "transient"
    )
    metrics.child(metrics.deliveries, route, connector, outcome).inc()


InlineSend = Callable[[OutboundRequest], None]


def deliver_inline(
    send: InlineSend, deliveries: list[Delivery], connector: str, metrics: Metrics
) -> list[tuple[Delivery, DeliveryError | None]]:
    """Run a no-I/O connector's ``send_inline`` for each delivery, on the caller's thread."""
    results: list[tuple[Delivery, DeliveryError | None]] = []
    for delivery in deliveries:
        request = delivery.request
        assert request is not None
        started = time.perf_counter()
        error: DeliveryError | None = None
        try:
            send(request)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a connector bug delays, never loses
            error = TransientError(f"connector raised {type(exc).__name__}: {exc}")
        count_delivery(metrics, connector, request.route, error, time.perf_counter() - started)
        results.append((delivery, error))
    return results
