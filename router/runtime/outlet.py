"""The one way to call a connector: deadline, concurrency limit, classification, catch-all.

Routes (through their connector actor), request/reply routes and workflow steps all call a
connector through its :class:`Outlet`, so the three share one concurrency limit per connector and
one classification of failures: a :class:`~router.errors.DeliveryError` is kept as the connector
raised it, a missed deadline is a :class:`~router.errors.DeadlineError` (transient), and anything
else a connector raises is a transient error too: a connector bug delays a message, it never loses
one and never reaches a caller as a 500. The connector's own breaker, rate limit and auth run
inside ``send``. It runs on the event loop, where every connector's I/O lives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from opentelemetry.trace import SpanKind, StatusCode

from router import telemetry
from router.connector import Connector, OutboundRequest
from router.errors import DeadlineError, DeliveryError, PermanentError, TransientError
from router.metrics import Metrics

InlineSend = Callable[[OutboundRequest], None]
"""A no-I/O connector's ``send_inline(request)`` (``null``, ``log``): no loop, task or timer."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one attempt came to: the answer's body, or the classified error; and its duration."""

    body: bytes | None
    error: DeliveryError | None
    seconds: float

    @property
    def outcome(self) -> str:
        """``delivered``, ``transient`` or ``permanent`` (the metric label)."""
        if self.error is None:
            return "delivered"
        return "permanent" if isinstance(self.error, PermanentError) else "transient"


def classify(exc: Exception) -> DeliveryError:
    """A connector's failure as the retry logic reads it: its own DeliveryError, or (anything
    else it raised, a bug) a transient one."""
    if isinstance(exc, DeliveryError):
        return exc
    return TransientError(f"connector raised {type(exc).__name__}: {exc}")


class Outlet:
    """One connector as the engine calls it: its limit, its deadline and its metrics."""

    def __init__(self, name: str, connector: Connector, metrics: Metrics) -> None:
        self.name = name
        self.connector = connector
        self.metrics = metrics
        self._limit: asyncio.Semaphore | None = None  # made on the loop, at the first call

    @property
    def timeout_s(self) -> float:
        return self.connector.timeout_s

    async def call(self, request: OutboundRequest, deadline_s: float | None = None) -> CallResult:
        """One attempt under the connector's limit and ``deadline_s`` (default: its timeout).

        Never raises (cancellation aside): every failure comes back classified.
        """
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.connector.concurrency)
        deadline = self.connector.timeout_s if deadline_s is None else deadline_s
        span = telemetry.start(
            "interlock.deliver",
            request.traceparent,
            request.headers.get("tracestate"),
            kind=SpanKind.CLIENT,
            attributes={
                "interlock.route": request.route,
                "interlock.connector": self.name,
                "interlock.message_id": request.message_id,
                "interlock.attempt": request.attempt,
            },
        )
        if span is not None:  # the target's parent is this recorded attempt
            request = replace(request, traceparent=telemetry.span_traceparent(span))
        started = time.perf_counter()
        body: bytes | None = None
        error: DeliveryError | None = None
        async with self._limit:
            try:
                async with asyncio.timeout(deadline):
                    body = await self.connector.send(request)
            except TimeoutError:
                error = DeadlineError(f"no answer within {deadline:g}s")
            except Exception as exc:  # noqa: BLE001 - classified: a bug delays, never loses
                error = classify(exc)
        result = CallResult(body, error, time.perf_counter() - started)
        self.count(request.route, result)
        if span is not None:
            span.set_attribute("interlock.outcome", result.outcome)
            if error is not None:
                span.set_status(StatusCode.ERROR, str(error)[:200])
            span.end()
        return result

    def call_inline(self, send: InlineSend, request: OutboundRequest) -> CallResult:
        """The same classification for a no-I/O connector's ``send_inline``, on this thread."""
        started = time.perf_counter()
        error: DeliveryError | None = None
        try:
            send(request)
        except Exception as exc:  # noqa: BLE001 - classified: a bug delays, never loses
            error = classify(exc)
        result = CallResult(None, error, time.perf_counter() - started)
        self.count(request.route, result)
        return result

    def count(self, route: str, result: CallResult) -> None:
        metrics = self.metrics
        metrics.child(metrics.delivery_seconds, self.name).observe(result.seconds)
        metrics.child(metrics.deliveries, route, self.name, result.outcome).inc()
