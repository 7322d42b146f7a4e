"""The ingress app: ``POST /webhooks/{source}``, ``/livez``, ``/readyz`` and ``/metrics``.

The handler never awaits an actor: it awaits an asyncio future that the journal thread resolves
after the fsynced commit, so a 2xx always means the message is durable.
"""

from __future__ import annotations

import asyncio
import math

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.engine import Engine
from router.errors import IngressError, PayloadTooLargeError, UnavailableError
from router.http.problem import json_response, problem
from router.logs import get_logger

ENGINE = web.AppKey("engine", Engine)
log = get_logger("interlock.ingress")
MAX_BODY = 1024 * 1024
BODY_DEADLINE_S = 10.0


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLargeError(f"body exceeds {MAX_BODY} bytes")
    try:
        async with asyncio.timeout(BODY_DEADLINE_S):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(f"body exceeds {MAX_BODY} bytes") from None


async def webhook(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    source = request.match_info["source"]
    response = await _accept(engine, request, source)
    label = source if source in engine.sources else "_unknown"
    engine.metrics.ingress_requests.labels(source=label, status=str(response.status)).inc()
    return response


async def _accept(engine: Engine, request: web.Request, source: str) -> web.Response:
    try:
        body = await _read_body(request)
        ack = await engine.submit(source, body, request.headers)
    except IngressError as exc:
        return problem(exc.status, exc.title, exc.detail)
    except UnavailableError as exc:
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        return problem(503, exc.title, exc.detail, headers={"Retry-After": retry_after})
    except TimeoutError:
        return problem(408, "Request Timeout", "the body did not arrive in time")
    if ack.duplicate:
        return json_response({"id": ack.id, "duplicate": True}, status=200)
    return json_response({"id": ack.id}, status=202)


async def livez(_request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    if engine.is_ready:
        return json_response({"status": "ready", "recovered": engine.recovered})
    reason = "journal storage full" if engine.storage_full else "starting or draining"
    return problem(503, "Not ready", reason, headers={"Retry-After": "1"})


async def metrics(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    if engine.journal is not None:
        engine.metrics.journal_bytes.set(engine.journal.size_bytes())
    body = generate_latest(engine.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's HTTP errors (404, 405, 413) and any bug into problem+json, never a 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(
            exc.status,
            exc.reason,
            headers={k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")},
        )
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return problem(
            503,
            "Service Unavailable",
            "an internal error occurred; retry later",
            headers={"Retry-After": "1"},
        )


def create_app(engine: Engine) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[problem_middleware])
    app[ENGINE] = engine
    app.router.add_post("/webhooks/{source}", webhook)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
