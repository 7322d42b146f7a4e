"""The admin API's workflow endpoints: instances (list, detail), per-workflow stats, commands.

The views (:func:`summary_of`, :func:`detail_of`, :func:`stats_of`) are plain functions of stored
instances, so ``interlock workflows ... --data-dir`` prints the API's JSON from a stopped router's
store. Reads run in the default executor like every admin read. Retry, skip and cancel go to the
orchestrator actor, the instances' only writer, which refuses (409) what does not apply.

:mod:`router.http.admin` imports this module, so its request helpers (the engine key, the error
type, the query and body parsers) are handed to :class:`WorkflowsAdmin` rather than imported back.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Literal, Protocol, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from router.errors import ConflictError, UnavailableError, UnknownInstanceError
from router.http.admin_openapi import ID_PATTERN, Handler, Operation
from router.http.problem import json_response
from router.ids import decode_id, encode_id
from router.logs import get_logger
from router.workflows.kind import WORKFLOW
from router.workflows.spec import WorkflowSpec
from router.workflows.state import Instance, State

if TYPE_CHECKING:
    from router.engine import Engine
    from router.workflows.service import Workflows

__all__ = ["ROUTE_ID", "WorkflowsAdmin", "detail_of", "stats_of", "summary_of"]
log = get_logger("interlock.admin")
M = TypeVar("M", bound=BaseModel)
ROUTE_ID = "{id:(?!stats$)[^/]+}"  # in aiohttp, ``/workflows/{id}`` would also match ``stats``
ACTOR = "admin-api"  # recorded as who acted when a command names nobody
_ID = re.compile(ID_PATTERN)

# The state machine's enums as literals, so the OpenAPI document lists their values inline.
WorkflowState = Literal[
    "running", "completed", "compensating", "compensated", "parked", "cancelled"
]
StepStatusName = Literal["pending", "running", "retrying", "succeeded", "failed", "skipped"]
UndoStatusName = Literal[
    "none", "running", "retrying", "done", "failed", "skipped", "not_compensable"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# -- requests ------------------------------------------------------------------------------------


class WorkflowQuery(_Frozen):
    workflow: str | None = Field(default=None, description="Instances of this workflow")
    state: WorkflowState | None = Field(default=None, description="Instances in this state")
    key: str | None = Field(default=None, description="Exact business key")
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many, newest first")


class CommandBody(_Frozen):
    """Why, recorded in the instance's timeline, and who acts (default ``admin-api``)."""

    reason: str = Field(default="", max_length=1000, description="Recorded in the timeline")
    by: str | None = Field(
        default=None, min_length=1, max_length=200, description="Who acts; null: admin-api"
    )


def _given(reason: str) -> str:
    if not reason.strip():
        raise ValueError("a reason is required: say why the step is skipped")
    return reason


class SkipBody(CommandBody):
    """Skipping gives up on a step's effect, so it needs a reason (kept as the step's note)."""

    # The pattern documents the rule; the validator enforces it with a message people can read.
    reason: Annotated[str, AfterValidator(_given)] = Field(
        max_length=1000, description="Why the step is skipped", json_schema_extra={"pattern": r"\S"}
    )


# -- responses -----------------------------------------------------------------------------------


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
    lists = {k: record[k] for k in ("input", "steps", "duplicates", "events")}
    return InstanceDetail.model_validate({**summary, **{k: record[k] for k in _DETAIL}, **lists})


