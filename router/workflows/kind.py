"""The ``kind: workflow`` file: its model, its checks, and the trigger route it adds.

A workflow joins the config as two things: its spec (``config.specs(WORKFLOW)``), which the
orchestrator runs, and an ordinary route carrying its trigger messages to the orchestrator, so
that the trigger's acceptance, durability, dedupe and retries are the journal's like any message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.config.kinds import FileKind, register_file_kind
from router.config.models import RetryPolicy, RouteSpec
from router.workflows.check import WORKFLOW_FILES, workflow_problems
from router.workflows.spec import (
    CallSpec,
    InputSpec,
    SlaSpec,
    StepSpec,
    TriggerSpec,
    WorkflowSpec,
)

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig

TRIGGER_PREFIX = "workflow:"  # the connector name of a workflow's trigger route


def trigger_route(spec: WorkflowSpec) -> RouteSpec:
    """The route that carries a workflow's trigger messages to its orchestrator."""
    trigger = spec.trigger
    return RouteSpec.model_validate(
        {
            "id": spec.id,
            "description": f"trigger of workflow {spec.id}",
            "from": trigger.model_dump(by_alias=True, exclude={"transforms"}, exclude_unset=True),
            "steps": [
                *({"transform": name} for name in trigger.transforms),
                {"to": {"connector": TRIGGER_PREFIX + spec.id}},
            ],
            # Local and quick; a long budget only matters if the workflow store is full.
            "retry": RetryPolicy(max_attempts=100, initial=0.2, max=30.0).model_dump(),
        }
    )


def _children(data: object) -> list[str]:
    """The workflows a workflow file runs as children (``steps[].workflow``), as written."""
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return []
    return [
        s["workflow"] for s in steps if isinstance(s, dict) and isinstance(s.get("workflow"), str)
    ]


def _add(spec: WorkflowSpec, config: RouterConfig) -> None:
    config.routes[spec.id] = trigger_route(spec)


WORKFLOW: FileKind[WorkflowSpec] = register_file_kind(
    FileKind(
        name=WORKFLOW_FILES.name,
        title="Workflow (`kind: workflow`)",
        plural="workflows",
        model=WorkflowSpec,
        problems=workflow_problems,
        add=_add,
        refers=_children,
        docs=(
            ("`trigger:` of a workflow", TriggerSpec),
            ("`steps[]` of a workflow", StepSpec),
            ("`compensate:` of a step", CallSpec),
            ("`input:` of a step or compensation", InputSpec),
            ("`sla:` of a workflow", SlaSpec),
        ),
    )
)
