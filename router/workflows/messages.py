"""Messages to the orchestrator actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry.trace import Span

from router.errors import DeliveryError
from router.runtime.bridge import Reply

Phase = Literal["do", "undo"]
Action = Literal["retry", "skip", "cancel"]


@dataclass(frozen=True, slots=True)
class Trigger:
    workflow: str
    message_id: str
    received_at: float
    correlation_id: str
    traceparent: str
    event: dict[str, Any]  # source, type, key: the context's /event
    body: bytes  # the trigger's canonical model as JSON
    reply: Reply
    tracestate: str | None = None  # W3C, as the ingress kept it: carried unchanged to each step


@dataclass(frozen=True, slots=True)
class Finished:
    instance_id: str
    step_id: str
    phase: Phase
    attempt: int
    body: bytes | None
    error: DeliveryError | None
    seconds: float
    span: Span | None = None  # the attempt's interlock.workflow.step span: ended when handled


@dataclass(frozen=True, slots=True)
class Wake:
    """A retry timer fired: run the instance's next attempt."""

    instance_id: str


@dataclass(frozen=True, slots=True)
class Notified:
    instance_id: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    instance_id: str
    reason: str
    reply: Reply
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Resume:
    """Sent once at start: reload running and compensating instances, resend notifications."""

    done: Callable[[int], None] = field(default=lambda _count: None)


@dataclass(frozen=True, slots=True)
class HandBack:
    """Sent once at start in cluster mode, instead of :class:`Resume`: hand back every unfinished
    instance (their triggers run them again wherever their partitions are owned)."""

    done: Callable[[int], None] = field(default=lambda _count: None)
