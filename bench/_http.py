"""A minimal keep-alive HTTP/1.1 client connection for the load generator.

aiohttp's client tops out at about 7-8.6k requests/s on this machine, below what a bare aiohttp
server can answer, so the load generator speaks just enough HTTP/1.1 itself: one request at a time
per connection (no pipelining), responses framed by ``Content-Length``. Anything else (chunked
bodies, a malformed status line) is a protocol error and closes the connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, cast

from bench import _body

_HEADER_END = b"\r\n\r\n"
_LENGTH = b"\ncontent-length:"
_CLOSE = b"\nconnection: close"


class Listener(Protocol):
    """What a connection reports to: the load generator."""

    def on_response(self, conn: Connection, status: int) -> None: ...

    def on_lost(self, conn: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request outstanding."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self.intended = 0.0  # when the request was meant to be sent (open loop schedule)
        self.sent = 0.0  # when it actually was written
        self.closed = False
        self.retry_after = 0.0  # the last answer's Retry-After, in seconds (0: none)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def send(self, request: bytes, intended: float) -> None:
        """Write ``request``; ``intended`` is the schedule time latency is measured from."""
        assert self.transport is not None
        self.intended = intended
        self.sent = time.monotonic()
        self.busy = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.busy:
            end = self.buffer.find(_HEADER_END)
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            start = head.find(_LENGTH)
            if not head.startswith(b"http/1.") or start < 0:
                self.close()
                return
            stop = head.find(b"\r", start)
            length = int(head[start + len(_LENGTH) : stop if stop > 0 else None])
            total = end + len(_HEADER_END) + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.busy = False
            status = int(head[9:12])
            self.retry_after = _retry_after(head)
            if _CLOSE in head:
                self.close()
            self.listener.on_response(self, status)

    def close(self) -> None:
        """Close the connection; the listener hears of it through ``on_lost``."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, _exc: Exception | None) -> None:
        self.closed = True
        self.listener.on_lost(self)


def _retry_after(head: bytes) -> float:
    """A ``Retry-After: <seconds>`` header of a lower-cased response head, else 0."""
    start = head.find(b"\r\nretry-after:")
    if start < 0:
        return 0.0
    start += len(b"\r\nretry-after:")
    stop = head.find(b"\r", start)
    try:
        return max(0.0, float(head[start : stop if stop > 0 else None].strip()))
    except ValueError:
        return 0.0


async def connect(host: str, port: int, listener: Listener) -> Connection:
    """Open one connection to ``host:port`` reporting to ``listener``."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: Connection(listener), host, port)
    return protocol


def request_head(host: str, port: int, path: str, length: int) -> bytes:
    """The request line and fixed headers of a JSON POST with a ``length``-byte body.

    It ends after the ``Content-Length`` line: :func:`signed_request` adds the body's signature
    header and the blank line.
    """
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n"
    ).encode()


_SIGNATURE = f"{_body.SIGNATURE_HEADER}: ".encode()


def signed_request(head: bytes, body: bytes) -> bytes:
    """``head`` (from :func:`request_head`), the body's signature header, and the body."""
    return head + _SIGNATURE + _body.signature(body).encode() + b"\r\n\r\n" + body
