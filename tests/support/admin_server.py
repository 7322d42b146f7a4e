"""A started engine with its admin API on loopback, in a thread with its own event loop.

Synchronous clients (schemathesis, the CLI under ``CliRunner``) can call it from the test thread,
and the test drives the engine through :meth:`AdminServer.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from router import Engine, Settings
from router.http.admin import create_admin_app
from router.testing import Sink
from tests.support.engine_server import EngineServer
from tests.support.routes import write_routes

TOKENS = ["tok-old", "tok-new"]
AUTH = {"Authorization": "Bearer tok-new"}
FAST_RETRY = "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"


def routes_folder(root: Path, sink: Sink, on_dead_letter: str = "continue") -> Path:
    """``orders`` (order.created) and ``refunds`` (order.refunded) from source ``shop``.

    Every :func:`event` has customer ``c1``, the ``orders`` key, and the tests replay and purge
    several dead letters of it, so ``orders`` continues after a dead letter unless told to hold
    (the hold itself: tests/router/test_key_order.py).
    """
    extra = FAST_RETRY + f"on_dead_letter: {on_dead_letter}\n"
    folder = write_routes(root / "routes", sink.url, route_extra=extra)
    (folder / "refunds.yaml").write_text(
        "id: refunds\nfrom: {source: shop, type: order.refunded}\n"
        "steps:\n  - to: {connector: sink, path: /refunds}\n"
    )
    return folder


def event(ident: str, kind: str = "order.created") -> bytes:
    return orjson.dumps({"id": ident, "type": kind, "customer": "c1"})


class AdminServer(EngineServer):
    """The admin app in front of a started engine."""

    name = "admin"

    def __init__(self, routes: Path, data_dir: Path, tokens: list[str], **settings: Any) -> None:
        super().__init__(routes, data_dir, **settings)
        self.tokens = tokens

    def make_runner(self, engine: Engine, settings: Settings) -> web.AppRunner:
        return web.AppRunner(
            create_admin_app(engine, self.tokens), handle_signals=False, shutdown_timeout=1
        )

    def submit(self, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Submit a ``shop`` message through the engine; returns its id."""
        return self.run(self.engine.submit("shop", body, headers)).id

    def wait_idle(self) -> None:
        self.run(self.engine.wait_idle(10))
