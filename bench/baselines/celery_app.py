"""Celery with Redis: an aiohttp handler enqueues, a worker process transforms and delivers.

What a team reaching for a task queue would write: ``POST /webhooks/{source}`` calls
``deliver.delay(body)`` (a synchronous ``LPUSH`` to Redis, as in most handlers) and answers
``202``; a prefork worker validates, runs ``order_to_canonical`` and POSTs to the sink with a
keep-alive ``requests.Session`` per worker process. Redis holds the queue (no fsync by default).

``python -m bench.baselines.celery_app --port P --target URL [--concurrency N]`` starts the worker
as a child process and the handler in this one; ``/readyz`` answers 200 once the worker is ready.
Needs ``celery[redis]`` and a Redis on ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.baselines._serve import serve

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = "interlock-bench"
_READY_ENV = "BENCH_CELERY_READY_FILE"
_TARGET_ENV = "BENCH_SINK_URL"


def unavailable() -> str | None:
    """Why the Celery baseline cannot run here, or None when it can."""
    for module in ("celery", "redis", "requests"):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"{module} is not installed (pip install 'celery[redis]')"
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(64).startswith(b"+PONG"):
                return f"Redis at {REDIS_URL} does not answer PING"
    except OSError as exc:
        return f"Redis at {REDIS_URL} unreachable: {exc}"
    return None


def _make_app() -> Any:
    """The Celery application and its one task (celery is imported only when it is used)."""
    celery: Any = importlib.import_module("celery")
    signals: Any = importlib.import_module("celery.signals")
    app = celery.Celery("interlock_bench", broker=REDIS_URL)
    app.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    sessions: dict[int, Any] = {}

    @app.task(name="bench.deliver", acks_late=False)  # type: ignore[untyped-decorator]
    def deliver(raw: str) -> None:
        from bench.payload import BenchOrder, order_to_canonical

        requests: Any = importlib.import_module("requests")
        session = sessions.get(os.getpid())
        if session is None:
            session = sessions[os.getpid()] = requests.Session()
        body = order_to_canonical(BenchOrder.model_validate_json(raw)).model_dump_json()
        response = session.post(
            os.environ[_TARGET_ENV],
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        response.raise_for_status()

    @signals.worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _ready(**_: Any) -> None:
        path = os.environ.get(_READY_ENV)
        if path:
            Path(path).touch()

    app.deliver = deliver
    return app


app: Any = _make_app() if os.environ.get(_READY_ENV) else None  # the worker imports `app`


def _serve(port: int, ready_file: Path) -> None:
    from aiohttp import web

    celery_app = app if app is not None else _make_app()
    deliver = celery_app.deliver
    ready_path = str(ready_file)

    async def accept(request: web.Request) -> web.Response:
        raw = await request.read()
        deliver.delay(raw.decode())
        return web.json_response({"queued": True}, status=202)

    async def ready(_: web.Request) -> web.Response:
        up = os.path.exists(ready_path)  # noqa: PTH110, ASYNC240 - one stat, not worth a thread
        return web.json_response({"ready": up}, status=200 if up else 503)

    application = web.Application()
    application.router.add_post("/webhooks/{source}", accept)
    application.router.add_get("/readyz", ready)
    serve(application, "127.0.0.1", port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Celery + Redis baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the sink URL the worker POSTs to")
    parser.add_argument("--concurrency", type=int, default=4, help="prefork worker processes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="interlock-bench-celery-") as tmp:
        ready_file = Path(tmp) / "ready"
        env = {**os.environ, _READY_ENV: str(ready_file), _TARGET_ENV: args.target}
        os.environ.update({_READY_ENV: str(ready_file), _TARGET_ENV: args.target})
        base = [sys.executable, "-m", "celery", "-A", "bench.baselines.celery_app:app"]
        subprocess.run(
            [*base, "purge", "-f", "-Q", QUEUE],
            env=env,
            check=False,
            capture_output=True,
            timeout=30,
        )
        worker = subprocess.Popen(
            [
                *base,
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(args.concurrency),
                "--loglevel",
                "WARNING",
                "-Q",
                QUEUE,
                "-O",
                "fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
        )
        try:
            _serve(args.port, ready_file)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)


if __name__ == "__main__":
    main()
