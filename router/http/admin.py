"""The admin API: routes and counters, message search and timelines, dead letters, readiness.

It is served on its own listener (``admin_host:admin_port``), never on the ingress port. Every
request needs ``Authorization: Bearer <token>``; several tokens may be valid at once (rotation),
and each presented token is compared with all of them in constant time. Reads run in the default
executor (short LMDB read transactions), so a search never stalls ingress on the shared loop.
Replays, skips and purges go through the engine, so the journal actor stays the only writer.

Workflow instances (list, stats, detail, retry, skip, cancel) are served by
:mod:`router.http.admin_workflows`, with this module's auth, parsers and problem answers.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from router.cluster import dead_letters as cluster_dead
from router.engine import Engine
from router.errors import InterlockError, UnavailableError
from router.http import admin_openapi as api
from router.http.admin_auth import BearerAuth, resolve_admin_tokens
from router.http.admin_jobs import JobsAdmin
from router.http.admin_openapi import Handler, Operation
from router.http.admin_workflows import ROUTE_ID as WORKFLOW_ROUTE_ID
from router.http.admin_workflows import WorkflowsAdmin
from router.http.ingress import problem_middleware
from router.http.problem import json_response, problem
from router.ids import decode_id
from router.logs import get_logger
from router.store import queries
from router.store.journal import Journal

ENGINE = web.AppKey("admin_engine", Engine)
MAX_BODY = 64 * 1024
log = get_logger("interlock.admin")
__all__ = ["create_admin_app", "resolve_admin_tokens"]
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_ID = re.compile(api.ID_PATTERN)


class ApiError(InterlockError):
    """An admin request the router refuses, answered as problem+json with ``status``."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def _middleware(auth: BearerAuth) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not auth.allows(request.headers.get("Authorization", "")):
            return auth.refusal()
        try:
            return await handler(request)
        except ApiError as exc:
            return problem(exc.status, exc.title, exc.detail, **exc.extra)
        except UnavailableError as exc:
            retry_after = str(max(1, math.ceil(exc.retry_after)))
            return problem(503, exc.title, exc.detail, headers={"Retry-After": retry_after})

    return middleware


# -- helpers -------------------------------------------------------------------------------------


def _journal(request: web.Request) -> Journal:
    journal = request.app[ENGINE].journal
    if journal is None:
        raise UnavailableError("the journal is not open (the router is starting or stopping)")
    return journal


async def _read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a journal read in the default executor, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _bad(exc: ValidationError, where: str) -> ApiError:
    errors = [
        {"loc": ".".join(str(p) for p in e["loc"]) or where, "msg": e["msg"]}
        for e in exc.errors(include_url=False)
    ]
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
    return ApiError(400, "Bad Request", f"invalid {where}: {detail}", errors=errors)


def _query(request: web.Request, model: type[M]) -> M:
    raw: dict[str, str] = {}
    for name in set(request.query.keys()):
        values = request.query.getall(name)
        if len(values) > 1:
            raise ApiError(400, "Bad Request", f"query parameter {name!r} is given more than once")
        raw[name] = values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _bad(exc, "query") from None


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "Bad Request", "a JSON object body is required")
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _bad(exc, "body") from None


def _message_id(request: web.Request) -> bytes:
    text = request.match_info["id"]
    if not _ID.fullmatch(text):
        raise ApiError(400, "Bad Request", "a message id has 26 Crockford base32 characters")
    return decode_id(text)


def _ok(model: BaseModel) -> web.Response:
    return json_response(model.model_dump(mode="json"))


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: Any) -> int:
    return int(
        sum(
            value
            for labels, value in samples.get(name, [])
            if all(labels.get(k) in (v if isinstance(v, tuple) else (v,)) for k, v in match.items())
        )
    )


# -- handlers ------------------------------------------------------------------------------------


