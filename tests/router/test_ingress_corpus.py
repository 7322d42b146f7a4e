"""The hostile-input corpus against a real ``interlock run`` process, one test per case.

Protocol-level cases (too many headers, a huge header, slow connections, the connection cap) are
written on raw sockets; every answer must be RFC 9457 problem+json with the expected status, and
after all of it the process log holds no traceback and no ``unhandled_error``.
"""

from __future__ import annotations

import gzip
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from router.testing import Sink
from tests.support.ingress_http import (
    PROBLEM,
    RawResponse,
    build_request,
    exchange,
    read_response,
    request,
)
from tests.support.ingress_routes import write_ingress_routes
from tests.support.ingress_server import IngressServer
from tests.support.process import RouterProcess

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 50
JSON = ("Content-Type", "application/json")


def _start(tmp: Path, sink: Sink, **env: str) -> RouterProcess:
    routes = write_ingress_routes(tmp / "routes", sink.url)
    environment = {"INTERLOCK_DRAIN_GRACE_S": "0", **env}
    return RouterProcess(routes, tmp / "data", env=environment).start()


def _finish(router: RouterProcess) -> None:
    try:
        assert router.proc is not None
        if router.proc.poll() is None:
            router.terminate(30)
    finally:
        router.stop()


def assert_log_clean(router: RouterProcess, since: int = 0) -> None:
    """No traceback, unhandled error or error-level line in the log (from byte ``since`` on)."""
    time.sleep(0.2)  # what the process logs after answering (aiohttp's lingering read) lands
    log = router.log.read_bytes()[since:].decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "unhandled_error" not in log, log[-3000:]
    assert '"level": "error"' not in log, log[-3000:]
    assert "Error handling request" not in log and "Unhandled exception" not in log


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, sink: Sink) -> Iterator[RouterProcess]:
    """Default limits, except 2 s header and body deadlines to keep the slow-sender tests short."""
    process = _start(
        tmp_path_factory.mktemp("corpus"),
        sink,
        INTERLOCK_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        INTERLOCK_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
    )
    try:
        yield process
    finally:
        _finish(process)


@pytest.fixture
def since(router: RouterProcess) -> int:
    """Where the module router's log stands when a test starts: each test checks its own part."""
    return router.log.stat().st_size


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, sink: Sink) -> Iterator[RouterProcess]:
    """At most 50 connections; a header deadline long enough to hold idle ones during the test."""
    process = _start(
        tmp_path_factory.mktemp("capped"),
        sink,
        INTERLOCK_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        INTERLOCK_HEADER_TIMEOUT_S="20",
    )
    try:
        yield process
    finally:
        _finish(process)


def assert_problem(response: RawResponse, *statuses: int) -> dict[str, object]:
    assert response.status in statuses, (response.status, response.body[:300])
    assert response.content_type == PROBLEM, response.headers
    problem = orjson.loads(response.body)
    assert isinstance(problem, dict)
    assert problem["status"] == response.status and problem["title"]
    return problem


def post_json(router: RouterProcess, body: bytes, *headers: tuple[str, str]) -> RawResponse:
    return request(router.port, "POST", "/webhooks/none", [JSON, *headers], body)


# -- the table -----------------------------------------------------------------------------------


def test_a_valid_delivery_is_accepted(router: RouterProcess, since: int) -> None:
    """The baseline: the same route takes a well-formed delivery."""
    response = post_json(router, b'{"type": "corpus.ok", "n": 1}')
    assert response.status == 202, response.body
    assert_log_clean(router, since)


def test_a_2mb_body_is_413(router: RouterProcess, since: int) -> None:
    body = b'{"type": "big", "pad": "' + b"x" * 2_000_000 + b'"}'
    assert_problem(post_json(router, body), 413)
    assert_log_clean(router, since)


def test_a_2mb_chunked_body_is_413(router: RouterProcess, since: int) -> None:
    """No Content-Length to refuse up front: the read itself stops at the limit."""
    body = b'{"type": "big", "pad": "' + b"x" * 2_000_000 + b'"}'
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
        for i in range(0, len(body), 65536)
    )
    raw = build_request(
        "POST",
        "/webhooks/none",
        [JSON, ("Transfer-Encoding", "chunked")],
        chunks + b"0\r\n\r\n",
        content_length=False,
    )
    assert_problem(exchange(router.port, raw), 413)
    assert_log_clean(router, since)


