"""Helpers for connector tests: a scriptable loopback target and outbound requests."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from router.connector import OutboundRequest

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    raw_path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Target:
    """A loopback HTTP server in the test's loop: records calls, answers from a script."""

    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self.answers: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.handlers: dict[str, Handler] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def start(self) -> Target:
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body) if body is not None else b""
        self.answers.append((status, headers or {}, raw))

    def on(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    def hits(self, path: str) -> list[Seen]:
        return [c for c in self.calls if c.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.calls.append(
            Seen(request.method, request.path, request.raw_path, dict(request.headers), body)
        )
        handler = self.handlers.get(request.path)
        if handler is not None:
            return await handler(request, body)
        if self.answers:
            status, headers, raw = self.answers.popleft()
            return web.Response(status=status, body=raw, headers=headers)
        return web.json_response({"ok": True})


def outbound(
    body: Any = None,
    *,
    path: str = "/hook",
    method: str = "POST",
    operation: str | None = None,
    key: str = "k" * 40,
    attempt: int = 1,
    headers: dict[str, str] | None = None,
) -> OutboundRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body if body is not None else {})
    return OutboundRequest(
        message_id="msg-1",
        route="r",
        method=method,
        path=path,
        body=raw,
        idempotency_key=key,
        correlation_id="corr-1",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        attempt=attempt,
        headers=headers or {},
        operation=operation,
    )


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