def _rank(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile: no interpolation, so it is always a measured time."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else None


def _sla(spec: WorkflowSpec, times: list[float]) -> SlaStats | None:
    if spec.sla is None:
        return None
    ordered = sorted(times)
    met = sum(1 for t in ordered if t <= spec.sla.objective)  # as the orchestrator judges it
    return SlaStats(
        objective_s=spec.sla.objective,
        until=spec.sla.until,
        measured=len(ordered),
        met=met,
        missed=len(ordered) - met,
        p50_s=_rank(ordered, 0.5),
        p95_s=_rank(ordered, 0.95),
        max_s=ordered[-1] if ordered else None,
    )


def stats_of(specs: Mapping[str, WorkflowSpec], instances: Iterable[Instance]) -> WorkflowStats:
    """Configured workflows in file order, then removed ones that still have stored instances."""
    counts: dict[str, Counter[str]] = {}
    times: dict[str, list[float]] = {}
    steps: dict[str, list[str]] = {}
    for instance in instances:
        counts.setdefault(instance.workflow, Counter())[instance.state.value] += 1
        steps.setdefault(instance.workflow, [s.id for s in instance.steps])
        if instance.sla_seconds is not None:
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
            sla=_sla(spec, times.get(name, [])),
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


# -- handlers ------------------------------------------------------------------------------------


class QueryParser(Protocol):
    def __call__(self, request: web.Request, model: type[M], /) -> M: ...


class BodyParser(Protocol):
    def __call__(self, request: web.Request, model: type[M], /) -> Awaitable[M]: ...


def _ok(model: BaseModel) -> web.Response:
    return json_response(model.model_dump(mode="json"))


class WorkflowsAdmin:
    """The workflow endpoints, answering through the admin app's helpers and error type."""

    def __init__(
        self,
        engine: web.AppKey[Engine],
        error: Callable[[int, str, str], Exception],
        query: QueryParser,
        body: BodyParser,
    ) -> None:
        self._engine, self._error, self._query, self._body = engine, error, query, body

    def _workflows(self, request: web.Request) -> Workflows | None:
        """The running workflows; None when none are configured (lists are then empty)."""
        engine = request.app[self._engine]
        if engine.workflows is None and engine.config.specs(WORKFLOW):
            raise UnavailableError(
                "the workflows are not running (the router is starting or stopping)"
            )
        return engine.workflows

    def _instance_id(self, request: web.Request) -> str:
        text = request.match_info["id"]
        if not _ID.fullmatch(text):
            detail = "a workflow instance id has 26 Crockford base32 characters"
            raise self._error(400, "Bad Request", detail)
        return encode_id(decode_id(text))  # stored in upper case; lower case is accepted

    def _missing(self) -> Exception:
        return self._error(404, "Not Found", "no workflow instance with this id")

    async def list_instances(self, request: web.Request) -> web.Response:
        q = self._query(request, WorkflowQuery)
        workflows = self._workflows(request)
        found = [] if workflows is None else await workflows.query(**q.model_dump())
        return _ok(InstanceList(instances=[summary_of(i) for i in found]))

    async def stats(self, request: web.Request) -> web.Response:
        workflows = self._workflows(request)
        if workflows is None:
            return _ok(WorkflowStats(workflows=[]))
        specs = request.app[self._engine].config.specs(WORKFLOW)
        loop = asyncio.get_running_loop()
        # One pass over the store in the executor: instances are few next to messages.
        found = await loop.run_in_executor(None, lambda: stats_of(specs, workflows.store.scan()))
        return _ok(found)

    async def detail(self, request: web.Request) -> web.Response:
        instance_id = self._instance_id(request)
        workflows = self._workflows(request)
        found = None if workflows is None else await workflows.get(instance_id)
        if found is None:
            raise self._missing()
        return _ok(detail_of(found))

    async def _command(
        self, request: web.Request, action: str, model: type[CommandBody]
    ) -> web.Response:
        instance_id = self._instance_id(request)
        body = await self._body(request, model)
        workflows = self._workflows(request)
        if workflows is None:
            raise self._missing()
        actor, reason = body.by or ACTOR, body.reason.strip()
        try:
            summary = await workflows.command(action, instance_id, reason, actor)
        except UnknownInstanceError:
            raise self._missing() from None
        except ConflictError as exc:
            raise self._error(409, "Conflict", exc.detail) from None
        log.info("admin_workflow_" + action, instance=instance_id, by=actor, reason=reason)
        return _ok(InstanceSummary.model_validate(summary))

    async def retry(self, request: web.Request) -> web.Response:
        return await self._command(request, "retry", CommandBody)

    async def skip(self, request: web.Request) -> web.Response:
        return await self._command(request, "skip", SkipBody)

    async def cancel(self, request: web.Request) -> web.Response:
        return await self._command(request, "cancel", CommandBody)

    def operations(self) -> list[Operation]:
        tag, id_doc = "workflows", "A workflow instance id (26 characters, Crockford base32)"
        down = ("503", "The workflows are not running (the router is starting or stopping)")
        missing = ("404", "No such workflow instance")
        conflict = ("409", "The command does not apply to the instance's state")

        def command(
            action: str, handler: Handler, summary: str, body: type[CommandBody]
        ) -> Operation:
            return Operation(
                "POST", f"/workflows/{{id}}/{action}", handler, f"{action}WorkflowInstance",
                summary, InstanceSummary, tag, body=body, id_doc=id_doc,
                errors=(missing, conflict, down),
            )  # fmt: skip

        return [
            Operation("GET", "/workflows", self.list_instances, "listWorkflowInstances",
                      "Workflow instances, newest first", InstanceList, tag,
                      query=WorkflowQuery, errors=(down,)),
            Operation("GET", "/workflows/stats", self.stats, "getWorkflowStats",
                      "Each workflow: instances per state, SLA", WorkflowStats, tag,
                      errors=(down,)),
            Operation("GET", "/workflows/{id}", self.detail, "getWorkflowInstance",
                      "One instance: steps, input and timeline", InstanceDetail, tag,
                      id_doc=id_doc, errors=(missing, down)),
            command("retry", self.retry, "Retry a parked instance's failed step or undo",
                    CommandBody),
            command("skip", self.skip, "Skip a parked instance's failed step or undo (reason "
                    "required)", SkipBody),
            command("cancel", self.cancel, "Cancel a parked or completed instance: undo its "
                    "steps", CommandBody),
        ]  # fmt: skip
