"""How every baseline server runs: aiohttp on uvloop when installed, like ``interlock run``."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web


def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    shutdown_timeout: float = 2.0,
    use_uvloop: bool = True,
) -> None:
    """Serve ``app`` until SIGTERM/SIGINT, quietly (no access log, no banner)."""
    loop: asyncio.AbstractEventLoop | None = None
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            loop = uvloop.new_event_loop()
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        print=None,
        loop=loop,
        shutdown_timeout=shutdown_timeout,
    )
