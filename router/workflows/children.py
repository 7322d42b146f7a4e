"""Child workflows: a ``workflow:`` step starts or links a child instance and waits for it.

The child is keyed by its own workflow's ``key`` over the step's input, so it runs once per key:
a child already run for that key (by its own trigger, or for another parent) is linked, not run
again. The parent step stays ``running`` with the child's id until the child completes (the step
succeeds with outputs read from the child's context) or ends compensated or cancelled (the step
fails, and the parent's ``on_failure`` applies). A parked child holds its parents until an
operator resolves it. Who waits for whom is in memory only: at a restart each parent's running
step names its child, and advancing the parent registers it again.

This is the orchestrator's (a mixin of :class:`~router.workflows.orchestrator.OrchestratorActor`):
the same single writer drives parents and children, so their transitions never race.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router.errors import PermanentError, TemplateError
from router.ids import encode_id, new_id_bytes
from router.registry import TransformSpec
from router.store.workflows import WorkflowStore
from router.template import render
from router.workflows.messages import Phase
from router.workflows.metrics import WorkflowMetrics
from router.workflows.plan import build_document, read_outputs
from router.workflows.spec import StepSpec, WorkflowSpec
from router.workflows.state import Instance, State, StepState, StepStatus


class ChildRuns:
    """The child-workflow half of the orchestrator; it needs the orchestrator's state and moves."""

    specs: dict[str, WorkflowSpec]
    store: WorkflowStore
    transforms: dict[str, TransformSpec]
    wf_metrics: WorkflowMetrics
    live: dict[str, Instance]
    clock: Callable[[], float]
    # child instance id -> the (parent instance, step) pairs waiting for it to settle
    _waiting: dict[str, set[tuple[str, str]]]

    def _advance(self, instance: Instance) -> None:
        raise NotImplementedError

    def _failed(self, instance: Instance, step: StepState, phase: Phase, reason: str) -> None:
        raise NotImplementedError

    def _succeeded(
        self,
        instance: Instance,
        spec: WorkflowSpec,
        step: StepState,
        phase: Phase,
        output: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    def _count(self, instance: Instance, new: State | None) -> None:
        raise NotImplementedError

    def _run_child(self, parent: Instance, step: StepState, step_spec: StepSpec) -> None:
        """Start or link the step's child instance, then wait for it (or settle at once)."""
        assert step_spec.workflow is not None  # a `workflow:` step
        child = self._child_of(parent, step) if step.child else None
        if child is None:
            try:
                child = self._start_child(parent, step, step_spec, step_spec.workflow)
            except PermanentError as exc:
                self._failed(parent, step, "do", str(exc))
                return
        self._waiting.setdefault(child.id, set()).add((parent.id, step.id))
        if child.state is not State.RUNNING:
            self._child_settled(child)  # already over (linked), or all its steps were skipped

    def _child_of(self, parent: Instance, step: StepState) -> Instance | None:
        child = self.live.get(step.child or "") or self.store.get(step.child or "")
        if child is None:
            parent.record("child_missing", step.id, detail=f"instance {step.child} is gone")
        return child

    def _start_child(
        self, parent: Instance, step: StepState, step_spec: StepSpec, workflow: str
    ) -> Instance:
        spec = self.specs[workflow]
        document = build_document(step_spec, parent.context(), self.transforms)
        inputs = {"trigger": document, "event": parent.input.get("event", {})}
        try:
            key = render(spec.key, inputs)
        except TemplateError as exc:
            raise PermanentError(f"child workflow {workflow}: no business key: {exc}") from None
        if isinstance(key, dict | list) or key in (None, ""):
            raise PermanentError(f"child workflow {workflow}: the business key is not a scalar")
        link = f"{parent.id}/{step.id}"
        child = Instance(
            id=encode_id(new_id_bytes()),
            workflow=workflow,
            key=str(key),
            trigger_message=parent.trigger_message,
            received_at=parent.received_at,  # the business clock started at the parent's trigger
            correlation_id=parent.correlation_id,
            trace_id=parent.trace_id,
            traceparent=parent.traceparent,  # the parent's trigger context, flags and state kept
            tracestate=parent.tracestate,
            input=inputs,
            steps=[StepState(s.id) for s in spec.steps],
            parents=[link],
            by_parent=True,  # its trigger_message is the parent's: its end settles no trigger
        )
        child.record("triggered", detail=f"by {parent.workflow} {link}")
        existing = self.store.create(child)
        if existing is None:
            self.live[child.id] = child
            self._count(child, None)
            self.wf_metrics.triggers.labels(workflow=workflow, outcome="started").inc()
        else:
            child = self.live.get(existing.id, existing)
            if link not in child.parents:
                child.parents.append(link)
                child.record("linked", detail=f"by {parent.workflow} {link}; not started again")
                self.store.save(child)
            self.wf_metrics.triggers.labels(workflow=workflow, outcome="duplicate").inc()
        now = self.clock()
        step.status, step.attempts, step.child = StepStatus.RUNNING, step.attempts + 1, child.id
        step.started_at = step.started_at or now
        step.note = f"{workflow} instance {child.id}"
        verb = "child_started" if existing is None else "child_linked"
        parent.record(verb, step.id, step.attempts, f"{workflow} instance {child.id} (key {key})")
        self.store.save(parent)
        if existing is None:
            self._advance(child)
        return child

    def _child_settled(self, child: Instance) -> None:
        """Tell the parents waiting for ``child`` how it ended (a parked child keeps them)."""
        waiting = self._waiting.pop(child.id, None)
        if not waiting:
            return
        if child.state is State.RUNNING or child.state is State.COMPENSATING:
            self._waiting[child.id] = waiting  # back to running (an operator's retry)
            return
        for parent_id, step_id in sorted(waiting):
            parent = self.live.get(parent_id)
            if parent is None or parent.state is not State.RUNNING:
                continue  # the parent was cancelled or parked meanwhile
            step = parent.step(step_id)
            if step.status is not StepStatus.RUNNING or step.child != child.id:
                continue
            self._parent_step_settled(parent, step, child)

    def _parent_step_settled(self, parent: Instance, step: StepState, child: Instance) -> None:
        spec = self.specs[parent.workflow]
        what = f"{child.workflow} instance {child.id}"
        if child.state is State.PARKED:
            self._waiting.setdefault(child.id, set()).add((parent.id, step.id))
            parent.record("child_parked", step.id, detail=f"{what} is parked: {child.reason}")
            self.store.save(parent)
            return
        if child.state is not State.COMPLETED:
            reason = f"{what} ended {child.state.value}: {child.reason or 'no reason given'}"
            self._failed(parent, step, "do", reason)
            return
        try:
            output = read_outputs(spec.step(step.id), child.context())
        except PermanentError as exc:
            self._failed(parent, step, "do", f"{what}: {exc}")
            return
        self._succeeded(parent, spec, step, "do", output)