def test_a_gzip_bomb_is_413(router: RouterProcess, since: int) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000, compresslevel=9)
    assert len(bomb) < 20_000  # a few KB on the wire
    response = post_json(router, bomb, ("Content-Encoding", "gzip"))
    assert_problem(response, 413)
    assert_log_clean(router, since)


def test_a_small_gzip_body_is_decoded_and_accepted(router: RouterProcess, since: int) -> None:
    response = post_json(
        router, gzip.compress(b'{"type": "gz", "n": 2}'), ("Content-Encoding", "gzip")
    )
    assert response.status == 202, response.body
    assert_log_clean(router, since)


@pytest.mark.parametrize(
    ("encoding", "path", "content_type", "status"),
    [
        ("gzip", "/webhooks/none", "application/json", 400),
        ("deflate", "/webhooks/none", "application/json", 400),
        ("gzip", "/webhooks/none", "text/csv", 415),  # answered without reading the body
        ("gzip", "/webhooks/nope", "application/json", 404),
    ],
)
def test_a_body_that_does_not_decode_is_a_4xx_and_no_traceback(
    tmp_path: Path, sink: Sink, encoding: str, path: str, content_type: str, status: int
) -> None:
    """A client error in Content-Encoding must be a 4xx, neither a 503 nor a logged traceback.

    Its own process, so that the module's log stays the evidence for the other cases.
    """
    router = _start(tmp_path, sink)
    try:
        headers = [("Content-Type", content_type), ("Content-Encoding", encoding)]
        response = request(router.port, "POST", path, headers, b'{"type": "not-compressed"}')
        assert_problem(response, status)
        assert_log_clean(router)
    finally:
        _finish(router)


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "deep", "v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"type": "surrogate", "v": "\\ud800"}',
        b'{"type": "nan", "v": NaN}',
        b'{"type": "utf8", "v": "\xff\xfe"}',
    ],
    ids=["100k-deep", "lone-surrogate", "NaN", "invalid-utf8"],
)
def test_json_the_stdlib_would_take_or_choke_on_is_400(
    router: RouterProcess, since: int, body: bytes
) -> None:
    problem = assert_problem(post_json(router, body), 400)
    expected = "nests deeper than 200 levels" if b"deep" in body else "not valid JSON"
    assert expected in str(problem["detail"])
    assert_log_clean(router, since)


def test_129_headers_are_400_or_431(router: RouterProcess, since: int) -> None:
    headers = [JSON, *((f"X-Filler-{i}", "x") for i in range(128))]
    response = request(router.port, "POST", "/webhooks/none", headers, b'{"type": "h"}')
    assert_problem(response, 400, 431)
    assert_log_clean(router, since)


def test_a_header_over_8kb_is_400_or_431(router: RouterProcess, since: int) -> None:
    headers = [JSON, ("X-Huge", "h" * 9000)]
    response = request(router.port, "POST", "/webhooks/none", headers, b'{"type": "h"}')
    assert_problem(response, 400, 431)
    assert_log_clean(router, since)


def test_a_request_line_over_8kb_is_4xx(router: RouterProcess, since: int) -> None:
    response = request(router.port, "POST", "/webhooks/" + "n" * 9000, [JSON], b"{}")
    assert_problem(response, 400, 414, 431)
    assert_log_clean(router, since)


def test_an_unknown_content_type_is_415(router: RouterProcess, since: int) -> None:
    response = request(
        router.port, "POST", "/webhooks/none", [("Content-Type", "text/csv")], b"type\nx\n"
    )
    assert_problem(response, 415)
    assert_log_clean(router, since)


# -- slow senders and the connection cap -----------------------------------------------------------


