"""Servers under test, each in its own process: the bare and limit baselines, ``interlock run``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.machine import REPO

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback port nobody listens on right now, and never handed out before by this process.

    The smoke run starts its parts side by side (threads): a port released here and handed to
    one part's server could otherwise be handed again to another part before the first binds it.
    """
    with _HANDED_OUT_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cpu(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if len(fields) > 12 else 0.0


def _descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class Server:
    """A server subprocess; its output goes to ``log``."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    tree: bool = False  # count the CPU of descendant processes too (a worker pool)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far; 0 if unknown."""
        if self.tree:
            return sum(_cpu(pid) for pid in _descendants(self.proc.pid))
        return _cpu(self.proc.pid)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll ``GET /readyz`` until it answers 200; raise with the log tail if it never does."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/readyz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=1.0) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s: {self.tail()}")

    def wait_quiet(self, limit: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until the server uses less than ``limit`` of a core (backlog drained)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if (self.cpu_seconds() - before) / 0.5 < limit:
                return

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _spawn(
    name: str, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Server:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    return Server(name=name, port=port, proc=proc, log=log)


def start_bare(workdir: Path) -> Server:
    """Start the bare aiohttp baseline on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.baselines.bare", "--port", str(port)]
    return _spawn("bare", argv, port, workdir / "bare.log")


def start_limit(workdir: Path) -> Server:
    """Start the ``limit`` baseline (journal-only durable ingest) with a fresh data dir."""
    port = free_port()
    data = workdir / "limit-data"
    data.mkdir(exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "bench.baselines.limit",
        "--port",
        str(port),
        "--data-dir",
        str(data),
    ]
    return _spawn("limit", argv, port, workdir / "limit.log")


def interlock_command() -> str:
    """The ``interlock`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "interlock"
    if script.exists():
        return str(script)
    found = shutil.which("interlock")
    if found is None:
        raise FileNotFoundError("the interlock console script is not installed")
    return found


def start_interlock(
    workdir: Path, routes: Path, *, with_transform: bool = False, env: dict[str, str] | None = None
) -> Server:
    """Start ``interlock run`` with ``routes`` and a fresh data dir on a free port.

    ``with_transform``: run it as ``python -m bench.interlock_server`` (the bench transform
    registered) instead of the console script.
    """
    port = free_port()
    data = workdir / "interlock-data"
    data.mkdir(exist_ok=True)
    command = (
        [sys.executable, "-m", "bench.interlock_server"]
        if with_transform
        else [interlock_command()]
    )
    argv = [
        *command,
        "run",
        "--routes",
        str(routes),
        "--data-dir",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    admin = {"INTERLOCK_ADMIN_PORT": str(free_port())}  # never collide with a running router
    admin["INTERLOCK_DEMO"] = "1"  # the shipped routes' secrets are demo defaults
    return _spawn("interlock", argv, port, workdir / "interlock.log", {**admin, **(env or {})})


def start_module(name: str, module: str, workdir: Path, *args: str, tree: bool = False) -> Server:
    """Start ``python -m module --port P *args`` on a free port (the e2e baselines and sink)."""
    port = free_port()
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    server = _spawn(name, argv, port, workdir / f"{name}.log")
    server.tree = tree
    return server
