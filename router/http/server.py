"""A hardened aiohttp server: connection cap, header deadline, problem+json protocol errors.

aiohttp has no deadline for reading request headers, answers protocol errors (too many headers, a
line too long, a bad method) with plain text and logs them as exceptions, and accepts connections
without limit. This runner fixes all three without touching aiohttp's parser:

- ``keepalive_timeout`` doubles as the header deadline: aiohttp 3.14 arms it when a connection
  opens and a request whose headers never complete never disarms it, so a slowloris connection is
  closed after ``header_timeout_s``;
- past ``max_connections`` a new connection gets an immediate ``503`` + ``Retry-After`` and is
  closed, so slow senders cannot starve the others;
- protocol errors (4xx) are answered as RFC 9457 problem+json and logged once at info level.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from router.http.problem import PROBLEM_TYPE, problem
from router.logs import get_logger

log = get_logger("interlock.http")


def _refusal() -> bytes:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Too many connections",
            "status": 503,
            "detail": "retry later",
        }
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {PROBLEM_TYPE}\r\nRetry-After: 1\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Refuse(asyncio.Protocol):
    """Answers 503 and closes: a connection over the cap costs one write, no parser, no task."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport does not subclass asyncio.Transport, but it writes all the same.
        writer = cast(asyncio.WriteTransport, transport)
        writer.write(_refusal())
        writer.close()


class ProblemRequestHandler(RequestHandler):
    def log_exception(self, *args: Any, **kw: Any) -> None:
        # A body that does not decompress is the sender's fault, also when aiohttp hits it while
        # draining an unread body after answering: one info line, not an error traceback.
        exc = kw.get("exc_info")
        if isinstance(exc, RequestPayloadError) or (
            isinstance(exc, tuple) and isinstance(exc[1], RequestPayloadError)
        ):
            log.info(
                "http_payload_error", reason=str(exc if not isinstance(exc, tuple) else exc[1])
            )
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        log.info("http_protocol_error", status=status, reason=str(exc or message)[:200])
        response = problem(status, HTTPStatus(status).phrase, "the request could not be parsed")
        response.force_close()
        return response


class HardenedServer(web.Server):
    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def __call__(self) -> Any:
        if len(self._connections) >= self.max_connections:
            self.refused += 1
            return _Refuse()
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class HardenedAppRunner(web.AppRunner):
    def __init__(
        self, app: web.Application, *, max_connections: int, header_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(app, keepalive_timeout=header_timeout_s, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return HardenedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            max_connections=self.max_connections,
            **plain._kwargs,
        )
