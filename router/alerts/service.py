"""The alerter: operator events noted from any thread, sent as one message per interval.

Whatever the rate (1,000 dead letters in a minute), an interval sends at most one alert: the
count of each kind of event per route or workflow, and the first few examples of each with what
an operator runs next (``interlock trace <message>``, ``interlock workflows show <instance>``).
An alert that cannot be sent (the connector fails) is kept and merged into the next interval's,
so a storm during an outage is still reported, once, when the target is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from router.alerts.kind import AlertKind, AlertsSpec
from router.connector import OutboundRequest
from router.ids import new_traceparent
from router.logs import get_logger
from router.runtime.outlet import Outlet

log = get_logger("interlock.alerts")
SEE = {
    "dead_letter": "interlock trace {ref}",
    "parked": "interlock workflows show {ref}",
    "sla_missed": "interlock workflows show {ref}",
}


@dataclass
class Window:
    """The events of one interval (or several, while sending fails)."""

    started: float
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, where) -> n
    examples: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def merge(self, later: Window, keep: int) -> None:
        self.counts.update(later.counts)
        for place, found in later.examples.items():
            kept = self.examples.setdefault(place, [])
            kept.extend(found[: max(0, keep - len(kept))])


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = PromCounter(
            "interlock_alert_events_total",
            "Events alerted on: dead_letter, parked, sla_missed",
            ["kind"],
            registry=registry,
        )
        self.sent = PromCounter(
            "interlock_alerts_sent_total",
            "Aggregated alerts posted, by outcome (sent, failed: kept for the next interval)",
            ["outcome"],
            registry=registry,
        )


class Alerter:
    def __init__(self, spec: AlertsSpec, outlet: Outlet, registry: CollectorRegistry) -> None:
        self.spec = spec
        self.outlet = outlet
        self.metrics = AlertMetrics(registry)
        self._lock = threading.Lock()  # noted from the loop and from the orchestrator's thread
        self._window = Window(time.time())
        self._unsent: Window | None = None
        self._task: asyncio.Task[None] | None = None
        self._sent = 0

    def note(self, kind: AlertKind, where: str, ref: str, key: str, reason: str) -> None:
        """One event (any thread): counted now, sent with its interval's alert."""
        if kind not in self.spec.on:
            return
        self.metrics.events.labels(kind).inc()
        example = {
            "kind": kind,
            "where": where,
            "id": ref,
            "key": key,
            "reason": reason,
            "at": time.time(),
            "see": SEE[kind].format(ref=ref),
        }
        with self._lock:
            place = (kind, where)
            self._window.counts[place] += 1
            kept = self._window.examples.setdefault(place, [])
            if len(kept) < self.spec.examples:
                kept.append(example)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    async def stop(self) -> None:
        """Send what is pending (once), then stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.spec.every)
            await self.flush()

    async def flush(self) -> None:
        """Send the interval's alert, if anything happened (the tests call it directly too)."""
        now = time.time()
        with self._lock:
            window, self._window = self._window, Window(now)
        if self._unsent is not None:
            self._unsent.merge(window, self.spec.examples)
            window, self._unsent = self._unsent, None
        if not window.counts:
            return
        result = await self.outlet.call(self._request(window, now))
        if result.error is None:
            self._sent += 1
            self.metrics.sent.labels("sent").inc()
            return
        self.metrics.sent.labels("failed").inc()
        log.warning("alert_not_sent", error=str(result.error), events=sum(window.counts.values()))
        self._unsent = window

    def _request(self, window: Window, now: float) -> OutboundRequest:
        counts = [
            {"kind": kind, "where": where, "count": n}
            for (kind, where), n in sorted(window.counts.items())
        ]
        document = {
            "type": "interlock.alerts",
            "from": window.started,
            "to": now,
            "total": sum(window.counts.values()),
            "counts": counts,
            "examples": [e for place in sorted(window.examples) for e in window.examples[place]],
        }
        key = hashlib.sha256(f"alerts:{window.started}:{self._sent}".encode()).hexdigest()[:40]
        notify = self.spec.notify
        return OutboundRequest(
            message_id=key,
            route="alerts",
            method=notify.method,
            path=notify.path,
            body=orjson.dumps(document),
            idempotency_key=key,
            correlation_id=key,
            traceparent=new_traceparent(),
            attempt=1,
            headers=dict(notify.headers),
            operation=notify.operation,
        )
