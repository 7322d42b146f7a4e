"""The ingress as ``interlock run`` serves it (HardenedAppRunner), in a thread with its own loop.

Synchronous tests (hypothesis) send requests from the test thread while the engine and the
server run on the server's loop; one server can then serve a whole module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from router import Engine, Settings, load_config
from router.http.ingress import create_app
from router.http.server import HardenedAppRunner

T = TypeVar("T")


class IngressServer:
    def __init__(self, routes: Path, data_dir: Path, **settings: Any) -> None:
        self.routes = routes
        self.data_dir = data_dir
        self.settings = settings
        self.port = 0
        self._engine: Engine | None = None
        self._runner: web.AppRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="test-ingress", daemon=True)

    @property
    def engine(self) -> Engine:
        assert self._engine is not None
        return self._engine

    def start(self) -> IngressServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("ingress server failed to start") from self._error
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
        self._runner = HardenedAppRunner(
            create_app(self._engine),
            handle_signals=False,
            shutdown_timeout=1,
            max_connections=settings.max_connections,
            header_timeout_s=settings.header_timeout_s,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        """Stop the listener, then the engine; the loop and its thread end with them."""

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._engine is not None and self._engine.started:
                await self._engine.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_closed():
            self._loop.close()
