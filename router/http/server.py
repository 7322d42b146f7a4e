"""A hardened aiohttp server: connection cap, header deadline, problem+json protocol errors.

aiohttp has no deadline for reading request headers, answers protocol errors (too many headers, a
line too long, a bad method) with plain text and logs them as exceptions, and accepts connections
without limit. This runner fixes all three without touching aiohttp's parser:

- ``keepalive_timeout`` doubles as the header deadline: aiohttp 3.14 arms it when a connection
  opens and a request whose headers never complete never disarms it, so a slowloris connection is
  closed after ``header_timeout_s``;
- past ``max_connections`` a new connection gets ``503`` + ``Retry-After`` and is closed, so slow
  senders cannot starve the others; the health probes are exempt: an over-the-cap connection
  whose request line is ``GET /livez`` or ``GET /readyz`` gets the probe's answer instead (up to
  ``PROBE_SLOTS`` such connections at once, each given ``PROBE_DEADLINE_S`` to send its request
  line), so idle connections cannot make a liveness probe restart the router;
- on shutdown, a request whose body is still arriving is read to its end and answered (aiohttp
  would stop reading the socket at once, and the body deadline would answer 408);
- protocol errors (4xx) are answered as RFC 9457 problem+json and logged once at info level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from router.http.problem import PROBLEM_TYPE, problem, problem_body
from router.logs import get_logger

log = get_logger("interlock.http")
# A probe's answer: status and JSON body, made when the probe asks.
Probe = Callable[[], tuple[int, dict[str, Any]]]
PROBE_SLOTS = 32  # over-the-cap connections that may be waiting to show a probe's request line
PROBE_DEADLINE_S = 2.0
_REQUEST_LINE_MAX = 1024


def _answer(status: int, body: dict[str, Any]) -> bytes:
    data = orjson.dumps(body)
    media = "application/json" if status < 400 else PROBLEM_TYPE
    retry = "Retry-After: 1\r\n" if status == 503 else ""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {media}\r\n{retry}Connection: close\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _refusal() -> bytes:
    return _answer(503, problem_body(503, "Too many connections", "retry later"))


class _Refuse(asyncio.Protocol):
    """Answers 503 and closes: a connection over the cap costs one write, no parser, no task."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport does not subclass asyncio.Transport, but it writes all the same.
        writer = cast(asyncio.WriteTransport, transport)
        writer.write(_refusal())
        writer.close()


class _ProbeOrRefuse(asyncio.Protocol):
    """Over the cap: answers a health probe's ``GET``, refuses anything else; never parses more.

    It reads the request line only (at most ``_REQUEST_LINE_MAX`` bytes, within
    ``PROBE_DEADLINE_S``), answers, and closes: no aiohttp parser, no task.
    """

    def __init__(self, server: HardenedServer) -> None:
        self.server = server
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)
        self.server.probing.add(self)
        self.timer = asyncio.get_running_loop().call_later(
            PROBE_DEADLINE_S, self._reply, _refusal()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        line, found, _ = self.buffer.partition(b"\r\n")
        if not found and len(self.buffer) < _REQUEST_LINE_MAX:
            return
        method, _, rest = line.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0]
        probe = self.server.probes.get(target.decode("latin-1")) if method == b"GET" else None
        self._reply(_answer(*probe()) if probe is not None else _refusal())

    def _reply(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - protocol API
        if self.timer is not None:
            self.timer.cancel()
        self.server.probing.discard(self)
        self.transport = None


class ProblemRequestHandler(RequestHandler):
    def data_received(self, data: bytes) -> None:
        # aiohttp drops every byte once shutdown began (close() or shutdown() set the flags), so
        # the body of a request in flight would never arrive. Drain means finishing it: feed the
        # parser for the request in progress; the connection still closes after its answer.
        closing = self._close or self._force_close
        if not (closing and self._request_in_progress and self.transport is not None):
            super().data_received(data)
            return
        close, force = self._close, self._force_close
        self._close = self._force_close = False
        try:
            super().data_received(data)
        finally:
            self._close = self._close or close
            self._force_close = self._force_close or force

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
    def __init__(
        self,
        *args: Any,
        max_connections: int,
        probes: Mapping[str, Probe] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.probes = dict(probes or {})
        self.probing: set[_ProbeOrRefuse] = set()
        self.refused = 0

    def __call__(self) -> Any:
        if len(self._connections) >= self.max_connections:
            self.refused += 1
            if self.probes and len(self.probing) < PROBE_SLOTS:
                return _ProbeOrRefuse(self)
            return _Refuse()
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class HardenedAppRunner(web.AppRunner):
    def __init__(
        self,
        app: web.Application,
        *,
        max_connections: int,
        header_timeout_s: float,
        probes: Mapping[str, Probe] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=header_timeout_s, **kwargs)
        self.max_connections = max_connections
        self.probes = probes

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return HardenedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            max_connections=self.max_connections,
            probes=self.probes,
            **plain._kwargs,
        )
