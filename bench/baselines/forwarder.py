"""The point-to-point script the middleware replaces: receive, transform, POST to the target.

An aiohttp handler validates the order (``BenchOrder``), runs ``order_to_canonical`` and POSTs the
canonical JSON to the sink over a keep-alive ``ClientSession``; it answers ``200`` only after the
sink did (``502`` if it did not). Nothing is journaled: a crash or a sink outage loses messages.

Usage: ``python -m bench.baselines.forwarder --port P --target URL``.
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from bench.baselines._serve import serve
from bench.payload import BenchOrder, order_to_canonical

_SESSION = web.AppKey("session", aiohttp.ClientSession)
_TARGET = web.AppKey("target", str)


async def _forward(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        order = BenchOrder.model_validate_json(raw)
    except ValidationError:
        return web.json_response({"error": "invalid order"}, status=422)
    body = order_to_canonical(order).model_dump_json().encode()
    session = request.app[_SESSION]
    try:
        async with session.post(
            request.app[_TARGET], data=body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            ok = response.status < 300
    except aiohttp.ClientError:
        ok = False
    if not ok:
        return web.json_response({"error": "delivery failed"}, status=502)
    return web.json_response({"id": order.id}, status=200)


async def _ready(_: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def app(target: str) -> web.Application:
    application = web.Application()
    application[_TARGET] = target

    async def session(app_: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=5)
        ) as client:
            app_[_SESSION] = client
            yield

    application.cleanup_ctx.append(session)
    application.router.add_post("/webhooks/{source}", _forward)
    application.router.add_get("/readyz", _ready)
    return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="point-to-point forwarder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the sink URL to POST to")
    args = parser.parse_args(argv)
    serve(app(args.target), args.host, args.port)


if __name__ == "__main__":
    main()
