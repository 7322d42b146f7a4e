"""Turning a workflow step into its request, and its answer into outputs: pure functions.

Everything here is deterministic in the instance's durable state, so a step re-run after a crash
sends the same body with the same idempotency key, and the target can deduplicate it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel

from router import telemetry
from router.connector import OutboundRequest
from router.errors import PermanentError, TemplateError
from router.ids import child_traceparent, new_traceparent
from router.pointer import Pointer
from router.registry import TransformSpec
from router.routing import predicate_holds
from router.runtime.request_builder import render_path, run_chain, to_json_bytes
from router.template import render
from router.workflows.spec import CallSpec, Invocation, StepSpec
from router.workflows.state import Instance

TRIGGER = "/trigger"


def step_idempotency_key(instance: Instance, step_id: str, phase: str) -> str:
    """Stable per (workflow, business key, step, do|undo): the same across retries and restarts."""
    raw = f"{instance.workflow}\x00{instance.key}\x00{step_id}\x00{phase}"
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def trace_parent(instance: Instance) -> str:
    """The traceparent the instance's calls descend from: its trigger's, whole (sampled flag
    included); an instance stored before it was kept has its trace id only (then sampled)."""
    return instance.traceparent or new_traceparent(instance.trace_id)


def trace_headers(instance: Instance, headers: dict[str, str]) -> dict[str, str]:
    """A call's headers with the trigger's ``tracestate``, carried unchanged (W3C), as a route
    delivery's are (router.runtime.request_builder)."""
    out = dict(headers)
    if instance.tracestate:
        out["tracestate"] = instance.tracestate
    return out


def call_traceparent(instance: Instance) -> str:
    """A call's traceparent: with spans on, the parent (the call's span replaces it, see
    router.runtime.outlet); off, a child of it here (same trace id and sampled flag)."""
    parent = trace_parent(instance)
    return parent if telemetry.enabled() else child_traceparent(parent)


def _source(from_: str | dict[str, str] | None, context: dict[str, Any]) -> Any:
    """The transforms' input: one pointer's value, or an object of several (``from: {a: /p}``)."""
    pointers = from_ if isinstance(from_, dict) else {"": from_ or TRIGGER}
    values = {}
    for name, pointer in pointers.items():
        value = Pointer(pointer).resolve(context)
        if value is None:
            raise PermanentError(f"input.from {pointer} has no value")
        values[name] = value
    return values if isinstance(from_, dict) else values[""]


def build_document(
    call: Invocation, context: dict[str, Any], transforms: dict[str, TransformSpec]
) -> Any:
    """The step's body as a JSON-ready value; raises PermanentError naming what is missing."""
    spec = call.input
    try:
        overlay = render(spec.set, context) if spec.set else {}
        if spec.from_ is None and not spec.transforms:
            return overlay
        source = _source(spec.from_, context)
        value = run_chain([transforms[name] for name in spec.transforms], source)
    except TemplateError as exc:
        raise PermanentError(f"input: {exc}") from None
    document = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    if overlay:
        if not isinstance(document, dict):
            raise PermanentError("input.set needs the transforms to produce a JSON object")
        document = {**document, **overlay}
    return document


def build_request(
    instance: Instance,
    step_id: str,
    call: CallSpec,
    phase: str,
    attempt: int,
    transforms: dict[str, TransformSpec],
) -> OutboundRequest:
    document = build_document(call, instance.context(), transforms)
    target = call.call
    return OutboundRequest(
        message_id=instance.id,
        route=f"{instance.workflow}/{step_id}" + ("/undo" if phase == "undo" else ""),
        method=target.method,
        path=render_path(target.path, document),
        # A plain GET carries no body: its input only fills the path (a lookup by id).
        body=b""
        if target.method == "GET" and target.operation is None
        else to_json_bytes(document),
        idempotency_key=step_idempotency_key(instance, step_id, phase),
        correlation_id=instance.correlation_id,
        # A child of the trigger's context; the orchestrator's step span replaces it when spans
        # are recorded, so the target's parent is the attempt (router.workflows.orchestrator).
        traceparent=child_traceparent(trace_parent(instance)),
        attempt=attempt,
        headers=trace_headers(instance, target.headers),
        operation=target.operation,
    )


def read_outputs(step: StepSpec, answer: Any) -> dict[str, Any]:
    """The step's declared outputs from a JSON answer (or a child's context); PermanentError
    naming the first that is missing."""
    outputs: dict[str, Any] = {}
    for name, pointer in step.output.items():
        value = Pointer(pointer).resolve(answer)
        if value is None:
            raise PermanentError(f"the answer has no {pointer} for output {name!r}")
        outputs[name] = value
    return outputs


def read_answer(
    step: StepSpec, body: bytes | None, transforms: dict[str, TransformSpec]
) -> dict[str, Any]:
    """The step's declared outputs from the target's answer; PermanentError if one is missing or
    an expectation fails (a retry would get the same answer)."""
    if not step.output and not step.expect:
        return {}
    try:
        answer: Any = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise PermanentError("the answer is not JSON, so its outputs cannot be read") from None
    if step.reply:
        answer = run_chain([transforms[name] for name in step.reply], answer)
        if isinstance(answer, BaseModel):
            answer = answer.model_dump(mode="json")
    for expectation in step.expect:
        if not predicate_holds(expectation, answer):
            found = Pointer(expectation.pointer).resolve(answer)
            raise PermanentError(
                f"expectation failed: {expectation.pointer} is {orjson.dumps(found).decode()}"
            )
    return read_outputs(step, answer)
