"""The workflow-file language: a trigger, ordered steps with compensations, a failure policy.

A workflow file sits in the routes folder beside the routes (``kind: workflow``; its id equals the
file stem). Step inputs are built from a *context* document::

    {"trigger": <the trigger's canonical model, as JSON>,
     "steps": {"<step id>": {<the step's declared outputs>}},
     "instance": {"id": "<instance id>", "key": "<business key>"}}

A step either calls a connector (``call:``) or runs another workflow as a child (``workflow:``):
the child instance is keyed by the child's own ``key`` over the step's input, so a child already
run for that key (by its own trigger, or by another parent) is linked, not run again, and the
parent waits for it and reads its outputs (``/steps/<child step>/<output>`` of the child's
context). That is how quote-to-cash reuses customer onboarding instead of copying its steps.

``{{ /pointer }}`` in a template reads that document: a string that is exactly one reference takes
the value as it is (number, object ...), a reference inside longer text is interpolated as text.
``interlock check`` proves that each ``/steps/<id>/<output>`` names an earlier step and one of its
declared outputs (a compensation may also read its own step's outputs).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from router.config.models import (
    ROUTE_ID_PATTERN,
    FromSpec,
    Frozen,
    Predicate,
    RetryPolicy,
    ToSpec,
)
from router.durations import Duration
from router.pointer import Pointer

STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class TriggerSpec(FromSpec):
    """Which inbound messages start an instance, and the transforms to its canonical model."""

    transforms: list[str] = Field(
        default_factory=list,
        description="Registered transforms from the vendor payload to the canonical model",
    )


class InputSpec(Frozen):
    """How a step's request body is built from the context."""

    from_: str | dict[str, str] | None = Field(
        default=None,
        alias="from",
        description="JSON Pointer into the context taken as the transforms' input "
        "(`/trigger`, `/trigger/customer`), or a map of names to pointers whose values are "
        "handed to the transforms as one object (`{subscription: /trigger, order: "
        "/steps/current_order/record}`); omitted: `/trigger`",
    )
    transforms: list[str] = Field(
        default_factory=list, description="Registered transforms applied in order"
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields set on the result (templates); with no transforms and no `from`, "
        "these fields alone are the body",
    )

    @field_validator("from_")
    @classmethod
    def _check_from(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(value, dict):
            for name, pointer in value.items():
                if not name.isidentifier():
                    raise ValueError(f"input name {name!r} must be an identifier")
                Pointer(pointer)
            return value
        return None if value is None else Pointer(value).text

    def pointers(self) -> list[str]:
        """The context pointers ``from`` reads (none when omitted: the transforms read /trigger)."""
        if self.from_ is None:
            return []
        return list(self.from_.values()) if isinstance(self.from_, dict) else [self.from_]


class Invocation(Frozen):
    """What every call and child run shares: the input, the retry budget, each attempt's limit."""

    input: InputSpec = Field(default_factory=InputSpec, description="How the body is built")
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(max_attempts=5, initial=0.2, max=5.0, max_age=3600),
        description="Attempts for a transient failure; a permanent one fails at once",
    )
    timeout: Duration = Field(default=10.0, description="Each attempt's deadline (transient)")


class CallSpec(Invocation):
    """One call: a connector operation (or method + path) with its input."""

    call: ToSpec = Field(description="The connector and operation (or method and path)")


class StepSpec(Invocation):
    """One step of a workflow: a call (or a child workflow), the outputs read from its answer,
    an undo."""

    call: ToSpec | None = Field(
        default=None,
        description="The connector and operation (or method and path); or give `workflow`",
    )
    workflow: str | None = Field(
        default=None,
        pattern=ROUTE_ID_PATTERN,
        description="Run this workflow as a child, its trigger being the step's input; the "
        "child's `key` makes it run once per key (a child already run is linked, not re-run). "
        "The step waits for it (a parked child holds the step until an operator resolves it) "
        "and fails when the child ends compensated or cancelled. `output` pointers read the "
        "child's context (`/steps/<child step>/<output>`). No `compensate`: the child's own "
        "`on_failure` undoes or parks its steps",
    )
    id: str = Field(pattern=STEP_ID_PATTERN, description="snake_case, unique in the workflow")
    description: str = Field(default="", description="What the step does, for operators")
    when: list[Predicate] = Field(
        default_factory=list,
        description="Conditions on the context (pointers start at /trigger or /steps); "
        "a step whose conditions fail is skipped",
    )
    output: dict[str, str] = Field(
        default_factory=dict,
        description="Output name -> JSON Pointer into the JSON answer; later steps read "
        "`/steps/<id>/<name>`",
    )
    reply: list[str] = Field(
        default_factory=list,
        description="Transforms applied to the JSON answer before `output` and `expect` read it",
    )
    expect: list[Predicate] = Field(
        default_factory=list,
        description="Conditions on the answer (pointers into it); a failed one is a permanent "
        "failure of the step (e.g. nothing in stock)",
    )
    compensate: CallSpec | None = Field(
        default=None, description="How to undo this step's effect; omitted: nothing to undo"
    )

    @field_validator("output")
    @classmethod
    def _pointers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pointer in value.items():
            if not name.isidentifier():
                raise ValueError(f"output name {name!r} must be an identifier")
            Pointer(pointer)
        return value

    @model_validator(mode="after")
    def _call_or_workflow(self) -> StepSpec:
        if (self.call is None) == (self.workflow is None):
            raise ValueError("a step takes exactly one of `call` and `workflow`")
        if self.workflow is not None and (self.compensate or self.reply or self.expect):
            raise ValueError(
                "a `workflow` step takes no `compensate`, `reply` or `expect`: the child's own "
                "on_failure handles its steps, and its outputs are read by `output`"
            )
        return self

    def as_call(self) -> CallSpec:
        """This step as the call it makes (a ``call:`` step only)."""
        if self.call is None:
            raise ValueError(f"step {self.id} runs a workflow, not a call")
        return CallSpec(call=self.call, input=self.input, retry=self.retry, timeout=self.timeout)


class NotifySpec(ToSpec):
    """Where the exception notification goes when an instance parks or is compensated."""


class SlaSpec(Frozen):
    """The business objective: trigger (the webhook's receipt) to completion, or to a step."""

    objective: Duration = Field(description="Target time from the trigger's receipt")
    until: str | None = Field(
        default=None, description="A step id whose success ends the clock; omitted: completion"
    )


class WorkflowSpec(Frozen):
    """A durable multi-step workflow (a saga), started by an inbound message."""

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    kind: Literal["workflow"] = Field(description="Marks a workflow file")
    description: str = Field(default="", description="Free text for operators")
    trigger: TriggerSpec = Field(description="The message that starts an instance")
    key: str = Field(
        description="Business key template over the context (`{{ /trigger/id }}`); a second "
        "trigger with the same key is recorded against the first instance"
    )
    steps: list[StepSpec] = Field(min_length=1, description="Run in order, each exactly once")
    on_failure: Literal["compensate", "park"] = Field(
        default="park",
        description="compensate: undo finished steps in reverse order; park: stop for an operator",
    )
    notify: NotifySpec | None = Field(
        default=None, description="Exception notification when an instance fails"
    )
    sla: SlaSpec | None = Field(default=None, description="Business objective for the histogram")

    def step(self, step_id: str) -> StepSpec:
        return next(s for s in self.steps if s.id == step_id)
