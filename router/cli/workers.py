"""``interlock run --workers N``: a supervisor of N ``interlock run`` processes on one port.

The parent runs no engine and opens no journal. It checks the settings and the routes folder as
``interlock run`` would (so a bad one fails once, at once, with the same lines), then starts
worker i (1..N) as ``interlock run`` with the same flags but ``--workers``, and:

- ``--data-dir DATA_DIR/worker-<i>``: its own journal (LMDB is one process's);
- ``INTERLOCK_INSTANCE=<base>-w<i>``: base is ``INTERLOCK_INSTANCE``, else the host name, reduced
  to ``[A-Za-z0-9_-]``;
- ``INTERLOCK_REUSE_PORT=1``: every worker binds the one ingress port (SO_REUSEPORT), the kernel
  spreads the connections;
- ``INTERLOCK_ADMIN_PORT=ADMIN_PORT+i``: the admin API is each worker's own.

Workers inherit stdout and stderr. SIGTERM or SIGINT is forwarded to every worker, which drains
itself; the parent waits and exits 0 when all exited 0, else with the first other code (a signal
``s`` counts as ``128 + s``). A worker that exits on its own meanwhile is started again after a
backoff: 1 s, doubling up to 30 s, back to 1 s once a run lasted 60 s. Each exit and each restart
is one log line (``worker_exited``, ``worker_restarted``). On Linux a worker gets SIGTERM when
the supervisor dies (even by SIGKILL), so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.cli.options import EXIT_CONFIG, EXIT_USAGE
from router.errors import CliError

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
BACKOFF_RESET_S = 60.0  # a run this long was healthy: the next exit starts from 1 s again
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_INSTANCE_MAX = 64  # Settings.instance's pattern
_PR_SET_PDEATHSIG = 1


def supervise(workers: int, overrides: dict[str, Any], log_level: str | None) -> None:
    """``interlock run --workers N`` for ``workers != 1``: validate, then run the workers until
    SIGTERM or SIGINT; raises ``typer.Exit`` with the code of the workers' stop."""
    import typer

    from router.cli.check import load_or_exit
    from router.cli.startup import refuse_demo_secrets_or_exit, settings_or_exit
    from router.logs import configure

    if workers < 1:
        raise CliError(
            f"--workers: Input should be greater than or equal to 1 (got {workers})", EXIT_USAGE
        )
    settings = settings_or_exit(overrides, log_level)
    if not settings.backbone:
        raise CliError(
            f"--workers {workers} needs a backbone: set INTERLOCK_BACKBONE=nats://host:4222 (the"
            " workers share partitions through NATS JetStream; see docs/operations.md)",
            EXIT_CONFIG,
        )
    _check_ports(workers, settings.port, settings.admin_port, "port" in overrides)
    refuse_demo_secrets_or_exit(load_or_exit(settings.routes), settings.demo)
    configure(settings.log_level)
    base = instance_base(settings.instance)
    pool = [
        Worker(
            index=i,
            command=worker_command(overrides, log_level, settings.data_dir / f"worker-{i}"),
            env={
                **os.environ,
                "INTERLOCK_INSTANCE": f"{base}-w{i}",
                "INTERLOCK_REUSE_PORT": "1",
                "INTERLOCK_ADMIN_PORT": str(settings.admin_port + i),
            },
        )
        for i in range(1, workers + 1)
    ]
    raise typer.Exit(Supervisor(pool).run())


def _check_ports(workers: int, port: int, admin_port: int, port_flag: bool) -> None:
    """The ports N workers need: one fixed ingress port, and ``admin_port + i`` free of it."""
    if port == 0:
        where = "--port" if port_flag else "INTERLOCK_PORT"
        raise CliError(
            f"{where}: --workers {workers} needs a fixed ingress port to share (got 0)",
            EXIT_USAGE if port_flag else EXIT_CONFIG,
        )
    admin = range(admin_port + 1, admin_port + workers + 1)
    if admin_port == 0 or admin.stop - 1 > 65535 or port in admin:
        raise CliError(
            f"INTERLOCK_ADMIN_PORT: --workers {workers} puts worker i's admin API on"
            f" INTERLOCK_ADMIN_PORT + i, so ports {admin.start}-{admin.stop - 1} must be valid"
            f" and not the ingress port {port} (got {admin_port})",
            EXIT_CONFIG,
        )


def instance_base(configured: str) -> str:
    """The workers' instance name before ``-w<i>``: the configured one, else the host name,
    reduced to ``[A-Za-z0-9_-]`` and short enough for the suffix."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", configured or socket.gethostname()).strip("-")
    return base[: _INSTANCE_MAX - len("-w") - 4] or "interlock"


def worker_command(overrides: dict[str, Any], log_level: str | None, data_dir: Path) -> list[str]:
    """``interlock run`` with the parent's flags, except ``--workers`` and ``--data-dir``."""
    args = ["run", "--data-dir", str(data_dir)]
    for name in ("routes", "host", "port", "backbone"):
        if name in overrides:
            args += [f"--{name}", str(overrides[name])]
    if log_level is not None:
        args += ["--log-level", log_level]
    if overrides.get("demo"):
        args.append("--demo")
    script = Path(sys.argv[0])
    if script.name == "interlock" and script.is_file():
        return [str(script), *args]
    # Started some other way (python -c, a test runner): the console script's own entry point.
    return [sys.executable, "-c", "from router.cli import main; main()", *args]


