"""A real loopback HTTP sink that applies each ``Idempotency-Key`` once and records every call.

It runs its own event loop in a thread, so it serves the router whether the router runs in the
test's loop or as a separate process. Behaviour is scripted per call: a queue of statuses to answer
with, or a stall gate that holds requests until released.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    applied: bool
    raw_path: str = ""  # as sent, percent-encoding intact

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Script:
    """Answers to give before behaving normally: (status, headers) consumed one per call."""

    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)


class Sink:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.applied: dict[str, bytes] = {}  # idempotency key -> body of the one applied call
        self.script = Script()
        self.fail_keys: dict[str, int] = {}  # body "id" -> status to answer forever
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stall: asyncio.Event | None = None
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="test-sink", daemon=True)

    def start(self) -> Sink:
        self._thread.start()
        self._ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1])

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._stall is not None:
            await self._stall.wait()
        with self._lock:
            answer = self.script.answers.popleft() if self.script.answers else None
            key = request.headers.get("Idempotency-Key", "")
            poison = self._poison_status(body)
            status = answer[0] if answer else poison or 200
            applied = status < 300 and key not in self.applied
            if applied:
                self.applied[key] = body
            self.calls.append(
                Call(
                    request.method,
                    request.path,
                    dict(request.headers),
                    body,
                    applied,
                    request.raw_path,
                )
            )
        headers = answer[1] if answer else {}
        return web.Response(
            status=status, text="ok" if status < 300 else f"error {status}", headers=headers
        )

    def _poison_status(self, body: bytes) -> int | None:
        if not self.fail_keys:
            return None
        try:
            ident = orjson.loads(body).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return self.fail_keys.get(ident)

    def stall(self) -> None:
        def make() -> None:
            self._stall = asyncio.Event()

        self._loop.call_soon_threadsafe(make)

    def release(self) -> None:
        def free() -> None:
            if self._stall is not None:
                self._stall.set()
                self._stall = None

        self._loop.call_soon_threadsafe(free)

    def answer(self, *answers: tuple[int, dict[str, str]]) -> None:
        with self._lock:
            self.script.answers.extend(answers)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def applied_bodies(self) -> list[Any]:
        with self._lock:
            return [orjson.loads(b) for b in self.applied.values()]

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
