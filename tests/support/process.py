"""Drive a real ``interlock run`` process: start, wait for readiness, kill -9, terminate."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

INTERLOCK = str(Path(sys.executable).parent / "interlock")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RouterProcess:
    def __init__(
        self,
        routes: Path,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.routes = routes
        self.data_dir = data_dir
        self.port = port or free_port()
        # Each router gets its own admin port, so routers in parallel tests never collide.
        self.admin_port = free_port()
        # Demo mode (the shipped routes' secrets are demo defaults) unless ``env`` says otherwise.
        self.env = {
            **os.environ,
            "INTERLOCK_ADMIN_PORT": str(self.admin_port),
            "INTERLOCK_DEMO": "1",
            **(env or {}),
        }
        self.prefix = prefix or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"router-{self.port}.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> RouterProcess:
        self.starts += 1
        cmd = [
            *self.prefix,
            INTERLOCK,
            "run",
            "--routes",
            str(self.routes),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"router exited with {self.proc.returncode}; see {self.log}:\n"
                    + self.log.read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"router not ready after {timeout}s; see {self.log}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
