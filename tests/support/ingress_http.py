"""A raw HTTP/1.1 client on plain sockets: it sends exactly the bytes a test asks for.

aiohttp's and the stdlib's clients refuse to send what the ingress must survive (control bytes in
header values, 129 headers, a header of 9 KB), so the fuzz and corpus tests build requests here.
Every request opens its own connection and closes it before returning.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

PROBLEM = "application/problem+json"
Header = tuple[bytes | str, bytes | str]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip()

    def json(self) -> Any:
        return orjson.loads(self.body)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def build_request(
    method: str,
    path: str,
    headers: Iterable[Header] = (),
    body: bytes = b"",
    *,
    host: str = "127.0.0.1",
    content_length: bool = True,
) -> bytes:
    """An HTTP/1.1 request with ``Host`` and ``Connection: close``, and Content-Length if asked."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host.encode()]
    lines += [_bytes(name) + b": " + _bytes(value) for name, value in headers]
    if content_length:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def read_response(sock: socket.socket) -> RawResponse:
    """Read one response: the head, then Content-Length bytes (or up to EOF without one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    while length is None or len(body) < int(length):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(status, headers, body if length is None else body[: int(length)])


def exchange(port: int, request: bytes, timeout: float = 10.0) -> RawResponse:
    """Send ``request`` on a new connection and read the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer (413, 400) and close before it has read everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return read_response(sock)


def request(
    port: int,
    method: str,
    path: str,
    headers: Iterable[Header] = (),
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawResponse:
    return exchange(port, build_request(method, path, headers, body), timeout)
