"""Exception notifications: what an operator (or their pager) needs when an instance fails.

The notification names the workflow, instance, business key, the state it ended in, the failed
step and its error, and every step's status with its undo, so the reader can act without opening
the timeline. It is sent through a configured connector (a plain webhook is enough), with a few
retries; if the router stops first, ``notify_pending`` makes the next start send it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import orjson

from router.connector import OutboundRequest
from router.runtime.outlet import Outlet
from router.runtime.supervision import tell_safely
from router.workflows.messages import Notified
from router.workflows.plan import call_traceparent, trace_headers
from router.workflows.spec import WorkflowSpec
from router.workflows.state import Instance

ATTEMPTS = 5


def notification_document(spec: WorkflowSpec, instance: Instance) -> dict[str, Any]:
    return {
        "type": f"interlock.workflow.{instance.state.value}",
        "workflow": spec.id,
        "instance": instance.id,
        "key": instance.key,
        "state": instance.state.value,
        "failed_step": instance.failed_step,
        "reason": instance.reason,
        "on_failure": spec.on_failure,
        "steps": [
            {
                "id": s.id,
                "status": s.status.value,
                "attempts": s.attempts,
                "error": s.error,
                "undo": s.undo.value,
                "undo_error": s.undo_error,
            }
            for s in instance.steps
        ],
        "trigger_message": instance.trigger_message,
        "correlation_id": instance.correlation_id,
        "occurred_at": time.time(),
        "actions": ["retry", "skip", "cancel"] if instance.state.value == "parked" else [],
    }


def notification_request(spec: WorkflowSpec, instance: Instance) -> OutboundRequest:
    assert spec.notify is not None
    target = spec.notify
    # One key per notification of this instance: a resend after a restart is deduplicated.
    raw = f"{instance.id}\x00notify\x00{instance.notifications}"
    return OutboundRequest(
        message_id=instance.id,
        route=f"{spec.id}/notify",
        method=target.method,
        path=target.path,
        body=orjson.dumps(notification_document(spec, instance)),
        idempotency_key=hashlib.sha256(raw.encode()).hexdigest()[:40],
        correlation_id=instance.correlation_id,
        traceparent=call_traceparent(instance),
        attempt=1,
        headers=trace_headers(instance, target.headers),
        operation=target.operation,
    )


async def send_notification(
    outlet: Outlet, request: OutboundRequest, actor: Any, instance_id: str
) -> None:
    """Send with a short backoff; report the outcome to the orchestrator either way."""
    error: str | None = None
    for attempt in range(1, ATTEMPTS + 1):
        failure = (await outlet.call(request)).error
        if failure is None:
            error = None
            break
        error = str(failure)
        if attempt < ATTEMPTS:
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
    tell_safely(actor, Notified(instance_id, error))
