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
import re
from typing import TYPE_CHECKING, Annotated, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from router.errors import ConflictError, UnavailableError, UnknownInstanceError
from router.http.admin_openapi import ID_PATTERN, AdminFeature, Handler, Operation
from router.http.problem import json_response
from router.ids import decode_id, encode_id
from router.logs import get_logger
from router.workflows.kind import WORKFLOW
from router.workflows.views import (
    InstanceDetail,
    InstanceList,
    InstanceSummary,
    WorkflowState,
    WorkflowStats,
    detail_of,
    stats_of,
    summary_of,
)

if TYPE_CHECKING:
    from router.workflows.service import Workflows

__all__ = ["ROUTE_ID", "WorkflowsAdmin"]
log = get_logger("interlock.admin")
M = TypeVar("M", bound=BaseModel)
ROUTE_ID = "{id:(?!stats$)[^/]+}"  # in aiohttp, ``/workflows/{id}`` would also match ``stats``
ACTOR = "admin-api"  # recorded as who acted when a command names nobody
_ID = re.compile(ID_PATTERN)


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


# -- handlers ------------------------------------------------------------------------------------


def _ok(model: BaseModel) -> web.Response:
    return json_response(model.model_dump(mode="json"))


class WorkflowsAdmin(AdminFeature):
    """The workflow endpoints, answering through the admin app's helpers and error type."""

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
