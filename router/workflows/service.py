"""Workflows inside the engine: the trigger connectors, the orchestrator, and the operator API.

A workflow's trigger is an ordinary route (``router.workflows.kind.trigger_route``): the inbound
message is
journaled with its route at ingress, like any other, and "delivered" to the workflow's trigger
connector, which creates the instance durably before it reports success. So a trigger accepted
with 202 survives a crash before its instance exists: the journal redelivers it, and the business
key makes that redelivery a no-op when the instance was already created.

Cluster mode: the engine passes ``on_settled`` (the cluster node's ``settle``), called on the loop
with the trigger message ids the workflows are done with, and calls :meth:`Workflows.hand_back`
at start instead of :meth:`Workflows.resume` (see :mod:`router.workflows.orchestrator`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from router.alerts.kind import Alert
from router.connector import Connector, OutboundRequest
from router.errors import PermanentError
from router.ids import decode_id
from router.metrics import Metrics
from router.registry import TransformSpec
from router.runtime.bridge import LoopBridge, reply_on_loop
from router.runtime.outlet import Outlet
from router.runtime.supervision import tell_safely
from router.store.workflows import WorkflowStore
from router.workflows.kind import TRIGGER_PREFIX
from router.workflows.messages import Action, Command, HandBack, Resume, Trigger
from router.workflows.metrics import WorkflowMetrics
from router.workflows.orchestrator import OrchestratorActor
from router.workflows.spec import WorkflowSpec
from router.workflows.state import Instance


def received_at(message_id: str) -> float:
    """The ingress receipt time, read from the message id (48-bit Unix milliseconds)."""
    return int.from_bytes(decode_id(message_id)[:6], "big") / 1000


class TriggerConnector:
    """Hands a trigger to the orchestrator and reports success once the instance is durable."""

    timeout_s = 30.0
    concurrency = 64

    def __init__(self, workflow: str, orchestrator: Any) -> None:
        self.workflow = workflow
        self.orchestrator = orchestrator

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        trigger = Trigger(
            workflow=self.workflow,
            message_id=request.message_id,
            received_at=received_at(request.message_id),
            correlation_id=request.correlation_id,
            traceparent=request.traceparent,
            event=dict(request.event or {}),
            body=request.body,
            reply=reply_on_loop(future),
            tracestate=request.headers.get("tracestate"),
        )
        tell_safely(self.orchestrator, trigger)
        instance_id = await future
        return str(instance_id).encode()


class Workflows:
    """The running workflows of one engine: start, resume, query and operate."""

    def __init__(
        self,
        specs: dict[str, WorkflowSpec],
        data_dir: Path,
        sync: bool,
        outlets: dict[str, Outlet],
        transforms: dict[str, TransformSpec],
        bridge: LoopBridge,
        metrics: Metrics,
        alert: Alert | None = None,
        clock: Callable[[], float] = time.time,
        on_settled: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.specs = specs
        self.store = WorkflowStore(data_dir / "workflows", sync=sync)
        self.metrics = WorkflowMetrics(metrics.registry)
        for spec in specs.values():
            if spec.sla is not None:
                self.metrics.objective.labels(workflow=spec.id).set(spec.sla.objective)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.ref = OrchestratorActor.start(
            specs,
            self.store,
            outlets,
            transforms,
            bridge,
            metrics,
            self.metrics,
            self.counts,
            alert,
            clock,
            on_settled,
        )
        self.metrics.watch_instances(self._counts)
        self.triggers: dict[str, Connector] = {
            TRIGGER_PREFIX + name: TriggerConnector(name, self.ref) for name in specs
        }

    def _counts(self) -> dict[tuple[str, str], int]:
        # Written by the orchestrator's thread; a scrape that races a resize just reads again.
        for _ in range(5):
            try:
                return dict(self.counts)
            except RuntimeError:
                continue
        return {}

    async def resume(self) -> int:
        """Resume running and compensating instances; returns how many."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        reply = reply_on_loop(future)
        tell_safely(self.ref, Resume(lambda count: reply(count, None)))
        return await future

    async def hand_back(self) -> int:
        """Cluster mode, at start instead of :meth:`resume` (before any trigger arrives): every
        running, compensating or parked instance becomes ``handed_back`` and frees its business
        key; its unacked trigger runs it again wherever its partition is owned. How many."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        reply = reply_on_loop(future)
        tell_safely(self.ref, HandBack(lambda count: reply(count, None)))
        return await future

    def stop(self) -> None:
        """Stop the actor (blocking; from an executor) and close the store."""
        if self.ref.is_alive():
            self.ref.stop(block=True, timeout=10)
        self.store.close()

    # -- operator API (on the loop) -----------------------------------------------------------

    async def command(self, action: str, instance_id: str, reason: str, actor: str) -> Any:
        if action not in {"retry", "skip", "cancel"}:
            raise PermanentError(f"unknown action {action!r}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        checked = cast(Action, action)  # validated just above
        message = Command(checked, instance_id, reason, reply_on_loop(future), actor)
        tell_safely(self.ref, message)
        return await future

    async def get(self, instance_id: str) -> Instance | None:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.get, instance_id)

    async def query(self, **filters: Any) -> list[Instance]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.store.query(**filters))
