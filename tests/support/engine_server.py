"""A started engine and one of its HTTP apps on loopback, in a thread with its own event loop.

Synchronous clients (schemathesis, raw sockets, the CLI under ``CliRunner``) call it from the test
thread, and the test drives the engine through :meth:`EngineServer.run`. Subclasses say which app
to serve (ingress, admin) by overriding :meth:`make_runner`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

from aiohttp import web

from router import Engine, Settings, load_config

T = TypeVar("T")


class EngineServer:
    name = "engine"

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
        self._thread = threading.Thread(target=self._main, name=f"test-{self.name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine(self) -> Engine:
        assert self._engine is not None
        return self._engine

    def make_runner(self, engine: Engine, settings: Settings) -> web.AppRunner:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"{self.name} server failed to start") from self._error
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
        # The shipped routes' secrets are demo defaults: demo mode unless a test says otherwise.
        settings = Settings(data_dir=self.data_dir, **{"demo": True, **self.settings})
        self._engine = Engine(load_config(self.routes), settings)
        await self._engine.start()
        self._runner = self.make_runner(self._engine, settings)
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
            self.run(shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_closed():
            self._loop.close()