async def routes_overview(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    journal = _journal(request)
    pending = await _read(queries.pending_by_route, journal)
    unrouted = (await _read(journal.counts))["unrouted"]
    s = _samples(engine.metrics.registry)
    routes = []
    for route in engine.config.routes.values():
        types = route.from_.type
        rid = route.id
        routes.append(
            api.RouteInfo(
                id=rid,
                description=route.description,
                source=route.from_.source,
                types=[types] if isinstance(types, str) else list(types),
                connector=route.target.connector,
                delivered=_total(s, "interlock_deliveries_total", route=rid, outcome="delivered"),
                failed_attempts=_total(
                    s, "interlock_deliveries_total", route=rid, outcome=("transient", "permanent")
                ),
                retries=_total(s, "interlock_retries_total", route=rid),
                dead_lettered=_total(s, "interlock_dead_letters_total", route=rid),
                pending=pending.get(rid, 0),
                mailbox=_total(s, "interlock_mailbox_depth", actor=rid),
            )
        )
    sources = [
        api.SourceInfo(
            name=name,
            accepted=_total(s, "interlock_acks_total", source=name, outcome="accepted"),
            duplicates=_total(s, "interlock_acks_total", source=name, outcome="duplicate"),
            unrouted=_total(s, "interlock_unrouted_total", source=name),
        )
        for name in engine.config.sources
    ]
    return _ok(api.RoutesOverview(routes=routes, sources=sources, unrouted_journaled=unrouted))


async def search(request: web.Request) -> web.Response:
    q = _query(request, api.MessageQuery)
    items, cursor = await _read(queries.search_messages, _journal(request), **q.model_dump())
    return _ok(api.MessagePage(items=items, next_cursor=cursor))


async def detail(request: web.Request) -> web.Response:
    message_id = _message_id(request)
    found = await _read(queries.message_detail, _journal(request), message_id)
    if found is None:
        raise ApiError(404, "Not Found", "no message with this id")
    return _ok(found)


async def dead_letters(request: web.Request) -> web.Response:
    q = _query(request, api.DeadLetterQuery)
    cluster = request.app[ENGINE].cluster
    if cluster is not None:  # the cluster's, from the backbone, whichever instance owns them
        items, cursor = cluster_dead.page(await cluster.dead_letters(), **q.model_dump())
    else:
        items, cursor = await _read(queries.list_dead_letters, _journal(request), **q.model_dump())
    return _ok(api.DeadLetterPage(items=items, next_cursor=cursor))


async def _of_message(request: web.Request, route: str | None) -> list[queries.DeadLetter]:
    message_id = _message_id(request)
    cluster = request.app[ENGINE].cluster
    if cluster is not None:
        return [
            cluster_dead.to_model(raw)
            for raw in await cluster.dead_letters()
            if bytes(raw["id"]) == message_id and (route is None or raw["route"] == route)
        ]
    journal = _journal(request)
    if await _read(journal.message, message_id) is None:
        raise ApiError(404, "Not Found", "no message with this id")
    found = await _read(queries.dead_letters_of, journal, message_id)
    return [d for d in found if route is None or d.route == route]


async def dead_letter(request: web.Request) -> web.Response:
    found = await _of_message(request, None)
    if not found:
        raise ApiError(404, "Not Found", "this message has no dead letter")
    return _ok(api.MessageDeadLetters(id=found[0].id, items=found))


def _pairs(found: list[queries.DeadLetter]) -> list[tuple[bytes, str]]:
    return [(decode_id(d.id), d.route) for d in found]


async def replay_one(request: web.Request) -> web.Response:
    found = await _of_message(request, _query(request, api.RouteQuery).route)
    replayed = await request.app[ENGINE].replay(_pairs(found))
    log.info(
        "admin_replay", message_id=request.match_info["id"], matched=len(found), replayed=replayed
    )
    return _ok(api.ReplayResult(matched=len(found), replayed=replayed))


async def skip_one(request: web.Request) -> web.Response:
    route = _query(request, api.RouteQuery).route
    body = await _body(request, api.DeadLetterSkip)
    found = await _of_message(request, route)
    reason = body.reason.strip()
    skipped = await request.app[ENGINE].skip(_pairs(found), reason)
    log.info(
        "admin_skip",
        message_id=request.match_info["id"],
        matched=len(found),
        skipped=skipped,
        reason=reason,
    )
    return _ok(api.SkipResult(matched=len(found), skipped=skipped))


async def purge_one(request: web.Request) -> web.Response:
    found = await _of_message(request, _query(request, api.RouteQuery).route)
    purged = await request.app[ENGINE].purge(_pairs(found))
    log.info("admin_purge", message_id=request.match_info["id"], matched=len(found), purged=purged)
    return _ok(api.PurgeResult(matched=len(found), purged=purged))


def _collect(journal: Journal, f: api.DeadLetterFilter) -> list[queries.DeadLetter]:
    found: list[queries.DeadLetter] = []
    cursor: str | None = None
    while len(found) < f.limit:
        page, cursor = queries.list_dead_letters(
            journal,
            route=f.route,
            source=f.source,
            since=f.since,
            until=f.until,
            limit=min(1000, f.limit - len(found)),
            cursor=cursor,
        )
        found.extend(page)
        if cursor is None:
            break
    return found


async def _matching(request: web.Request, f: api.DeadLetterFilter) -> list[queries.DeadLetter]:
    cluster = request.app[ENGINE].cluster
    if cluster is None:
        return await _read(_collect, _journal(request), f)
    found, _ = cluster_dead.page(
        await cluster.dead_letters(limit=f.limit),
        route=f.route,
        source=f.source,
        since=f.since,
        until=f.until,
        limit=f.limit,
    )
    return found


async def replay_filter(request: web.Request) -> web.Response:
    f = await _body(request, api.DeadLetterFilter)
    found = await _matching(request, f)
    replayed = await request.app[ENGINE].replay(_pairs(found))
    log.info("admin_replay", filter=f.model_dump(), matched=len(found), replayed=replayed)
    return _ok(api.ReplayResult(matched=len(found), replayed=replayed))


async def purge_filter(request: web.Request) -> web.Response:
    f = await _body(request, api.DeadLetterFilter)
    found = await _matching(request, f)
    purged = await request.app[ENGINE].purge(_pairs(found))
    log.info("admin_purge", filter=f.model_dump(), matched=len(found), purged=purged)
    return _ok(api.PurgeResult(matched=len(found), purged=purged))


async def readiness(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    journal = _journal(request)
    s = _samples(engine.metrics.registry)
    mailboxes = {
        labels["actor"]: int(value) for labels, value in s.get("interlock_mailbox_depth", [])
    }
    return _ok(
        api.Readiness(
            ready=engine.is_ready,
            started=engine.started,
            draining=engine.draining,
            storage_full=engine.storage_full,
            recovered=engine.recovered,
            credit_in_use=engine.credit.in_use,
            credit_limit=engine.credit.limit,
            journal_size_bytes=await _read(journal.size_bytes),
            records=await _read(journal.counts),
            mailboxes=mailboxes,
        )
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def _version() -> str:
    try:
        return version("interlock")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


OPERATIONS = [
    Operation("GET", "/routes", routes_overview, "listRoutes", "Routes, sources and live counters",
              api.RoutesOverview, "routes"),
    Operation("GET", "/messages", search, "searchMessages", "Search messages (paged, id order)",
              api.MessagePage, "messages", query=api.MessageQuery),
    Operation("GET", "/messages/{id}", detail, "getMessage", "One message and its timeline",
              queries.MessageDetail, "messages"),
    Operation("GET", "/dead-letters", dead_letters, "listDeadLetters", "List dead letters (paged)",
              api.DeadLetterPage, "dead-letters", query=api.DeadLetterQuery),
    Operation("POST", "/dead-letters/replay", replay_filter, "replayDeadLetters",
              "Replay the dead letters matching a filter", api.ReplayResult, "dead-letters",
              body=api.DeadLetterFilter),
    Operation("POST", "/dead-letters/purge", purge_filter, "purgeDeadLetters",
              "Purge the dead letters matching a filter", api.PurgeResult, "dead-letters",
              body=api.DeadLetterFilter),
    Operation("GET", "/dead-letters/{id}", dead_letter, "getDeadLetters",
              "The dead letters of one message", api.MessageDeadLetters, "dead-letters"),
    Operation("DELETE", "/dead-letters/{id}", purge_one, "purgeDeadLetter",
              "Purge one message's dead letters", api.PurgeResult, "dead-letters",
              query=api.RouteQuery),
    Operation("POST", "/dead-letters/{id}/replay", replay_one, "replayDeadLetter",
              "Replay one message's dead letters", api.ReplayResult, "dead-letters",
              query=api.RouteQuery),
    Operation("POST", "/dead-letters/{id}/skip", skip_one, "skipDeadLetter",
              "Skip one message's dead letters (never delivered; reason required); the keys "
              "they hold go on", api.SkipResult, "dead-letters", query=api.RouteQuery,
              body=api.DeadLetterSkip),
    Operation("GET", "/readiness", readiness, "getReadiness", "Readiness, credit, journal",
              api.Readiness, "status"),
    Operation("GET", "/openapi.json", openapi, "getOpenApi", "This document",
              api.OpenApiDocument, "status"),
]  # fmt: skip
# The workflow and job endpoints live beside their handlers, one module per feature.
OPERATIONS += WorkflowsAdmin(ENGINE, ApiError, _query, _body).operations()
OPERATIONS += JobsAdmin(ENGINE, ApiError, _query, _body).operations()
OPENAPI = web.AppKey("admin_openapi", dict)
# In aiohttp, ``/dead-letters/{id}`` would also match the fixed ``replay`` and ``purge`` paths.
_ROUTE_ID = "{id:(?!replay$|purge$)[^/]+}"


def create_admin_app(engine: Engine, tokens: list[str]) -> web.Application:
    """The admin application for ``engine``; any of ``tokens`` is accepted as a bearer token."""
    auth = BearerAuth(tokens)
    app = web.Application(
        client_max_size=MAX_BODY, middlewares=[problem_middleware, _middleware(auth)]
    )
    app[ENGINE] = engine
    app[OPENAPI] = api.build_openapi(OPERATIONS, title="Interlock admin API", version=_version())
    for op in OPERATIONS:
        path = op.path
        if path.startswith("/dead-letters/{id}"):
            path = path.replace("{id}", _ROUTE_ID)
        elif path.startswith("/workflows/{id}"):
            path = path.replace("{id}", WORKFLOW_ROUTE_ID)
        app.router.add_route(op.method, path, op.handler)
    return app
