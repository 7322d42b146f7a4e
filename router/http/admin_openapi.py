"""The admin API's contract: request and response models, the operation table, the OpenAPI 3.1 doc.

The same pydantic models validate the query strings and bodies, serialize the answers and produce
the document served at ``GET /openapi.json``, so what is documented is what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from router.store.query_models import DeadLetter, MessageStatus, MessageSummary

if TYPE_CHECKING:
    from router.engine import Engine

REF = "#/components/schemas/{model}"
ID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"
DLQ_CURSOR_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}:.+$"
MAX_SECONDS = 100_000_000_000  # far beyond any id's 48-bit millisecond clock
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_Since = Field(default=None, ge=0, le=MAX_SECONDS, description="Unix seconds, inclusive")
_Until = Field(default=None, ge=0, le=MAX_SECONDS, description="Unix seconds, inclusive")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# -- requests ------------------------------------------------------------------------------------


class MessageQuery(_Frozen):
    status: MessageStatus | None = Field(default=None, description="A delivery in this state")
    route: str | None = Field(default=None, description="Has a delivery on this route")
    source: str | None = Field(default=None, description="Received from this source")
    since: float | None = _Since
    until: float | None = _Until
    correlation_id: str | None = Field(default=None, description="Exact correlation id")
    limit: int = Field(default=100, ge=1, le=1000, description="Page size")
    cursor: str | None = Field(
        default=None, pattern=ID_PATTERN, description="`next_cursor` of the previous page"
    )


class DeadLetterQuery(_Frozen):
    route: str | None = Field(default=None, description="Dead-lettered on this route")
    source: str | None = Field(default=None, description="Received from this source")
    since: float | None = _Since
    until: float | None = _Until
    limit: int = Field(default=100, ge=1, le=1000, description="Page size")
    cursor: str | None = Field(
        default=None, pattern=DLQ_CURSOR_PATTERN, description="`next_cursor` of the previous page"
    )


class RouteQuery(_Frozen):
    route: str | None = Field(default=None, description="Only this route; all when omitted")


def _whole(value: object) -> object:
    """JSON Schema counts ``5.0`` as an integer; strict validation does not, so convert it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class DeadLetterFilter(_Frozen):
    """Which dead letters to replay or purge; every given field must match (``{}``: all).

    Validated strictly (a JSON string is not a number here), unlike query strings.
    """

    route: str | None = None
    source: str | None = None
    since: float | None = _Since
    until: float | None = _Until
    limit: Annotated[int, BeforeValidator(_whole)] = Field(
        default=1000, ge=1, le=10000, description="At most this many"
    )


def _reason_given(reason: str) -> str:
    if not reason.strip():
        raise ValueError("a reason is required: say why the message is never delivered")
    return reason


class DeadLetterSkip(_Frozen):
    """Skipping gives up on a dead letter for good (it is never delivered), so it needs a reason,
    kept in the message's timeline. A key it held goes on: the held messages are delivered."""

    # The pattern documents the rule; the validator enforces it with a message people can read.
    reason: Annotated[str, AfterValidator(_reason_given)] = Field(
        max_length=1000,
        description="Why the message is not delivered",
        json_schema_extra={"pattern": r"\S"},
    )


# -- responses -----------------------------------------------------------------------------------


class ParamError(_Frozen):
    loc: str
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(frozen=True, extra="allow")
    type: str = Field(
        pattern=r"^https://interlock\.dev/problems/[a-z-]+$",
        description="The problem kind's URI; every kind is listed in docs/problems.md",
        examples=["https://interlock.dev/problems/not-found"],
    )
    title: str
    status: int
    detail: str = ""
    errors: list[ParamError] | None = None


class RouteInfo(_Frozen):
    id: str
    description: str
    source: str
    types: list[str]
    connector: str
    delivered: int = Field(description="Delivered since the process started")
    failed_attempts: int = Field(description="Failed attempts since the process started")
    retries: int = Field(description="Retries scheduled since the process started")
    dead_lettered: int = Field(description="Dead-lettered since the process started")
    pending: int = Field(description="Journaled deliveries not yet delivered or dead")
    mailbox: int = Field(description="Batches queued in the route actor's inbox")


class SourceInfo(_Frozen):
    name: str
    accepted: int = Field(description="Accepted since the process started")
    duplicates: int = Field(description="Duplicates acknowledged since the process started")
    unrouted: int = Field(description="Accepted with no matching route since the process started")


class RoutesOverview(_Frozen):
    routes: list[RouteInfo]
    sources: list[SourceInfo]
    unrouted_journaled: int = Field(description="Unrouted messages kept in the journal")


