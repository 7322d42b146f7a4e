"""``interlock run --workers N`` and SO_REUSEPORT, as real processes.

Without a backbone ``--workers 3`` is one line and exit 78 (``--workers 0`` one usage line, exit
2); two routers with ``INTERLOCK_REUSE_PORT=1`` share one ingress port while one without it still
finds the port busy (69); the supervisor starts two workers, each with its own data folder,
instance name and admin port, replaces a worker killed with SIGKILL, and on SIGTERM stops them all
and exits 0. Nothing here asserts a duration: every wait polls up to a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import cast

import pytest

from router.cli.workers import BACKOFF_RESET_S, Supervisor, Worker
from tests.support.cli_runs import run_together
from tests.support.process import INTERLOCK, RouterProcess, free_port
from tests.support.routes import write_routes

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69
EXIT_CONFIG = 78
TOKEN = "workers-test-token"
NATS = ("127.0.0.1", 4222)
NO_BACKBONE = (
    "error: --workers 3 needs a backbone: set INTERLOCK_BACKBONE=nats://host:4222 (the workers"
    " share partitions through NATS JetStream; see docs/operations.md)"
)


def until(
    check: Callable[[], bool],
    what: str,
    within: float = 60.0,
    parent: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``check`` up to ``within`` seconds; fail at once if ``parent`` exited meanwhile."""
    deadline = time.monotonic() + within
    while not check():
        if parent is not None and parent.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None else ""
            raise AssertionError(
                f"supervisor exited with {parent.returncode} before {what}:\n{tail}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {within}s")
        time.sleep(0.05)