@dataclass
class Worker:
    index: int
    command: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = BACKOFF_FIRST_S
    restart_at: float | None = None
    last_code: int = 0
    previous_pid: int = 0


@dataclass
class Supervisor:
    """Runs :class:`Worker` processes until a stop signal; see the module's docstring."""

    workers: list[Worker]
    clock: Callable[[], float] = time.monotonic
    stopping: bool = False
    codes: list[int] = field(default_factory=list)  # exits after the stop began, in order
    _signals: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        from router.logs import get_logger

        self.log = get_logger("interlock.workers")

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous = {sig: signal.getsignal(sig) for sig in (*_STOP_SIGNALS, signal.SIGCHLD)}
        old_wakeup = signal.set_wakeup_fd(wake_write)
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
        try:
            for worker in self.workers:
                self._start(worker)
            return self._loop(wake_read)
        finally:
            self._abandon()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_read)
            os.close(wake_write)

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        self._signals.append(signum)

    def _loop(self, wake: int) -> int:
        while True:
            while self._signals:
                self._stop(self._signals.pop(0))
            self._reap()
            if self.stopping and not any(w.proc for w in self.workers):
                return next((code for code in self.codes if code != 0), 0)
            if not self.stopping:
                self._restart_due()
            select.select([wake], [], [], self._timeout())
            with contextlib.suppress(BlockingIOError):
                while os.read(wake, 512):
                    pass

    def _timeout(self) -> float:
        """Until the next restart is due; at most 1 s (a safety net: SIGCHLD wakes us)."""
        due = [w.restart_at for w in self.workers if w.restart_at is not None]
        if self.stopping or not due:
            return 1.0
        return min(1.0, max(0.0, min(due) - self.clock()))

    def _stop(self, signum: int) -> None:
        if not self.stopping:
            self.stopping = True
            self.log.info("workers_stopping", signal=signal.Signals(signum).name)
            for worker in self.workers:
                if worker.restart_at is not None:  # it had failed and waits for its restart
                    worker.restart_at = None
                    self.codes.append(worker.last_code)
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.proc.send_signal(signum)

    def _reap(self) -> None:
        for worker in self.workers:
            if worker.proc is None or worker.proc.poll() is None:
                continue
            code = _exit_code(worker.proc.returncode)
            pid, uptime = worker.proc.pid, self.clock() - worker.started_at
            worker.proc, worker.last_code, worker.previous_pid = None, code, pid
            if self.stopping:
                self.codes.append(code)
                self.log.info("worker_exited", worker=worker.index, pid=pid, code=code)
                continue
            if uptime >= BACKOFF_RESET_S:
                worker.backoff_s = BACKOFF_FIRST_S
            worker.restart_at = self.clock() + worker.backoff_s
            self.log.warning(
                "worker_exited",
                worker=worker.index,
                pid=pid,
                code=code,
                uptime_s=round(uptime, 3),
                restart_in_s=worker.backoff_s,
            )
            worker.backoff_s = min(worker.backoff_s * 2, BACKOFF_MAX_S)

    def _restart_due(self) -> None:
        now = self.clock()
        for worker in self.workers:
            if worker.restart_at is None or worker.restart_at > now:
                continue
            worker.restart_at = None
            try:
                self._start(worker)
            except OSError as exc:  # e.g. the executable went away: try again later
                worker.restart_at = self.clock() + worker.backoff_s
                self.log.warning(
                    "worker_restart_failed",
                    worker=worker.index,
                    error=str(exc),
                    restart_in_s=worker.backoff_s,
                )
                worker.backoff_s = min(worker.backoff_s * 2, BACKOFF_MAX_S)
                continue
            assert worker.proc is not None
            self.log.info(
                "worker_restarted",
                worker=worker.index,
                pid=worker.proc.pid,
                previous_pid=worker.previous_pid,
                code=worker.last_code,
            )

    def _start(self, worker: Worker) -> None:
        worker.proc = subprocess.Popen(  # noqa: S603 - our own command line
            worker.command,
            env=worker.env,
            stdin=subprocess.DEVNULL,
            # the supervisor has no threads, so a preexec_fn between fork and exec is safe
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        worker.started_at = self.clock()
        if worker.previous_pid == 0:
            self.log.info("worker_started", worker=worker.index, pid=worker.proc.pid)

    def _abandon(self) -> None:
        """Leaving on an error of our own (not a stop): the workers still running are stopped."""
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _exit_code(returncode: int) -> int:
    """A worker's exit as a shell would report it: a signal ``s`` is ``128 + s``."""
    return 128 - returncode if returncode < 0 else returncode


def _die_with_parent(parent: int) -> Callable[[], None]:
    """In the forked worker: ask Linux for SIGTERM when the supervisor dies (PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before the request took
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
