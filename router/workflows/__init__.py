"""Durable workflows (sagas): workflow files, the orchestrator actor, instance state."""

from router.workflows.spec import WorkflowSpec
from router.workflows.state import Instance, State, StepStatus, UndoStatus

__all__ = ["Instance", "State", "StepStatus", "UndoStatus", "WorkflowSpec"]