def admin_readiness(port: int) -> dict[str, object] | None:
    """The admin API's ``/readiness`` on ``port``, or None while nothing answers there."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/readiness", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            body: dict[str, object] = json.loads(response.read())
            return body
    except (OSError, urllib.error.URLError, ValueError):
        return None


def answers(port: int) -> bool:
    return admin_readiness(port) is not None


def ready_on(port: int) -> bool:
    answer = admin_readiness(port)
    return answer is not None and answer.get("ready") is True


def test_workers_without_a_backbone_is_one_line_and_exit_78(tmp_path: Path) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    run = ["run", "--routes", str(routes), "--data-dir", str(tmp_path / "data")]
    results = run_together(
        {
            "three": ([*run, "--workers", "3"], {"INTERLOCK_DEMO": "1"}),
            "zero": ([*run, "--workers", "0"], {"INTERLOCK_DEMO": "1"}),
        }
    )
    three, zero = results["three"], results["zero"]
    assert three.returncode == EXIT_CONFIG
    assert three.stderr.splitlines() == [NO_BACKBONE]
    assert three.stdout == ""
    assert zero.returncode == EXIT_USAGE
    assert zero.stderr.splitlines() == [
        "error: --workers: Input should be greater than or equal to 1 (got 0)"
    ]
    assert "Traceback" not in three.stderr + zero.stderr
    assert not (tmp_path / "data").exists()  # the parent refused before it touched anything


@pytest.fixture
def routers(tmp_path: Path) -> Iterator[list[RouterProcess]]:
    made: list[RouterProcess] = []
    yield made
    for router in made:
        router.stop()


def test_reuse_port_lets_two_routers_share_the_ingress_port(
    tmp_path: Path, routers: list[RouterProcess]
) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    port = free_port()
    # No backbone: each router is on its own journal (the engine side of the cluster is apart).
    shared = {"INTERLOCK_REUSE_PORT": "1", "INTERLOCK_ADMIN_TOKEN": TOKEN, "INTERLOCK_BACKBONE": ""}
    for name in ("a", "b"):  # one parent folder each: RouterProcess logs beside DATA_DIR
        (tmp_path / name).mkdir()
        router = RouterProcess(routes, tmp_path / name / "data", port=port, env=shared)
        routers.append(router.start(wait=False))
    first, second = routers
    until(lambda: ready_on(first.admin_port), "the first router ready")
    until(lambda: ready_on(second.admin_port), "the second router ready")
    with urllib.request.urlopen(first.url + "/readyz", timeout=5) as response:
        assert response.status == 200  # whichever of the two the kernel chose
    assert first.proc is not None and first.proc.poll() is None
    assert second.proc is not None and second.proc.poll() is None

    plain = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    plain |= {"INTERLOCK_DEMO": "1", "INTERLOCK_ADMIN_PORT": str(free_port())}
    command = [INTERLOCK, "run", "--routes", str(routes), "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "c" / "data")]
    third = subprocess.run(
        command, capture_output=True, text=True, env=plain, timeout=60, check=False
    )
    assert third.returncode == EXIT_UNAVAILABLE  # without SO_REUSEPORT the port is busy
    assert third.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} for the ingress (address already in use):"
        " stop what listens there, or choose another port (--port, INTERLOCK_PORT)"
    ]
    assert first.terminate() == 0
    assert second.terminate() == 0


def nats_up() -> bool:
    try:
        with socket.create_connection(NATS, timeout=0.5):
            return True
    except OSError:
        return False


def admin_base(workers: int) -> int:
    """A port ``p`` with ``p + 1 .. p + workers`` free (worker i's admin API is on ``p + i``)."""
    for _ in range(100):
        base = free_port()
        if base + workers > 65535:
            continue
        try:
            for port in range(base + 1, base + workers + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError(f"no run of {workers} free ports")


def children(parent: int) -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{parent}/task").glob("*"):
        try:
            pids |= {int(pid) for pid in (task / "children").read_text().split()}
        except OSError:
            continue  # the task ended meanwhile
    return pids


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode() for key, _, value in pairs}


def by_worker(parent: int) -> dict[str, int]:
    """The supervisor's children by their instance name (``<base>-w<i>``)."""
    found = {}
    for pid in children(parent):
        instance = environ(pid).get("INTERLOCK_INSTANCE")
        if instance is not None:
            found[instance] = pid
    return found


def log_events(log: Path) -> list[dict[str, object]]:
    """The supervisor's ``worker_*`` lines (the workers write to the same file)."""
    events = []
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and str(event.get("event", "")).startswith("worker_"):
            events.append(event)
    return events


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads the supervisor's children from /proc"
)
def test_the_supervisor_runs_restarts_and_stops_its_workers(tmp_path: Path) -> None:
    if not nats_up():
        pytest.skip("no NATS on 127.0.0.1:4222")
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    data = tmp_path / "data"
    admin = admin_base(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    env |= {
        "INTERLOCK_DEMO": "1",
        "INTERLOCK_ADMIN_TOKEN": TOKEN,
        "INTERLOCK_ADMIN_PORT": str(admin),
        "INTERLOCK_BACKBONE": "nats://127.0.0.1:4222",
        # its own stream and buckets on the shared server, once the engine uses the backbone
        "INTERLOCK_BACKBONE_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        "INTERLOCK_INSTANCE": "edge",
    }
    command = [INTERLOCK, "run", "--routes", str(routes), "--data-dir", str(data)]
    command += ["--port", str(free_port()), "--workers", "2"]
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        parent = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    watch = partial(until, parent=parent, log=log)
    seen: set[int] = set()
    try:
        watch(lambda: set(by_worker(parent.pid)) == {"edge-w1", "edge-w2"}, "two workers")
        workers = by_worker(parent.pid)
        seen |= set(workers.values())
        for i in (1, 2):
            pid = workers[f"edge-w{i}"]
            assert environ(pid)["INTERLOCK_REUSE_PORT"] == "1"
            assert environ(pid)["INTERLOCK_ADMIN_PORT"] == str(admin + i)
            watch((data / f"worker-{i}").is_dir, f"worker-{i} created")
            watch(partial(answers, admin + i), f"worker {i}'s admin API on {admin + i}")
        assert not (data / "LOCK").exists()  # the parent holds no journal

        killed = workers["edge-w1"]
        os.kill(killed, signal.SIGKILL)
        watch(
            lambda: by_worker(parent.pid).get("edge-w1") not in (None, killed),
            "worker 1 replaced",
        )
        replaced = by_worker(parent.pid)
        seen |= set(replaced.values())
        assert replaced["edge-w2"] == workers["edge-w2"]  # the other one kept running
        watch(partial(answers, admin + 1), "the new worker 1's admin API")

        parent.send_signal(signal.SIGTERM)
        assert parent.wait(90) == 0
        assert not children(parent.pid)
        assert not [pid for pid in seen if alive(pid)]
        events = log_events(log)
        exited = [e for e in events if e.get("event") == "worker_exited" and e["pid"] == killed]
        assert [(e["worker"], e["code"]) for e in exited] == [(1, 128 + signal.SIGKILL)]
        restarted = [e for e in events if e.get("event") == "worker_restarted"]
        assert [(e["worker"], e["pid"]) for e in restarted] == [(1, replaced["edge-w1"])]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class Exited:
    """A worker process that has exited with ``returncode`` (what the supervisor polls)."""

    def __init__(self, pid: int, returncode: int) -> None:
        self.pid, self.returncode = pid, returncode

    def poll(self) -> int:
        return self.returncode


def test_a_worker_that_keeps_failing_waits_longer_up_to_30s_and_a_long_run_resets_it() -> None:
    now = [1000.0]
    worker = Worker(index=1, command=["true"], env={})
    supervisor = Supervisor([worker], clock=lambda: now[0])
    waits: list[float] = []
    for pid, uptime in enumerate([1.0] * 7 + [BACKOFF_RESET_S, 1.0], start=100):
        worker.started_at = now[0]
        worker.proc = cast("subprocess.Popen[bytes]", Exited(pid, 1))
        now[0] += uptime
        supervisor._reap()
        assert worker.proc is None and worker.restart_at is not None
        waits.append(worker.restart_at - now[0])
        now[0] = worker.restart_at  # restarted when due
    assert waits == [1, 2, 4, 8, 16, 30, 30, 1, 2]
    assert supervisor.codes == []  # not stopping: nothing counts toward the exit code
