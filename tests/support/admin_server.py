"""A started engine with its admin API on loopback, in a thread with its own event loop.

Synchronous clients (schemathesis, the CLI under ``CliRunner``) can call it from the test thread,
and the test drives the engine through :meth:`AdminServer.run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web

from router import Engine, Settings, load_config
from router.http.admin import create_admin_app
from tests.support.routes import write_routes
from tests.support.sink import Sink

T = TypeVar("T")
TOKENS = ["tok-old", "tok-new"]
AUTH = {"Authorization": "Bearer tok-new"}
FAST_RETRY = "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"


def routes_folder(root: Path, sink: Sink) -> Path:
    """``orders`` (order.created) and ``refunds`` (order.refunded) from source ``shop``."""
    folder = write_routes(root / "routes", sink.url, route_extra=FAST_RETRY)
    (folder / "refunds.yaml").write_text(
        "id: refunds\nfrom: {source: shop, type: order.refunded}\n"
        "steps:\n  - to: {connector: sink, path: /refunds}\n"
    )
    return folder


def event(ident: str, kind: str = "order.created") -> bytes:
    return orjson.dumps({"id": ident, "type": kind, "customer": "c1"})


class AdminServer:
    def __init__(self, routes: Path, data_dir: Path, tokens: list[str], **settings: Any) -> None:
        self.routes = routes
        self.data_dir = data_dir
        self.tokens = tokens
        self.settings = settings
        self.port = 0
        self._engine: Engine | None = None
        self._runner: web.AppRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="test-admin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine(self) -> Engine:
        assert self._engine is not None
        return self._engine

    def start(self) -> AdminServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("admin server failed to start") from self._error
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        settings = Settings(data_dir=self.data_dir, **self.settings)
        self._engine = Engine(load_config(self.routes), settings)
        await self._engine.start()
        self._runner = web.AppRunner(
            create_admin_app(self._engine, self.tokens), handle_signals=False, shutdown_timeout=1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def submit(self, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Submit a ``shop`` message through the engine; returns its id."""
        return self.run(self.engine.submit("shop", body, headers)).id

    def wait_idle(self) -> None:
        self.run(self.engine.wait_idle(10))

    def stop(self) -> None:
        """Stop the admin listener and the engine (the journal is closed after this)."""

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._engine is not None and self._engine.started:
                await self._engine.stop()

        if self._thread.is_alive():
            self.run(shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_closed():
            self._loop.close()
