"""The ingress app: ``POST /webhooks/{source}``, ``/livez``, ``/readyz`` and ``/metrics``.

The handler never awaits an actor: it awaits an asyncio future that the journal thread resolves
after the fsynced commit, so a 2xx always means the message is durable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.engine import Engine
from router.errors import (
    BadRequestError,
    IngressError,
    PayloadTooLargeError,
    RequestTimeoutError,
    SignatureError,
    UnavailableError,
    UnknownSourceError,
    UnsupportedMediaTypeError,
    UnverifiedSourceError,
    UpstreamError,
)
from router.http.problem import PROBLEM_TYPE, json_response, problem, problem_body
from router.logs import get_logger
from router.request_reply.service import Caller
from router.settings import Settings

ENGINE = web.AppKey("engine", Engine)


log = get_logger("interlock.ingress")
Accept = Callable[[], Awaitable[web.Response]]
JSON_TYPES = frozenset({"", "application/json", "text/json", "text/plain"})


async def _read_body(request: web.Request, settings: Settings) -> bytes:
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise PayloadTooLargeError(f"body exceeds {settings.max_body_bytes} bytes")
    try:
        # client_max_size counts decompressed bytes, so a gzip bomb stops here too.
        if request.content.is_eof():
            return await request.read()  # already all buffered: no wait, so no deadline to arm
        async with asyncio.timeout(settings.body_timeout_s):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(f"body exceeds {settings.max_body_bytes} bytes") from None
    except RequestPayloadError:
        raise BadRequestError("the body could not be read or decompressed") from None
    except TimeoutError:
        raise RequestTimeoutError("the body did not arrive in time") from None
    except ConnectionError:  # the sender hung up mid-body: nothing was accepted, nobody to answer
        log.info("client_disconnected", path=request.path, remote=request.remote)
        raise BadRequestError("the connection closed before the body arrived") from None


def _check_unverified_peer(engine: Engine, source: str, request: web.Request) -> None:
    """A source that verifies nothing takes loopback peers only, or its ``allow_unverified_from``.

    Anyone who can reach it could otherwise post events as the vendor.
    """
    handler = engine.sources[source]
    if handler.verifier is not None:
        return
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%", 1)[0])
    except ValueError:
        peer = None  # a Unix socket: local
    if peer is None or peer.is_loopback:
        return
    config = engine.config.sources.get(source)
    allowed = config.spec.allow_unverified_from if config is not None else []
    if any(peer.version == net.version and peer in net for net in allowed):
        return
    log.info("unverified_peer_refused", source=source, remote=str(peer))
    raise UnverifiedSourceError(
        f"source {source!r} verifies no signature: it accepts loopback peers only "
        "(or the networks in its allow_unverified_from)"
    )


def _check_json_content_type(request: web.Request) -> None:
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaTypeError(f"content type {media!r} is not JSON")


async def _answer(engine: Engine, source: str, accept: Accept) -> web.Response:
    try:
        response = await accept()
    except SignatureError as exc:
        # RFC 9110 11.6.1: a 401 names the scheme that would be accepted.
        headers = {"WWW-Authenticate": _challenge(engine, source)}
        response = problem(exc.status, exc.title, exc.detail, headers=headers)
    except IngressError as exc:
        response = problem(exc.status, exc.title, exc.detail)
    except UnavailableError as exc:
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        response = problem(503, exc.title, exc.detail, headers={"Retry-After": retry_after})
    known = source in engine.sources or source.removeprefix("api:") in engine.request_reply
    label = source if known else "_unknown"
    engine.metrics.child(engine.metrics.ingress_requests, label, str(response.status)).inc()
    return response


def _challenge(engine: Engine, source: str) -> str:
    config = engine.config.sources.get(source)
    verify = config.spec.verify if config is not None else None
    scheme = verify.scheme if verify is not None else "Signature"
    return f'{scheme} realm="{source}"'


async def webhook(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    source = request.match_info["source"]

    async def accept() -> web.Response:
        handler = engine.sources.get(source)
        if handler is None or handler.format in ("internal", "files"):  # not reachable by HTTP
            raise UnknownSourceError(f"no source named {source!r}")
        _check_unverified_peer(engine, source, request)
        _check_json_content_type(request)
        overloaded = engine.overloaded()
        if overloaded is not None:  # shed before the body is read and parsed: overload stays cheap
            raise engine.shed(overloaded)
        body = await _read_body(request, engine.settings)
        ack = await engine.submit(source, body, request.headers)
        if ack.duplicate:
            return json_response({"id": ack.id, "duplicate": True}, status=200)
        return json_response({"id": ack.id}, status=202)

    return await _answer(engine, source, accept)


def _cloudevents_source(engine: Engine, request: web.Request) -> str:
    named = request.match_info.get("source")
    if named is not None:
        return named
    candidates = [n for n, h in engine.sources.items() if h.format == "cloudevents"]
    if len(candidates) != 1:
        raise UnknownSourceError("use /events/{source}: no single cloudevents source is configured")
    return candidates[0]


async def events(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    source = request.match_info.get("source", "")

    async def accept() -> web.Response:
        name = _cloudevents_source(engine, request)
        handler = engine.sources.get(name)
        if handler is None or handler.format != "cloudevents":
            raise UnknownSourceError(f"no cloudevents source named {name!r}")
        _check_unverified_peer(engine, name, request)
        body = await _read_body(request, engine.settings)
        acks = await engine.submit_cloudevents(name, body, request.headers)
        items = [{"id": a.id, "duplicate": a.duplicate} for a in acks]
        status = 200 if acks and all(a.duplicate for a in acks) else 202
        return json_response(items if len(items) != 1 else items[0], status=status)

    return await _answer(engine, source, accept)


async def events_handshake(request: web.Request) -> web.Response:
    """CloudEvents HTTP webhook abuse protection: answer the OPTIONS validation request."""
    engine = request.app[ENGINE]
    try:
        name = _cloudevents_source(engine, request)
    except UnknownSourceError as exc:
        return problem(404, exc.title, exc.detail)
    handler = engine.sources.get(name)
    origin = request.headers.get("WebHook-Request-Origin", "").strip()
    if handler is None or handler.format != "cloudevents":
        return problem(404, "Unknown source", f"no cloudevents source named {name!r}")
    if not origin or not ({origin, "*"} & handler.allowed_origins):
        return problem(403, "Origin not allowed", "this origin may not deliver events here")
    headers = {"WebHook-Allowed-Origin": origin, "Allow": "POST, OPTIONS"}
    if request.headers.get("WebHook-Request-Rate"):
        headers["WebHook-Allowed-Rate"] = "*"
    return web.Response(status=200, headers=headers)


async def api(request: web.Request) -> web.Response:
    """``POST /api/{route}``: a request/reply route answers now (no journal).

    Every reply, a problem included, carries the ``X-Correlation-ID`` the target was (or would
    have been) called with: the caller's own, or the one made here, which the caller has no
    other way to learn (a webhook's 202 names its message id; an answer names nothing).
    """
    engine = request.app[ENGINE]
    name = request.match_info["route"]
    caller = Caller.from_headers(request.headers)

    async def accept() -> web.Response:
        handler = engine.request_reply.get(name)
        if handler is None:
            raise UnknownSourceError(f"no request/reply route named {name!r}")
        if not engine.ready:
            raise UnavailableError(
                "the router is not ready", retry_after=engine.settings.retry_after_s
            )
        _check_json_content_type(request)
        body = await _read_body(request, engine.settings)
        try:
            answer = await handler.answer(body, caller)
        except UpstreamError as exc:
            return problem(exc.status, exc.title, exc.detail)
        return web.Response(
            body=answer.body,
            content_type="application/json",
            headers={"X-Interlock-Cache": answer.cache},
        )

    response = await _answer(engine, f"api:{name}", accept)
    response.headers["X-Correlation-ID"] = caller.correlation_id
    return response


async def livez(_request: web.Request) -> web.Response:
    return json_response(LIVE)


def readiness(engine: Engine) -> tuple[int, dict[str, Any]]:
    """``/readyz``'s status and body; the over-the-cap probe answer (server.py) shares it."""
    if engine.is_ready:
        return 200, {"status": "ready", "recovered": engine.recovered}
    reason = "journal storage is full or failing" if engine.storage_full else "starting or draining"
    return 503, problem_body(503, "Not ready", reason)


LIVE: dict[str, Any] = {"status": "alive"}


async def readyz(request: web.Request) -> web.Response:
    status, body = readiness(request.app[ENGINE])
    if status == 200:
        return json_response(body)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=PROBLEM_TYPE,
        headers={"Retry-After": "1"},
    )


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
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return problem(exc.status, exc.reason, _http_detail(request, exc), headers=headers)
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return problem(
            503,
            "Service Unavailable",
            "an internal error occurred; retry later",
            headers={"Retry-After": "1"},
        )


def _http_detail(request: web.Request, exc: web.HTTPException) -> str:
    """A detail for aiohttp's own errors, which have none."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    if isinstance(exc, web.HTTPNotFound):
        return f"nothing is served at {request.path}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return f"the body exceeds {request.client_max_size} bytes"
    return f"{exc.reason}: {request.method} {request.path}"


def create_app(engine: Engine) -> web.Application:
    app = web.Application(
        client_max_size=engine.settings.max_body_bytes, middlewares=[problem_middleware]
    )
    app[ENGINE] = engine
    app.router.add_post("/webhooks/{source}", webhook)
    app.router.add_post("/api/{route}", api)
    app.router.add_post("/events", events)
    app.router.add_post("/events/{source}", events)
    app.router.add_route("OPTIONS", "/events", events_handshake)
    app.router.add_route("OPTIONS", "/events/{source}", events_handshake)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
