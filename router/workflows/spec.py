"""The workflow-file language: a trigger, ordered steps with compensations, a failure policy.

A workflow file sits in the routes folder beside the routes (``kind: workflow``; its id equals the
file stem). Step inputs are built from a *context* document::

    {"trigger": <the trigger's canonical model, as JSON>,
     "steps": {"<step id>": {<the step's declared outputs>}},
     "instance": {"id": "<instance id>", "key": "<business key>"}}

``{{ /pointer }}`` in a template reads that document: a string that is exactly one reference takes
the value as it is (number, object ...), a reference inside longer text is interpolated as text.
``interlock check`` proves that each ``/steps/<id>/<output>`` names an earlier step and one of its
declared outputs (a compensation may also read its own step's outputs).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

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

    from_: str | None = Field(
        default=None,
        alias="from",
        description="JSON Pointer into the context taken as the transforms' input "
        "(`/trigger`, `/trigger/customer`); omitted: `/trigger`",
    )
    transforms: list[str] = Field(
        default_factory=list, description="Registered transforms applied in order"
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields set on the result (templates); with no transforms and no `from`, "
        "these fields alone are the body",
    )

    _check_from = field_validator("from_")(lambda v: None if v is None else Pointer(v).text)


class CallSpec(Frozen):
    """One call: a connector operation (or method + path) with its input."""

    call: ToSpec = Field(description="The connector and operation (or method and path)")
    input: InputSpec = Field(default_factory=InputSpec, description="How the body is built")
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(max_attempts=5, initial=0.2, max=5.0, max_age=3600),
        description="Attempts for a transient failure; a permanent one fails at once",
    )
    timeout: Duration = Field(default=10.0, description="Each attempt's deadline (transient)")


class StepSpec(CallSpec):
    """One step of a workflow: a call, the outputs read from its answer, an undo."""

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
