"""Issue 15, the HTTP edges, over a real ``interlock run``: each finding, then no ERROR in its log.

- a sender that hangs up mid-body is one info line, not an error traceback;
- on SIGTERM a body still arriving is read and acknowledged, not answered 408;
- the health probes answer past the connection cap;
- every problem has a ``type`` URI of its kind; aiohttp's 404 and 405 have a detail (and
  ``Allow``); an ingress 401 names its scheme in ``WWW-Authenticate``;
- a path part from the message that is ``..`` stays data (``%2E%2E``), it does not climb;
- a full disk (ENOSPC, injected at the LMDB boundary) is a counted 503, readiness follows, and
  it recovers.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import orjson
import pytest

from router.testing import Sink
from tests.support.process import RouterProcess
from tests.support.routes import write_routes

pytestmark = pytest.mark.slow
PROBLEMS = "https://interlock.dev/problems/"


def request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, method: str = ""
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method or ("POST" if body is not None else "GET"),
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, dict(exc.headers), exc.read()
    return status, head, orjson.loads(raw) if raw else None


def raw_exchange(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(data)
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    chunks = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks += chunk
        head, found, body = chunks.partition(b"\r\n\r\n")
        if found and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return int(chunks.split(b" ", 2)[1]), chunks.partition(b"\r\n\r\n")[2]


def assert_no_error_lines(router: RouterProcess) -> None:
    for line in router.log.read_text().splitlines():
        assert "Traceback" not in line, line
        if line.startswith("{"):
            assert json.loads(line).get("level") not in ("error", "critical"), line


def order(ident: str, **extra: Any) -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": "c1", **extra})


@pytest.fixture
def router(tmp_path: Path, sink: Sink) -> Iterator[RouterProcess]:
    routes = write_routes(tmp_path / "routes", sink.url)
    process = RouterProcess(routes, tmp_path / "data", env={"INTERLOCK_MAX_CONNECTIONS": "8"})
    process.start()
    yield process
    process.stop()


def test_disconnect_mid_body_is_not_an_error(router: RouterProcess) -> None:
    head = (
        "POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    sock = raw_exchange(router.port, head.encode() + b'{"id": "half')
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST: ConnectionResetError inside the router's body read
    status, _, _ = request(router.url + "/webhooks/shop", order("after"))
    assert status == 202
    deadline = time.monotonic() + 10
    while '"client_disconnected"' not in router.log.read_text():
        assert time.monotonic() < deadline, router.log.read_text()[-2000:]
        time.sleep(0.05)
    assert_no_error_lines(router)


def test_probes_answer_past_the_connection_cap(router: RouterProcess) -> None:
    idle = [socket.create_connection(("127.0.0.1", router.port)) for _ in range(8)]
    try:
        time.sleep(0.2)  # let the router accept them all (no timing is asserted)
        status, _, body = request(router.url + "/livez")
        assert (status, body) == (200, {"status": "alive"})
        status, _, body = request(router.url + "/readyz")
        assert status == 200 and body["status"] == "ready"
        status, headers, body = request(router.url + "/webhooks/shop", order("capped"))
        assert status == 503 and headers["Retry-After"] == "1"
        assert body["type"] == PROBLEMS + "too-many-connections"
    finally:
        for sock in idle:
            sock.close()
    assert_no_error_lines(router)


def test_problems_have_types_details_allow_and_challenges(tmp_path: Path, sink: Sink) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    (routes / "sources.yaml").write_text(
        dedent(
            """\
            shop:
              type: /type
              idempotency_key: /id
            stripe:
              type: /type
              verify: {scheme: stripe, secrets: [whsec_test_only_0123456789]}
            """
        )
    )
    router = RouterProcess(routes, tmp_path / "data").start()
    try:
        status, _, body = request(router.url + "/nowhere")
        assert status == 404
        assert body == {
            "type": PROBLEMS + "not-found",
            "title": "Not Found",
            "status": 404,
            "detail": "nothing is served at /nowhere",
        }
        status, headers, body = request(router.url + "/webhooks/shop", method="GET")
        assert status == 405 and "POST" in headers["Allow"]
        assert body["type"] == PROBLEMS + "method-not-allowed"
        assert body["detail"].startswith("GET is not allowed on /webhooks/shop; allowed: ")
        status, _, body = request(router.url + "/webhooks/nope", b"{}")
        assert (status, body["type"]) == (404, PROBLEMS + "unknown-source")
        status, _, body = request(router.url + "/webhooks/shop", b"{not json")
        assert (status, body["type"]) == (400, PROBLEMS + "bad-request")
        status, headers, body = request(router.url + "/webhooks/stripe", order("unsigned"))
        assert status == 401
        assert body["type"] == PROBLEMS + "signature-verification-failed"
        assert headers["WWW-Authenticate"] == 'stripe realm="stripe"'
    finally:
        router.stop()
    assert_no_error_lines(router)


def test_dot_segments_from_data_stay_data(tmp_path: Path, sink: Sink) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    text = (routes / "orders.yaml").read_text()
    (routes / "orders.yaml").write_text(
        text.replace("path: /orders}", 'path: "/tenants/{/tenant}/orders"}')
    )
    router = RouterProcess(routes, tmp_path / "data").start()
    try:
        for ident, tenant in (("dots-2", ".."), ("dots-1", "."), ("dots-3", "a.b")):
            status, _, _ = request(router.url + "/webhooks/shop", order(ident, tenant=tenant))
            assert status == 202
        deadline = time.monotonic() + 10
        while len(sink.snapshot()) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        router.stop()
    paths = sorted(call.raw_path for call in sink.snapshot())
    assert paths == ["/tenants/%2E%2E/orders", "/tenants/%2E/orders", "/tenants/a.b/orders"]
    assert_no_error_lines(router)


# Injected at the LMDB boundary of the real process: while FAIL_FILE exists, every write
# transaction of the journal fails to commit with lmdb.DiskError (ENOSPC), as a full disk does.
ENOSPC_HOOK = """
import os, lmdb

