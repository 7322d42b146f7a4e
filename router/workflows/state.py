"""A workflow instance's durable state: the input, each step's status, outputs, attempts, errors.

It is stored as one msgpack document per instance (``to_record``/``from_record``), written before a
step's effect (status ``running``, attempt counted) and after it (``succeeded`` with outputs, or the
error). A ``running`` step found after a crash may or may not have had its effect: it is retried
with the same idempotency key, so the target applies it once.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

MAX_EVENTS = 500  # a timeline is for people; a looping instance must not grow without bound


class State(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"  # failed, then undone in reverse order (on_failure: compensate)
    PARKED = "parked"  # waiting for an operator: retry, skip or cancel
    CANCELLED = "cancelled"  # an operator cancelled it; finished steps were compensated
    # Cluster mode: left unfinished at a restart, to the owner of its trigger's partition, which
    # runs it again (its unacked trigger is redelivered there; the steps' keys dedupe the rerun).
    # It no longer holds its business key: the next trigger for that key starts a new instance.
    HANDED_BACK = "handed_back"


ACTIVE = frozenset({State.RUNNING, State.COMPENSATING})
# Done with its trigger: the trigger's backbone message is acked (cluster mode).
FINAL = frozenset({State.COMPLETED, State.COMPENSATED, State.CANCELLED})
# Unfinished: what a restart resumes (embedded mode) or hands back (cluster mode).
UNFINISHED = frozenset({State.RUNNING, State.COMPENSATING, State.PARKED})


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # an attempt was started; its effect is unknown until it answers
    RETRYING = "retrying"  # the last attempt failed transiently; the next one is scheduled
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class UndoStatus(StrEnum):
    NONE = "none"  # not needed (yet)
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_COMPENSABLE = "not_compensable"  # the step has no undo: flagged for the operator


@dataclass(slots=True)
class StepState:
    id: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None  # why it was skipped, by whom
    undo: UndoStatus = UndoStatus.NONE
    undo_attempts: int = 0
    undo_error: str | None = None
    # When the step's (and its undo's) idempotency key was first sent: never reset, not even by
    # an operator's retry (which resets ``started_at``, the retry budget's clock), because the
    # target's key window counts from the first send (router.runtime.key_window).
    first_sent_at: float | None = None
    undo_started_at: float | None = None
    child: str | None = None  # a `workflow:` step: the child instance it runs or waits for


@dataclass(slots=True)
class Event:
    at: float
    event: str
    step: str | None = None
    attempt: int | None = None
    detail: str | None = None


@dataclass(slots=True)
class Instance:
    id: str
    workflow: str
    key: str
    trigger_message: str
    received_at: float  # the trigger's receipt at ingress: the SLA clock starts here
    correlation_id: str
    trace_id: str | None
    input: dict[str, Any]  # the context's /trigger and /event parts
    steps: list[StepState]
    state: State = State.RUNNING
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    sla_seconds: float | None = None
    # Why it missed its SLA without reaching the SLA's end (it parked, or was compensated): such
    # an instance counts as a miss once, even if an operator later brings it to completion.
    sla_missed: str | None = None
    failed_step: str | None = None
    reason: str | None = None
    cancelled: bool = False  # an operator cancelled it: compensation ends in CANCELLED
    notify_pending: bool = False
    notifications: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # A child instance's parents: "<instance id>/<step id>" of each step that started or linked it.
    parents: list[str] = field(default_factory=list)
    # The trigger's whole W3C context, so every step call continues it with the trigger's sampled
    # flag and ``tracestate``. None in an instance stored before they were kept: its calls then
    # descend from ``trace_id`` alone (router.workflows.plan.trace_parent).
    traceparent: str | None = None
    tracestate: str | None = None
    # A child started by a parent's step: ``trigger_message`` is the parent's, not its own, so
    # its end settles no trigger (cluster mode). False: started by a trigger of its own.
    by_parent: bool = False

    # -- queries ---------------------------------------------------------------------------------

    def step(self, step_id: str) -> StepState:
        return next(s for s in self.steps if s.id == step_id)

    def context(self) -> dict[str, Any]:
        """The document that step templates read (see :mod:`router.workflows.spec`)."""
        return {
            **self.input,
            "steps": {s.id: s.output for s in self.steps if s.status is StepStatus.SUCCEEDED},
            "instance": {"id": self.id, "key": self.key},
        }

    def settles(self) -> list[str]:
        """The trigger messages this instance is done with once it is final (cluster mode): its
        own trigger (unless a parent's step started it) and the later duplicate triggers."""
        own = [] if self.by_parent else [self.trigger_message]
        return own + [d["message_id"] for d in self.duplicates]

    # -- changes ---------------------------------------------------------------------------------

    def record(
        self,
        event: str,
        step: str | None = None,
        attempt: int | None = None,
        detail: str | None = None,
    ) -> None:
        now = time.time()
        self.updated_at = now
        self.events.append(Event(now, event, step, attempt, detail))
        if len(self.events) > MAX_EVENTS:
            del self.events[1 : len(self.events) - MAX_EVENTS + 1]  # keep the trigger event

    # -- storage ---------------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Instance:
        steps = [
            StepState(
                **{
                    **s,
                    "status": StepStatus(s["status"]),
                    "undo": UndoStatus(s["undo"]),
                }
            )
            for s in data["steps"]
        ]
        events = [Event(**e) for e in data["events"]]
        return cls(**{**data, "steps": steps, "events": events, "state": State(data["state"])})

    def summary(self) -> dict[str, Any]:
        """The list view: no input, no timeline."""
        current = next(
            (
                s.id
                for s in self.steps
                if s.status not in {StepStatus.SUCCEEDED, StepStatus.SKIPPED}
            ),
            None,
        )
        return {
            "id": self.id,
            "workflow": self.workflow,
            "key": self.key,
            "state": self.state.value,
            "current_step": current,
            "failed_step": self.failed_step,
            "reason": self.reason,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "sla_seconds": self.sla_seconds,
            "duplicates": len(self.duplicates),
        }
