"""Operator commands on an instance: retry, skip, or cancel with compensation.

A pure transition on the instance's state (the orchestrator actor applies it, writes it, then
advances the instance), so what each command may do in each state is readable in one place.
"""

from __future__ import annotations

from router.errors import ConflictError
from router.workflows.state import Instance, State, StepStatus, UndoStatus

_PAST = {"retry": "retried", "skip": "skipped", "cancel": "cancelled"}


def operator_transition(instance: Instance, action: str, actor: str, reason: str) -> State:
    """Change the steps for ``action`` and return the state the instance moves to.

    Raises:
        ConflictError: The command does not apply to the instance in its state.
    """
    state = instance.state
    undo_failed = next((s for s in instance.steps if s.undo is UndoStatus.FAILED), None)
    failed = next((s for s in instance.steps if s.status is StepStatus.FAILED), None)
    detail = f"{actor}: {reason}" if reason else actor
    if action == "cancel":
        # A completed instance may be cancelled too: that reverses the whole business process.
        if state not in {State.PARKED, State.COMPLETED} or undo_failed is not None:
            raise ConflictError(f"a {state.value} instance cannot be cancelled")
        instance.record("operator_cancel", detail=detail)
        instance.cancelled, instance.finished_at = True, None
        return State.COMPENSATING
    if state is not State.PARKED:
        raise ConflictError(f"only a parked instance can be {_PAST[action]}; it is {state.value}")
    step = undo_failed or failed
    assert step is not None, "a parked instance has a failed step or compensation"
    instance.record(f"operator_{action}", step.id, detail=detail)
    if undo_failed is not None:  # parked while compensating: act on the compensation
        undo_failed.undo = UndoStatus.RETRYING if action == "retry" else UndoStatus.SKIPPED
        undo_failed.undo_attempts = 0
        return State.COMPENSATING
    assert failed is not None
    if action == "retry":  # a fresh attempt budget, the same idempotency key
        failed.status, failed.attempts, failed.started_at = StepStatus.RETRYING, 0, None
    else:
        failed.status, failed.note = StepStatus.SKIPPED, detail
    instance.failed_step = instance.reason = None
    return State.RUNNING
