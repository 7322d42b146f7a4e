"""The baseline: a bare aiohttp server that answers any POST with ``202 {"id": ...}``.

It reads the body (as any real handler must) and does nothing else: no parsing, no journal. It
runs on the same event loop implementation as ``interlock run`` (uvloop when installed), so the
ratio against it isolates what durable ingest costs on top of aiohttp itself.

Usage: ``python -m bench.baselines.bare --port P [--host H] [--no-uvloop]``.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from bench.baselines._serve import arguments, serve


async def _accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"id": uuid.uuid4().hex}, status=202)


async def _ready(_: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def app() -> web.Application:
    """The baseline application: ``POST /webhooks/{source}`` and ``GET /readyz``."""
    application = web.Application()
    application.router.add_post("/webhooks/{source}", _accept)
    application.router.add_get("/readyz", _ready)
    return application


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__, argv)
    serve(app(), args.host, args.port, use_uvloop=not args.no_uvloop)


if __name__ == "__main__":
    main()
