"""``interlock run``: the ingress server around an engine, with a graceful drain on SIGTERM.

Order on SIGTERM or SIGINT: readiness turns 503 at once; the listener closes and in-flight requests
finish (each still gets its ack after the fsync); then the journal queue is flushed, actors
stop, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from router.config import RouterConfig
from router.engine import Engine, configure_interpreter
from router.http.admin import create_admin_app, resolve_admin_tokens
from router.http.ingress import create_app
from router.http.server import HardenedAppRunner
from router.logs import get_logger
from router.settings import Settings

log = get_logger("interlock.serve")


async def serve(config: RouterConfig, settings: Settings) -> None:
    configure_interpreter(settings)
    engine = Engine(config, settings)
    runner = HardenedAppRunner(
        create_app(engine),
        handle_signals=False,
        shutdown_timeout=settings.shutdown_grace_s,
        max_connections=settings.max_connections,
        header_timeout_s=settings.header_timeout_s,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()  # /livez answers while recovery runs; /readyz waits for the engine
    admin_runner = HardenedAppRunner(
        create_admin_app(engine, resolve_admin_tokens(settings)),
        handle_signals=False,
        shutdown_timeout=settings.shutdown_grace_s,
        max_connections=64,
        header_timeout_s=settings.header_timeout_s,
    )
    await admin_runner.setup()
    admin_site = web.TCPSite(admin_runner, settings.admin_host, settings.admin_port)
    await admin_site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening", host=settings.host, port=settings.port, routes=str(settings.routes))
    log.info("admin_listening", host=settings.admin_host, port=admin_site.port)
    try:
        await engine.start()
        await stop.wait()
    finally:
        log.info("draining", grace_s=settings.drain_grace_s)
        engine.draining = True  # /readyz answers 503 from now on; requests are still accepted
        await asyncio.sleep(settings.drain_grace_s)  # let load balancers notice
        await runner.cleanup()  # stop listening; in-flight requests finish and get their acks
        await admin_runner.cleanup()  # before engine.stop(): replays go through the engine
        await engine.stop()
        log.info("stopped")
