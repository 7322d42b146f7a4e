"""The orchestrator actor: every workflow instance is a state machine it drives, durably.

One pykka actor owns the instance store, so each instance has a single writer and transitions
never race. Before a step's call it writes the step as ``running`` (attempt counted); the call
itself runs on the event loop with the connector's pool, limits and breaker; its answer comes back
as a :class:`Finished` message and is written before the next step starts. A crash between the two
writes leaves the step ``running``; on restart it is re-sent with the same idempotency key.

A ``workflow:`` step runs a child instance (:mod:`router.workflows.children`).

Cluster mode (``on_settled``): a trigger's backbone message stays unacked until its workflow is
done with it, so an owner that dies mid-workflow leaves it to the partition's next owner, which
runs the instance again from the start with the same step keys. ``on_settled`` (called on the
loop) gets the trigger message ids to ack: a duplicate trigger's at once, and an instance's own
trigger and duplicates when it ends completed, compensated or cancelled; never a parked one's.
At start the instances a previous run left unfinished are handed back (``HandBack``), not resumed.

Before any re-send the connector's key window is asked (:mod:`router.runtime.key_window`): a step
whose idempotency key was first sent longer ago than its target deduplicates fails permanently
with the reason, rather than risk a second customer or charge.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from opentelemetry.trace import Span, StatusCode

from router import telemetry
from router.alerts.kind import Alert
from router.errors import ConflictError, PermanentError, TemplateError, UnknownInstanceError
from router.ids import encode_id, new_id_bytes, normalize_traceparent
from router.logs import get_logger
from router.metrics import Metrics
from router.registry import TransformSpec
from router.routing import predicate_holds
from router.runtime.bridge import LoopBridge
from router.runtime.key_window import refusal
from router.runtime.outlet import Outlet
from router.runtime.retry import backoff_delay, give_up_reason
from router.runtime.supervision import SupervisedActor, tell_safely
from router.store.workflows import WorkflowStore
from router.template import render
from router.workflows.children import ChildRuns
from router.workflows.commands import operator_transition
from router.workflows.messages import (
    Command,
    Finished,
    HandBack,
    Notified,
    Phase,
    Resume,
    Trigger,
    Wake,
)
from router.workflows.metrics import WorkflowMetrics
from router.workflows.notify import notification_request, send_notification
from router.workflows.plan import build_request, read_answer, trace_parent
from router.workflows.spec import CallSpec, StepSpec, WorkflowSpec
from router.workflows.state import (
    ACTIVE,
    FINAL,
    Instance,
    State,
    StepState,
    StepStatus,
    UndoStatus,
)

log = get_logger("interlock.workflows")
_DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
_UNDONE = frozenset({UndoStatus.DONE, UndoStatus.SKIPPED, UndoStatus.NOT_COMPENSABLE})


class OrchestratorActor(ChildRuns, SupervisedActor):
    name = "orchestrator"

    def __init__(
        self,
        specs: dict[str, WorkflowSpec],
        store: WorkflowStore,
        outlets: dict[str, Outlet],
        transforms: dict[str, TransformSpec],
        bridge: LoopBridge,
        metrics: Metrics,
        workflow_metrics: WorkflowMetrics,
        counts: Counter[tuple[str, str]],
        alert: Alert | None = None,
        clock: Callable[[], float] = time.time,
        on_settled: Callable[[list[str]], None] | None = None,
    ) -> None:
        super().__init__(metrics)
        # Cluster mode: told (on the loop) which trigger messages the workflows are done with.
        self.on_settled = on_settled
        self.alert = alert  # parked instances and SLA misses reach the operator's alerts
        self.clock = clock  # the engine's wall clock: key windows are judged by it
        self.specs = specs
        self.store = store
        self.outlets = outlets
        self.transforms = transforms
        self.bridge = bridge
        self.wf_metrics = workflow_metrics
        self.live: dict[str, Instance] = {}  # running and compensating: the rest is in the store
        self._inflight: set[tuple[str, str, str]] = set()  # (instance, step, phase) being called
        # child instance id -> the (parent instance, step) pairs waiting for it to settle
        self._waiting: dict[str, set[tuple[str, str]]] = {}
        self.counts = counts  # shared with the metrics collector, which only reads it
        self._rng = random.Random()  # noqa: S311 - retry jitter, not cryptography

    # -- dispatch --------------------------------------------------------------------------------

    def handle(self, message: object) -> None:
        match message:
            case Trigger():
                self._trigger(message)
            case Finished():
                self._finished(message)
            case Wake(instance_id):
                instance = self.live.get(instance_id)
                if instance is not None:
                    self._advance(instance)
            case Notified(instance_id, error):
                self._notified(instance_id, error)
            case Command():
                self._command(message)
            case Resume(done):
                done(self._resume())
            case HandBack(done):
                done(self._hand_back())

    def on_crash(self, message: object, exc: Exception) -> None:
        # The instance's last durable state is intact; a restart resumes it. Answer the caller.
        if isinstance(message, Trigger | Command):
            message.reply(None, exc)

    # -- triggers --------------------------------------------------------------------------------

    def _trigger(self, t: Trigger) -> None:
        spec = self.specs[t.workflow]
        try:
            canonical = orjson.loads(t.body)
            inputs = {"trigger": canonical, "event": t.event}
            key = render(spec.key, inputs)
        except (orjson.JSONDecodeError, TemplateError) as exc:
            t.reply(None, PermanentError(f"workflow {spec.id}: no business key: {exc}"))
            return
        if isinstance(key, dict | list) or key in (None, ""):
            t.reply(None, PermanentError(f"workflow {spec.id}: the business key is not a scalar"))
            return
        traceparent = normalize_traceparent(t.traceparent)
        instance = Instance(
            id=encode_id(new_id_bytes()),
            workflow=spec.id,
            key=str(key),
            trigger_message=t.message_id,
            received_at=t.received_at,
            correlation_id=t.correlation_id,
            trace_id=traceparent[3:35] if traceparent else None,
            input=inputs,
            steps=[StepState(s.id) for s in spec.steps],
            traceparent=traceparent,
            tracestate=t.tracestate if traceparent else None,  # W3C: no state without a parent
        )
        instance.record("triggered", detail=f"message {t.message_id}")
        existing = self.store.create(instance)
        if existing is None:
            self.live[instance.id] = instance
            self._count(instance, None)
            self.wf_metrics.triggers.labels(workflow=spec.id, outcome="started").inc()
            t.reply(instance.id, None)
            self._advance(instance)
            return
        first = self.live.get(existing.id, existing)
        seen = {first.trigger_message, *(d["message_id"] for d in first.duplicates)}
        if t.message_id not in seen:  # a redelivery of a message already recorded is not news
            first.duplicates.append({"message_id": t.message_id, "received_at": t.received_at})
            first.record("duplicate_trigger", detail=f"message {t.message_id}; not started again")
            self.store.save(first)
            self.wf_metrics.triggers.labels(workflow=spec.id, outcome="duplicate").inc()
        t.reply(first.id, None)
        # The first trigger owns the instance: a duplicate's message is done. A redelivery of the
        # owner's own message (say a parked instance's) waits for the instance to end.
        own = not first.by_parent and t.message_id == first.trigger_message
        if not own or first.state in FINAL:
            self._settled([t.message_id])

    # -- forward and backward --------------------------------------------------------------------

    def _advance(self, instance: Instance) -> None:
        spec = self.specs[instance.workflow]
        pairs = list(zip(spec.steps, instance.steps, strict=True))
        if instance.state is State.RUNNING:
            for step_spec, step in pairs:
                if step.status in _DONE:
                    continue
                if step.status is StepStatus.PENDING and not self._applies(step_spec, instance):
                    step.status, step.note = StepStatus.SKIPPED, "condition not met"
                    instance.record("step_skipped", step.id, detail=step.note)
                    continue
                if step.status is StepStatus.FAILED:
                    return
                if step_spec.workflow is not None:
                    self._run_child(instance, step, step_spec)
                else:
                    self._attempt(instance, step, step_spec.as_call(), "do")
                return
            self._finish(instance, State.COMPLETED)
        elif instance.state is State.COMPENSATING:
            for step_spec, step in reversed(pairs):
                if step.status is not StepStatus.SUCCEEDED or step.undo in _UNDONE:
                    continue
                if step_spec.compensate is None:
                    step.undo = UndoStatus.NOT_COMPENSABLE
                    detail = (
                        "a child workflow: its own on_failure handles its steps"
                        if step_spec.workflow
                        else "no compensation defined"
                    )
                    instance.record("not_compensable", step.id, detail=detail)
                    continue
                self._attempt(instance, step, step_spec.compensate, "undo")
                return
            self._finish(instance, State.CANCELLED if instance.cancelled else State.COMPENSATED)

    def _applies(self, step_spec: StepSpec, instance: Instance) -> bool:
        if not step_spec.when:
            return True
        context = instance.context()
        return all(predicate_holds(p, context) for p in step_spec.when)

    def _attempt(self, instance: Instance, step: StepState, call: CallSpec, phase: Phase) -> None:
        if (instance.id, step.id, phase) in self._inflight:
            return  # its answer is on the way; never two attempts of one step at once
        attempt = (step.attempts if phase == "do" else step.undo_attempts) + 1
        try:
            request = build_request(instance, step.id, call, phase, attempt, self.transforms)
        except PermanentError as exc:
            self._failed(instance, step, phase, str(exc))
            return
        now = self.clock()
        outlet = self.outlets[call.call.connector]
        first_sent = step.first_sent_at if phase == "do" else step.undo_started_at
        refused = refusal(outlet.connector, request, first_sent, now)
        if refused is not None:
            self._failed(instance, step, phase, refused)
            return
        if phase == "do":
            step.status, step.attempts = StepStatus.RUNNING, attempt
            step.started_at = step.started_at or now
            step.first_sent_at = step.first_sent_at or now
        else:
            step.undo, step.undo_attempts = UndoStatus.RUNNING, attempt
            step.undo_started_at = step.undo_started_at or now
        instance.record("undo_started" if phase == "undo" else "step_started", step.id, attempt)
        self.store.save(instance)  # durable before the effect
        self._inflight.add((instance.id, step.id, phase))
        me = self.actor_ref
        instance_id = instance.id
        parent, tracestate = trace_parent(instance), instance.tracestate
        attributes = {
            "interlock.workflow": instance.workflow,
            "interlock.instance_id": instance_id,
            "interlock.step": step.id,
            "interlock.phase": phase,
            "interlock.attempt": attempt,
        }

        async def run() -> None:
            # The attempt's span, a child of the trigger's context: the outlet's deliver span is
            # its child, so the target's traceparent names a recorded span. Ended by _finished.
            span = telemetry.start(
                "interlock.workflow.step", parent, tracestate, attributes=attributes
            )
            sent = request
            if span is not None:
                sent = replace(request, traceparent=telemetry.span_traceparent(span))
            result = await outlet.call(sent, call.timeout)
            finished = Finished(
                instance_id,
                step.id,
                phase,
                attempt,
                result.body,
                result.error,
                result.seconds,
                span,
            )
            tell_safely(me, finished)

        self.bridge.spawn(run())

    def _finished(self, f: Finished) -> None:
        outcome = "crashed"  # _settle raised: the actor restarts and resumes the instance
        try:
            outcome = self._settle(f)
        finally:
            if f.span is not None:
                _end_span(f.span, outcome)

    def _settle(self, f: Finished) -> str:
        """Apply one attempt's answer; its outcome (``stale`` when it no longer applies)."""
        self._inflight.discard((f.instance_id, f.step_id, f.phase))
        instance = self.live.get(f.instance_id)
        if instance is None:
            return "stale"
        spec = self.specs[instance.workflow]
        step_spec, step = spec.step(f.step_id), instance.step(f.step_id)
        expected = StepStatus.RUNNING if f.phase == "do" else UndoStatus.RUNNING
        current = step.status if f.phase == "do" else step.undo
        attempts = step.attempts if f.phase == "do" else step.undo_attempts
        if current is not expected or attempts != f.attempt:
            return "stale"  # an answer from an attempt before an operator's retry
        error = f.error
        output: dict[str, Any] = {}
        if error is None and f.phase == "do":
            try:
                output = read_answer(step_spec, f.body, self.transforms)
            except PermanentError as exc:
                error = exc
        outcome = "ok" if error is None else type(error).__name__.removesuffix("Error").lower()
        self.wf_metrics.step_seconds.labels(
            workflow=spec.id, step=step.id, phase=f.phase, outcome=outcome
        ).observe(f.seconds)
        if error is None:
            self._succeeded(instance, spec, step, f.phase, output)
        elif isinstance(error, PermanentError):
            self._failed(instance, step, f.phase, str(error))
        else:
            retry_after = getattr(error, "retry_after", None)
            self._retry_later(instance, step_spec, step, f.phase, str(error), retry_after)
        return outcome

    def _succeeded(
        self,
        instance: Instance,
        spec: WorkflowSpec,
        step: StepState,
        phase: Phase,
        output: dict[str, Any],
    ) -> None:
        if phase == "do":
            step.status, step.output, step.error = StepStatus.SUCCEEDED, output, None
            step.finished_at = time.time()
            instance.record("step_succeeded", step.id, step.attempts)
            if spec.sla is not None and spec.sla.until == step.id:
                self._sla(instance, spec)
        else:
            step.undo, step.undo_error = UndoStatus.DONE, None
            instance.record("step_compensated", step.id, step.undo_attempts)
        self.store.save(instance)
        self._advance(instance)

    def _retry_later(
        self,
        instance: Instance,
        step_spec: StepSpec,
        step: StepState,
        phase: Phase,
        reason: str,
        retry_after: float | None,
    ) -> None:
        call = step_spec if phase == "do" else step_spec.compensate
        assert call is not None
        attempts = step.attempts if phase == "do" else step.undo_attempts
        delay = backoff_delay(call.retry, attempts, retry_after, self._rng)
        age = self.clock() - (step.started_at or instance.created_at)
        give_up = give_up_reason(call.retry, attempts, age, delay)
        if give_up is not None:
            self._failed(instance, step, phase, f"{reason} ({give_up})")
            return
        if phase == "do":
            step.status, step.error = StepStatus.RETRYING, reason
        else:
            step.undo, step.undo_error = UndoStatus.RETRYING, reason
        event = "undo_retry" if phase == "undo" else "step_retry"
        instance.record(event, step.id, attempts, f"{reason}; next attempt in {delay:.2f}s")
        self.store.save(instance)
        self.bridge.call_later(delay, tell_safely, self.actor_ref, Wake(instance.id))

    def _failed(self, instance: Instance, step: StepState, phase: Phase, reason: str) -> None:
        spec = self.specs[instance.workflow]
        if phase == "do":
            step.status, step.error, step.finished_at = StepStatus.FAILED, reason, time.time()
            instance.failed_step = step.id
            instance.reason = f"step {step.id} failed: {reason}"
            instance.record("step_failed", step.id, step.attempts, reason)
            if spec.on_failure == "compensate":
                self._set_state(instance, State.COMPENSATING)
                instance.record("compensating", detail="on_failure: compensate")
                self.store.save(instance)
                self._advance(instance)
                return
        else:
            step.undo, step.undo_error = UndoStatus.FAILED, reason
            instance.reason = f"compensation of {step.id} failed: {reason}"
            instance.record("undo_failed", step.id, step.undo_attempts, reason)
        self._set_state(instance, State.PARKED)
        instance.record("parked", step.id, detail="waiting for an operator: retry, skip or cancel")
        self._missed(instance, spec, "parked before the end of its SLA")
        if self.alert is not None:
            self.alert(
                "parked", instance.workflow, instance.id, instance.key, instance.reason or ""
            )
        self._notify(instance)
        self._child_settled(instance)

    def _finish(self, instance: Instance, state: State) -> None:
        spec = self.specs[instance.workflow]
        instance.finished_at = time.time()
        self._set_state(instance, state)
        instance.record(state.value)
        if state is State.COMPLETED and instance.sla_seconds is None and spec.sla is not None:
            self._sla(instance, spec)
        elif state is not State.COMPLETED:
            self._missed(instance, spec, f"{state.value} before the end of its SLA")
        if state is State.COMPENSATED:
            self._notify(instance)
        else:
            self.store.save(instance)
        self._settled(instance.settles())  # durable first: a crash now reruns it, deduplicated
        self._child_settled(instance)

    def _settled(self, trigger_messages: list[str]) -> None:
        if self.on_settled is not None and trigger_messages:
            self.bridge.call(self.on_settled, trigger_messages)

    def _missed(self, instance: Instance, spec: WorkflowSpec, why: str) -> None:
        """An instance that will not reach its SLA's end in time is a miss now, counted once:
        a parked order waiting for an operator is exactly what the SLA is about."""
        if spec.sla is None or instance.sla_seconds is not None or instance.sla_missed:
            return
        instance.sla_missed = why
        self.wf_metrics.sla_total.labels(workflow=spec.id, met="false").inc()
        instance.record("sla_missed", detail=why)
        if self.alert is not None:
            self.alert("sla_missed", spec.id, instance.id, instance.key, why)

    def _sla(self, instance: Instance, spec: WorkflowSpec) -> None:
        assert spec.sla is not None
        instance.sla_seconds = time.time() - instance.received_at
        if instance.sla_missed:  # counted as a miss when it parked; its time is kept, not recounted
            instance.record("sla_reached", detail=f"{instance.sla_seconds:.3f}s, after an operator")
            return
        met = instance.sla_seconds <= spec.sla.objective
        if not met and self.alert is not None:
            late = f"{instance.sla_seconds:.3f}s, over its objective of {spec.sla.objective:g}s"
            self.alert("sla_missed", spec.id, instance.id, instance.key, late)
        self.wf_metrics.sla_seconds.labels(workflow=spec.id).observe(instance.sla_seconds)
        self.wf_metrics.sla_total.labels(workflow=spec.id, met=str(met).lower()).inc()
        verdict = "met" if met else "missed"
        instance.record(
            "sla_" + verdict, detail=f"{instance.sla_seconds:.3f}s of {spec.sla.objective:g}s"
        )

    # -- state bookkeeping -----------------------------------------------------------------------

    def _set_state(self, instance: Instance, state: State) -> None:
        self._count(instance, state)
        instance.state = state
        if state not in ACTIVE:  # final, parked or handed back: the rest is in the store
            self.live.pop(instance.id, None)
        else:
            self.live[instance.id] = instance

    def _count(self, instance: Instance, new: State | None) -> None:
        if new is None:
            self.counts[(instance.workflow, instance.state.value)] += 1
            return
        self.counts[(instance.workflow, instance.state.value)] -= 1
        self.counts[(instance.workflow, new.value)] += 1

    # -- notifications ---------------------------------------------------------------------------

    def _notify(self, instance: Instance) -> None:
        spec = self.specs[instance.workflow]
        instance.notify_pending = spec.notify is not None
        self.store.save(instance)
        if spec.notify is None:
            return
        outlet = self.outlets[spec.notify.connector]
        request = notification_request(spec, instance)
        self.bridge.spawn(send_notification(outlet, request, self.actor_ref, instance.id))

    def _notified(self, instance_id: str, error: str | None) -> None:
        instance = self.live.get(instance_id) or self.store.get(instance_id)
        if instance is None:
            return
        instance.notify_pending = False
        instance.notifications += 1
        detail = f"notification failed: {error}" if error else "exception notification sent"
        instance.record("notify_failed" if error else "notified", detail=detail)
        self.store.save(instance)

    # -- operators -------------------------------------------------------------------------------

    def _command(self, c: Command) -> None:
        instance = self.live.get(c.instance_id) or self.store.get(c.instance_id)
        if instance is None:
            c.reply(None, UnknownInstanceError(c.instance_id))
            return
        if instance.workflow not in self.specs:
            c.reply(None, ConflictError(f"workflow {instance.workflow!r} is no longer configured"))
            return
        try:
            self._apply(instance, c)
        except ConflictError as exc:
            c.reply(None, exc)
            return
        self.store.save(instance)
        c.reply(instance.summary(), None)
        self._advance(instance)

    def _apply(self, instance: Instance, c: Command) -> None:
        self._set_state(instance, operator_transition(instance, c.action, c.actor, c.reason))

    # -- restart ---------------------------------------------------------------------------------

    def _resume(self) -> int:
        self.counts.clear()
        self.counts.update(self.store.counts())
        resumed = self.store.active()
        for instance in resumed:
            if instance.workflow not in self.specs:
                log.warning("workflow_removed", instance=instance.id, workflow=instance.workflow)
                continue
            self.live[instance.id] = instance
            instance.record("resumed", detail="after a restart")
            self._advance(instance)
        for parked in self.store.query(state=State.PARKED.value, limit=10_000):
            if parked.notify_pending and parked.workflow in self.specs:
                self._notify(parked)
        log.info("workflows_resumed", count=len(resumed))
        return len(resumed)

    def _hand_back(self) -> int:
        """Cluster mode, at start instead of :meth:`_resume`: every unfinished instance here is
        handed back. Its trigger was never acked, so the backbone redelivers it to the owner of
        its partition (maybe this instance), which starts it again, the same step keys making
        what already took effect a no-op at the targets; it frees its key for that new run."""
        handed = self.store.hand_back(_mark_handed_back)
        for instance in handed:
            self.live.pop(instance.id, None)
        self.counts.clear()
        self.counts.update(self.store.counts())
        log.info("workflows_handed_back", count=len(handed))
        return len(handed)


def _mark_handed_back(instance: Instance) -> None:
    instance.state = State.HANDED_BACK
    instance.finished_at = time.time()
    instance.record(
        "handed_back",
        detail="cluster mode: left at a restart to the owner of its trigger's partition, "
        "which runs it again",
    )


def _end_span(span: Span, outcome: str) -> None:
    """End a step attempt's span with its outcome: ``ok``, ``stale`` (no longer applies), or the
    error's kind (``transient``, ``permanent``, ...)."""
    span.set_attribute("interlock.outcome", outcome)
    if outcome not in {"ok", "stale"}:
        span.set_status(StatusCode.ERROR, outcome)
    span.end()
