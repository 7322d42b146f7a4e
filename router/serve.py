"""``interlock run``: the ingress server around an engine, with a graceful drain on SIGTERM.

Order on SIGTERM or SIGINT: readiness turns 503 at once; the listener closes and in-flight requests
finish (a body still arriving is read to its end; each still gets its ack after the fsync); then
the journal queue is flushed, actors stop, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import errno
import signal

from aiohttp import web

from router.config import RouterConfig
from router.engine import Engine, configure_interpreter
from router.errors import ListenError
from router.http.admin import create_admin_app, resolve_admin_tokens
from router.http.ingress import LIVE, create_app, readiness
from router.http.server import HardenedAppRunner
from router.logs import get_logger
from router.settings import Settings
from router.store.lock import DataDirLock

log = get_logger("interlock.serve")


def ingress_runner(engine: Engine, settings: Settings, shutdown_s: float) -> HardenedAppRunner:
    """The ingress app behind its hardened runner: connection cap, header deadline, and the
    health probes exempt from the cap (idle connections must not fail a liveness probe)."""
    return HardenedAppRunner(
        create_app(engine),
        handle_signals=False,
        shutdown_timeout=shutdown_s,
        max_connections=settings.max_connections,
        header_timeout_s=settings.header_timeout_s,
        probes={"/livez": lambda: (200, LIVE), "/readyz": lambda: readiness(engine)},
    )


async def serve(config: RouterConfig, settings: Settings) -> None:
    """Run until SIGTERM or SIGINT.

    Raises, before anything listens or is written when it can: :class:`DataDirLockedError` (a
    live router holds the data folder), :class:`StorageOpenError` (it cannot be written),
    :class:`ListenError` (a port is taken), :class:`ConfigError` (an empty admin token).
    """
    configure_interpreter(settings)
    # The engine takes the data folder's lock when it starts, after the ports are bound; a
    # second router fails here already, before it listens (a race of two starts still ends at
    # the engine's lock).
    probe = DataDirLock(settings.data_dir)
    probe.acquire()
    probe.release()
    engine = Engine(config, settings)
    runner = ingress_runner(engine, settings, settings.shutdown_grace_s)
    await runner.setup()
    # SO_REUSEPORT (`interlock run --workers N`): the workers bind one port, the kernel spreads
    # the connections; the admin listener below stays one process's own.
    site = web.TCPSite(
        runner, settings.host, settings.port, backlog=1024, reuse_port=settings.reuse_port
    )
    fix = "stop what listens there, or choose another port (--port, INTERLOCK_PORT)"
    await _listen(site, runner, "ingress", settings.host, settings.port, fix)
    # /livez answers while recovery runs; /readyz waits for the engine
    admin_runner = HardenedAppRunner(
        create_admin_app(engine, resolve_admin_tokens(settings)),
        handle_signals=False,
        shutdown_timeout=settings.shutdown_grace_s,
        max_connections=64,
        header_timeout_s=settings.header_timeout_s,
    )
    await admin_runner.setup()
    admin_site = web.TCPSite(admin_runner, settings.admin_host, settings.admin_port)
    fix = "stop what listens there, or choose another port (INTERLOCK_ADMIN_PORT)"
    try:
        await _listen(
            admin_site, admin_runner, "admin API", settings.admin_host, settings.admin_port, fix
        )
    except ListenError:
        await runner.cleanup()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening", host=settings.host, port=settings.port, routes=str(settings.routes))
    log.info("admin_listening", host=settings.admin_host, port=admin_site.port)
    started = False
    try:
        await engine.start()
        started = True
        await stop.wait()
    finally:
        log.info("draining", grace_s=settings.drain_grace_s if started else 0)
        engine.draining = True  # /readyz answers 503 from now on; requests are still accepted
        if started:  # a start that failed was never ready: no load balancer to wait for
            await asyncio.sleep(settings.drain_grace_s)  # let load balancers notice
        await runner.cleanup()  # stop listening; in-flight requests finish and get their acks
        await admin_runner.cleanup()  # before engine.stop(): replays go through the engine
        await engine.stop()
        log.info("stopped")


async def _listen(
    site: web.TCPSite, runner: web.BaseRunner, what: str, host: str, port: int, fix: str
) -> None:
    """Start ``site``; a port that is taken (or not ours to bind) is a :class:`ListenError`."""
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use"
        raise ListenError(what, host, port, reason.lower(), fix) from None
