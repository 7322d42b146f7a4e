"""How every baseline server runs: aiohttp on uvloop when installed, like ``interlock run``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def arguments(doc: str | None, argv: Sequence[str] | None, *, data_dir: bool = False) -> Any:
    """A baseline's command line: ``--port P [--host H] [--no-uvloop]`` (and ``--data-dir``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if data_dir:
        parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--no-uvloop", action="store_true", help="use the asyncio event loop")
    return parser.parse_args(argv)
