"""What a workflow instance looks like from outside: the admin API's JSON, and the CLI's.

One set of views serves both readers: the admin API answers with them (they are its OpenAPI
schemas), and ``interlock workflows --data-dir`` builds the same JSON from a stopped router's
store, so a script reads one shape whichever way it asked.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from router.workflows.spec import WorkflowSpec
from router.workflows.state import Instance, State

# The state machine's enums as literals, so the OpenAPI document lists their values inline.
WorkflowState = Literal[
    "running", "completed", "compensating", "compensated", "parked", "cancelled", "handed_back"
]
StepStatusName = Literal["pending", "running", "retrying", "succeeded", "failed", "skipped"]
UndoStatusName = Literal[
    "none", "running", "retrying", "done", "failed", "skipped", "not_compensable"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# -- views -----------------------------------------------------------------------------------


class _InstanceBase(_Frozen):
    id: str
    workflow: str
    key: str = Field(description="Business key: one instance per workflow and key")
    state: WorkflowState
    current_step: str | None = Field(description="The first step neither succeeded nor skipped")
    failed_step: str | None
    reason: str | None = Field(description="Why it parked or was compensated")
    received_at: float = Field(description="The trigger's receipt at ingress: the SLA clock")
    updated_at: float
    finished_at: float | None
    sla_seconds: float | None = Field(description="Receipt to the SLA's end; null: not reached")


class InstanceSummary(_InstanceBase):
    """One instance in a list: where it stands, without its input and timeline."""

    duplicates: int = Field(description="Later triggers with the same business key")


class InstanceList(_Frozen):
    instances: list[InstanceSummary]


class StepInfo(_Frozen):
    id: str
    status: StepStatusName
    attempts: int
    started_at: float | None
    finished_at: float | None
    output: dict[str, JsonValue] = Field(description="The step's declared outputs")
    error: str | None
    note: str | None = Field(description="Why it was skipped, and by whom")
    undo: UndoStatusName = Field(description="Where its compensation stands")
    undo_attempts: int
    undo_error: str | None
    first_sent_at: float | None = Field(
        description="When its idempotency key was first sent (the target's key window counts "
        "from it; an operator's retry does not reset it)"
    )
    undo_started_at: float | None = Field(description="When its compensation was first sent")
    child: str | None = Field(
        description="A `workflow:` step: the id of the child instance it runs or waits for"
    )


class EventInfo(_Frozen):
    at: float
    event: str = Field(description="triggered, step_started, step_failed, parked, operator_retry …")
    step: str | None
    attempt: int | None
    detail: str | None


class Duplicate(_Frozen):
    message_id: str
    received_at: float


class InstanceDetail(_InstanceBase):
    """One instance: its input, every step, the later triggers and the timeline."""

    created_at: float
    trigger_message: str = Field(description="The id of the message that started it")
    correlation_id: str
    trace_id: str | None
    notifications: int = Field(description="Exception notifications sent")
    input: dict[str, JsonValue] = Field(description="The context's /trigger and /event")
    steps: list[StepInfo]
    duplicates: list[Duplicate] = Field(description="Later triggers with the same business key")
    events: list[EventInfo] = Field(description="The timeline, oldest first")
    parents: list[str] = Field(
        description="A child instance: `<instance id>/<step id>` of each parent step it serves"
    )


class SlaStats(_Frozen):
    objective_s: float
    until: str | None = Field(description="The step whose success stops the clock; null: the end")
    measured: int = Field(description="Instances that reached the clock's end")
    met: int
    missed: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


class WorkflowInfo(_Frozen):
    workflow: str
    configured: bool = Field(description="False: only stored instances name it (it was removed)")
    description: str
    steps: list[str]
    on_failure: Literal["compensate", "park"] | None
    counts: dict[str, int] = Field(description="Instances per state, every state listed")
    sla: SlaStats | None = Field(description="Null when the workflow has no SLA")


class WorkflowStats(_Frozen):
    workflows: list[WorkflowInfo]


# -- views: stored instances as the API's models (the CLI's --data-dir uses them too) -----------


def summary_of(instance: Instance) -> InstanceSummary:
    return InstanceSummary.model_validate(instance.summary())


_DETAIL = ("created_at", "trigger_message", "correlation_id", "trace_id", "notifications")


def detail_of(instance: Instance) -> InstanceDetail:
    record = instance.to_record()  # the steps, events and duplicates as plain dicts
    summary = instance.summary()
    del summary["duplicates"]  # a count in the summary; the detail lists them
    lists = {k: record[k] for k in ("input", "steps", "duplicates", "events", "parents")}
    return InstanceDetail.model_validate({**summary, **{k: record[k] for k in _DETAIL}, **lists})


def _rank(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile: no interpolation, so it is always a measured time."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else None


def _sla(spec: WorkflowSpec, times: list[float], missed_early: int) -> SlaStats | None:
    """``times``: the SLA times of instances judged by them; ``missed_early``: instances that
    missed before reaching the SLA's end (parked, compensated), misses whatever came later."""
    if spec.sla is None:
        return None
    ordered = sorted(times)
    met = sum(1 for t in ordered if t <= spec.sla.objective)  # as the orchestrator judges it
    measured = len(ordered) + missed_early
    return SlaStats(
        objective_s=spec.sla.objective,
        until=spec.sla.until,
        measured=measured,
        met=met,
        missed=measured - met,
        p50_s=_rank(ordered, 0.5),
        p95_s=_rank(ordered, 0.95),
        max_s=ordered[-1] if ordered else None,
    )


def stats_of(specs: Mapping[str, WorkflowSpec], instances: Iterable[Instance]) -> WorkflowStats:
    """Configured workflows in file order, then removed ones that still have stored instances."""
    counts: dict[str, Counter[str]] = {}
    times: dict[str, list[float]] = {}
    early: Counter[str] = Counter()
    steps: dict[str, list[str]] = {}
    for instance in instances:
        counts.setdefault(instance.workflow, Counter())[instance.state.value] += 1
        steps.setdefault(instance.workflow, [s.id for s in instance.steps])
        if instance.sla_missed:
            early[instance.workflow] += 1
        elif instance.sla_seconds is not None:
            times.setdefault(instance.workflow, []).append(instance.sla_seconds)

    def per_state(name: str) -> dict[str, int]:
        found = counts.get(name, Counter())
        return {state.value: found[state.value] for state in State}

    out = [
        WorkflowInfo(
            workflow=name,
            configured=True,
            description=spec.description,
            steps=[s.id for s in spec.steps],
            on_failure=spec.on_failure,
            counts=per_state(name),
            sla=_sla(spec, times.get(name, []), early[name]),
        )
        for name, spec in specs.items()
    ]
    out += [
        WorkflowInfo(
            workflow=name,
            configured=False,
            description="",
            steps=steps[name],
            on_failure=None,
            counts=per_state(name),
            sla=None,
        )
        for name in sorted(set(counts) - set(specs))
    ]
    return WorkflowStats(workflows=out)