class MessagePage(_Frozen):
    items: list[MessageSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done")


class DeadLetterPage(_Frozen):
    items: list[DeadLetter]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done")


class MessageDeadLetters(_Frozen):
    id: str
    items: list[DeadLetter]


class ReplayResult(_Frozen):
    matched: int = Field(description="Dead letters that matched")
    replayed: int = Field(description="Requeued now (0 for ones already replayed)")


class PurgeResult(_Frozen):
    matched: int = Field(description="Dead letters that matched")
    purged: int = Field(description="Removed for good")


class SkipResult(_Frozen):
    matched: int = Field(description="Dead letters that matched")
    skipped: int = Field(description="Given up on now, their keys released (0: already gone)")


class Readiness(_Frozen):
    ready: bool = Field(description="Accepting traffic: started, not draining, storage not full")
    started: bool
    draining: bool = Field(description="SIGTERM received: /readyz answers 503")
    storage_full: bool
    recovered: int = Field(description="Deliveries reloaded from the journal at start")
    credit_in_use: int
    credit_limit: int
    journal_size_bytes: int
    records: dict[str, int] = Field(description="Entries per journal database")
    mailboxes: dict[str, int] = Field(description="Queued messages per actor inbox")


class OpenApiDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    openapi: Literal["3.1.0"]


# -- the operation table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One admin endpoint: how it is routed and how it is documented."""

    method: str
    path: str  # OpenAPI form; ``{id}`` is a message id
    handler: Handler
    operation_id: str
    summary: str
    response: type[BaseModel]
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    # Endpoints whose ``{id}`` names something else (a workflow instance) say so here, and may
    # document more or other error answers: (status, description) pairs, e.g. a command's 409.
    id_doc: str = "A message id (26 characters, Crockford base32)"
    errors: tuple[tuple[str, str], ...] = ()
    # Other path parameters (a job's name, a run's id): (name, description, pattern).
    path_params: tuple[tuple[str, str, str], ...] = ()
    # Other media types the 200 may answer in (a report as CSV): media type -> its schema.
    also: tuple[tuple[str, dict[str, Any]], ...] = ()


def _problem(description: str, ref: dict[str, Any], headers: dict[str, Any] | None = None) -> Any:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": ref}},
    }
    if headers:
        out["headers"] = headers
    return out


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema without its ``null`` branch: an absent parameter is the null."""
    out = {k: v for k, v in schema.items() if k not in ("anyOf", "title", "description")}
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        out.update(branches[0])
    elif branches:
        out["anyOf"] = branches
    if out.get("default", 0) is None:
        del out["default"]
    return out


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if "{id}" in op.path:
        params.append(
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": op.id_doc,
                "schema": {"type": "string", "pattern": ID_PATTERN},
            }
        )
    params.extend(
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": doc,
            "schema": {"type": "string", "pattern": pattern},
        }
        for name, doc, pattern in op.path_params
    )
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, field in schema["properties"].items():
            param = {"name": name, "in": "query", "required": name in required}
            if "description" in field:
                param["description"] = field["description"]
            params.append({**param, "schema": _query_schema(field)})
    return params


def build_openapi(operations: list[Operation], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``, schemas from the same pydantic models."""
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for op in operations:
        modes.append((op.response, "serialization"))
        if op.body is not None:
            modes.append((op.body, "validation"))
    refs, defs = models_json_schema(list(dict.fromkeys(modes)), ref_template=REF)
    problem = refs[(Problem, "serialization")]
    www = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
            }
        }
        for media, schema in op.also:
            responses["200"]["content"][media] = {"schema": schema}
        in_path = "{id}" in op.path or bool(op.path_params)
        if op.query is not None or op.body is not None or in_path:
            responses["400"] = _problem("Malformed id, parameter or body", problem)
        responses["401"] = _problem("Missing or invalid bearer token", problem, www)
        if "{id}" in op.path:
            responses["404"] = _problem("No such message (or no dead letter for it)", problem)
        if op.body is not None:
            responses["413"] = _problem("Body too large", problem)
        responses["503"] = _problem("The journal is not open yet, or is full", problem)
        if op.errors:
            responses.update({k: _problem(v, problem) for k, v in op.errors})
            responses = dict(sorted(responses.items()))
        spec: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": responses,
        }
        if params := _parameters(op):
            spec["parameters"] = params
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": refs[(op.body, "validation")]},
                },
            }
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Interlock's operator API. Every call needs `Authorization: Bearer`.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }


M = TypeVar("M", bound=BaseModel)


class QueryParser(Protocol):
    def __call__(self, request: web.Request, model: type[M], /) -> M: ...


class BodyParser(Protocol):
    def __call__(self, request: web.Request, model: type[M], /) -> Awaitable[M]: ...


class AdminFeature:
    """A feature's admin endpoints (workflows, jobs), beside their handlers.

    :mod:`router.http.admin` imports the feature modules, so its request helpers (the engine key,
    the error type, the query and body parsers) are handed in rather than imported back.
    """

    def __init__(
        self,
        engine: web.AppKey[Engine],
        error: Callable[[int, str, str], Exception],
        query: QueryParser,
        body: BodyParser,
    ) -> None:
        self._engine, self._error, self._query, self._body = engine, error, query, body
