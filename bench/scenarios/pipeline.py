"""The in-process pipeline through the embedded engine API.

Sync-on LMDB journal, routing, the ``bench.order_to_canonical`` transform and the null connector.
``concurrency`` submitters keep that many messages waiting for their commit, so group commit has
something to batch (as concurrent HTTP requests would). The clock runs from the first submit to
``wait_idle()``: every message is journaled, transformed and delivered.

Logging is configured as ``interlock run`` configures it (JSON lines, level info) and the
process's stdout/stderr go to a log file meanwhile, so the per-message log line is paid for, as
in production, without flooding the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import payload
from bench.machine import REPO

ROUTES = REPO / "bench" / "routes"


class EngineUnavailableError(Exception):
    """The embedded engine API cannot be imported (yet)."""


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send file descriptors 1 and 2 to ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def _register() -> None:
    from router.registry import register_transform, transforms

    if payload.TRANSFORM_NAME not in transforms():
        register_transform(payload.TRANSFORM_NAME, payload.order_to_canonical)


async def _drive(engine: Any, n: int, prefix: str, concurrency: int) -> int:
    """Submit ``n`` messages from ``concurrency`` tasks; returns how often one was refused."""
    from router.errors import UnavailableError

    counter = iter(range(n))
    refused = 0

    async def submitter() -> None:
        nonlocal refused
        for i in counter:
            body = payload.body(i, prefix)
            while True:
                try:
                    await engine.submit(payload.SOURCE, body, {})
                    break
                except UnavailableError:
                    refused += 1
                    await asyncio.sleep(0.005)

    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    return refused


async def _run(n: int, warmup: int, concurrency: int) -> dict[str, Any]:
    try:
        from router import engine as engine_module
        from router.config.loader import load_config
        from router.settings import Settings
    except ImportError as exc:
        raise EngineUnavailableError(str(exc)) from exc
    _register()
    with contextlib.suppress(ImportError):
        from router.logs import configure as configure_logs

        configure_logs("info")
    with (
        tempfile.TemporaryDirectory(prefix="interlock-bench-pipeline-") as tmp,
        _output_to(Path(tmp) / "engine.log"),
    ):
        settings = Settings(data_dir=Path(tmp), routes=ROUTES)
        configure = getattr(engine_module, "configure_interpreter", None)
        if configure is not None:
            configure(settings)
        engine = engine_module.Engine(load_config(ROUTES), settings)
        await engine.start()
        try:
            await _drive(engine, warmup, "w", concurrency)
            await engine.wait_idle(timeout=60.0)
            cpu0, t0 = time.process_time(), time.perf_counter()
            refused = await _drive(engine, n, "p", concurrency)
            t_acked = time.perf_counter()
            await engine.wait_idle(timeout=120.0)
            cpu1, t1 = time.process_time(), time.perf_counter()
        finally:
            await engine.stop()
    elapsed = t1 - t0
    return {
        "messages": n,
        "concurrency": concurrency,
        "sync": settings.sync,
        "msgs_per_s": round(n / elapsed, 1),
        "us_per_msg": round(elapsed / n * 1e6, 2),
        "ack_phase_s": round(t_acked - t0, 3),
        "drain_phase_s": round(t1 - t_acked, 3),
        "cpu_util": round((cpu1 - cpu0) / elapsed, 3),
        "refused_submits": refused,
    }


def run(n: int, warmup: int, concurrency: int = 256) -> dict[str, Any]:
    """Measure the pipeline in a fresh event loop (uvloop when installed, as ``interlock run``)."""
    try:
        import uvloop

        return uvloop.run(_run(n, warmup, concurrency))
    except ImportError:
        return asyncio.run(_run(n, warmup, concurrency))