_open = lmdb.open
_FLAG = os.environ["INTERLOCK_TEST_ENOSPC_FLAG"]


class _Txn:
    def __init__(self, txn):
        self._txn = txn

    def __enter__(self):
        return self._txn.__enter__()

    def __exit__(self, kind, exc, tb):
        if kind is None and os.path.exists(_FLAG):
            self._txn.abort()
            raise lmdb.DiskError("mdb_txn_commit", 28)
        return self._txn.__exit__(kind, exc, tb)


class _Env:
    def __init__(self, env, journal):
        self._env, self._journal = env, journal

    def __getattr__(self, name):
        return getattr(self._env, name)

    def begin(self, *args, **kwargs):
        txn = self._env.begin(*args, **kwargs)
        return _Txn(txn) if self._journal and kwargs.get("write") else txn


def _failing_open(path, *args, **kwargs):
    return _Env(_open(path, *args, **kwargs), str(path).endswith("journal"))


lmdb.open = _failing_open
"""


def _metric(router: RouterProcess, prefix: str) -> float:
    with urllib.request.urlopen(router.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_full_disk_is_a_counted_503_and_readiness_follows(tmp_path: Path, sink: Sink) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(ENOSPC_HOOK)
    flag = tmp_path / "enospc"
    routes = write_routes(tmp_path / "routes", sink.url)
    env = {"PYTHONPATH": str(hook), "INTERLOCK_TEST_ENOSPC_FLAG": str(flag)}
    router = RouterProcess(routes, tmp_path / "data", env=env).start()
    counted = 'interlock_ingress_requests_total{source="shop",status="503"}'
    try:
        flag.touch()
        for n in range(3):
            status, headers, body = request(router.url + "/webhooks/shop", order(f"full-{n}"))
            assert status == 503 and "Retry-After" in headers
            assert body["type"] == PROBLEMS + "storage-full"
            assert "no space left" in body["detail"]
        status, _, body = request(router.url + "/readyz")
        assert (status, body["type"]) == (503, PROBLEMS + "not-ready")
        assert _metric(router, counted) == 3
        flag.unlink()  # space again: the next commit succeeds and readiness comes back
        status, _, _ = request(router.url + "/webhooks/shop", order("after"))
        assert status == 202
        assert request(router.url + "/readyz")[0] == 200
    finally:
        router.stop()
    log = router.log.read_text()
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1 and '"journal_full"' in errors[0], errors


def test_drain_reads_a_body_still_arriving(tmp_path: Path, sink: Sink) -> None:
    routes = write_routes(tmp_path / "routes", sink.url)
    router = RouterProcess(routes, tmp_path / "data", env={"INTERLOCK_DRAIN_GRACE_S": "0"})
    router.start()
    body = order("in-flight")
    head = (
        "POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock = raw_exchange(router.port, head.encode() + body[:10])
    try:
        assert router.proc is not None
        router.proc.terminate()  # SIGTERM while the body is half sent
        deadline = time.monotonic() + 20
        while True:  # until the listener is closed: only the request in flight is left
            assert time.monotonic() < deadline, router.log.read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", router.port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.05)
        sock.sendall(body[10:])
        status, answer = read_response(sock)
    finally:
        sock.close()
    assert status == 202, answer
    assert router.proc.wait(30) == 0
    assert_no_error_lines(router)


def _outside_address() -> str | None:
    """An address of this host that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_an_unverified_source_takes_loopback_peers_only(tmp_path: Path, sink: Sink) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this host has no address but loopback")
    routes = write_routes(tmp_path / "routes", sink.url)
    text = (routes / "sources.yaml").read_text()
    (routes / "sources.yaml").write_text(
        text + f"open:\n  type: /type\n  allow_unverified_from: [{outside}/32]\n"
    )
    env = {"INTERLOCK_HOST": "0.0.0.0"}
    router = RouterProcess(routes, tmp_path / "data", env=env).start()
    try:
        status, _, _ = request(router.url + "/webhooks/shop", order("local"))
        assert status == 202  # loopback: accepted
        url = f"http://{outside}:{router.port}"
        status, _, body = request(url + "/webhooks/shop", order("remote"))
        assert status == 403 and body["type"] == PROBLEMS + "unverified-source"
        status, _, _ = request(url + "/webhooks/open", order("allowed"))
        assert status == 202  # its network is named in allow_unverified_from
    finally:
        router.stop()
    assert_no_error_lines(router)