def _closed_by_peer(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _livez(port: int, timeout: float = 5.0) -> RawResponse:
    return request(port, "GET", "/livez", timeout=timeout)


def test_200_slow_connections_neither_starve_livez_nor_outlive_the_header_deadline(
    router: RouterProcess, since: int
) -> None:
    head = b"POST /webhooks/none HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    slow: list[socket.socket] = []
    closed_at: dict[int, float] = {}
    started = time.monotonic()
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", router.port), timeout=5)
            sock.setblocking(False)
            slow.append(sock)
        sent = 0
        livez: RawResponse | None = None
        deadline = started + HEADER_TIMEOUT_S + 8
        while len(closed_at) < len(slow) and time.monotonic() < deadline:
            byte = head[sent : sent + 1] or b"a"  # the request line, then a header that never ends
            sent += 1
            for i, sock in enumerate(slow):
                if i in closed_at:
                    continue
                if _closed_by_peer(sock):
                    closed_at[i] = time.monotonic() - started
                    continue
                try:
                    sock.send(byte)
                except OSError:
                    closed_at[i] = time.monotonic() - started
            if livez is None and time.monotonic() - started > 0.5:
                livez = _livez(router.port)  # a fresh connection, while all of them dribble
                livez_open = len(slow) - len(closed_at)
            time.sleep(0.05)
    finally:
        for sock in slow:
            sock.close()
    assert livez is not None and livez.status == 200, livez
    assert livez_open == 200  # /livez answered while every slow connection was still open
    assert len(closed_at) == 200, f"{200 - len(closed_at)} slow connections still open"
    assert min(closed_at.values()) >= HEADER_TIMEOUT_S / 2, sorted(closed_at.values())[:5]
    assert _livez(router.port).status == 200
    assert_log_clean(router, since)


def test_a_body_dribbled_past_the_body_deadline_is_408(router: RouterProcess, since: int) -> None:
    body = b'{"type": "slow", "pad": "' + b"x" * 64 + b'"}'
    head = build_request("POST", "/webhooks/none", [JSON], body)[: -len(body)]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", router.port), timeout=BODY_TIMEOUT_S + 8) as sock:
        sock.sendall(head)
        for i in range(len(body)):
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                break
            sock.sendall(body[i : i + 1])
        response = read_response(sock)
    assert_problem(response, 408)
    assert time.monotonic() - started >= BODY_TIMEOUT_S / 2
    assert_log_clean(router, since)


def _check_connection_cap(port: int) -> None:
    """50 held connections: the next requests get 503 + Retry-After, but the probes still answer;
    once closed, everything is back."""
    held = [socket.create_connection(("127.0.0.1", port), timeout=5)]
    try:
        held += [
            socket.create_connection(("127.0.0.1", port), timeout=5)
            for _ in range(1, MAX_CONNECTIONS)
        ]
        time.sleep(0.5)  # let the server accept every one of them
        for _ in range(5):
            response = request(port, "POST", "/webhooks/none", [JSON], b'{"type": "c"}')
            problem = assert_problem(response, 503)
            assert int(response.headers["retry-after"]) >= 1
            assert problem["title"]
        # The probes are exempt from the cap: a liveness probe must not restart a busy router.
        assert _livez(port).status == 200
        # The connections under the cap still work.
        held[0].sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(held[0]).status == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline:
        status = _livez(port).status
        if status == 200:
            break
        time.sleep(0.05)
    assert status == 200


def test_connections_over_the_cap_get_503_with_retry_after(capped: RouterProcess) -> None:
    """Through ``interlock run``, which installs uvloop."""
    _check_connection_cap(capped.port)
    assert_log_clean(capped)


def test_connection_cap_in_process_on_the_default_loop(tmp_path: Path, sink: Sink) -> None:
    """The same runner on asyncio's own loop: it tells a loop problem from a logic problem."""
    routes = write_ingress_routes(tmp_path / "routes", sink.url)
    server = IngressServer(
        routes, tmp_path / "data", max_connections=MAX_CONNECTIONS, header_timeout_s=20
    ).start()
    try:
        _check_connection_cap(server.port)
    finally:
        server.stop()


def test_both_routers_log_a_protocol_error_as_an_event_and_never_a_traceback(
    router: RouterProcess, capped: RouterProcess
) -> None:
    """Whatever ran before (alone or after the whole module): each process gets a request its
    HTTP parser refuses, answers it with a problem, logs it as ``http_protocol_error`` and has
    no traceback or error line anywhere in its log."""
    for process in (router, capped):
        before = process.log.stat().st_size
        headers = [JSON, *((f"X-Filler-{i}", "x") for i in range(128))]
        response = request(process.port, "POST", "/webhooks/none", headers, b'{"type": "h"}')
        assert_problem(response, 400, 431)
        assert _livez(process.port).status == 200
        assert_log_clean(process)
        assert b'"event": "http_protocol_error"' in process.log.read_bytes()[before:]
