"""The ingress as ``interlock run`` serves it (HardenedAppRunner), in a thread with its own loop.

Synchronous tests (hypothesis) send requests from the test thread while the engine and the
server run on the server's loop; one server can then serve a whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from router import Engine, Settings
from router.serve import ingress_runner
from router.testing import Sink
from tests.support.engine_server import EngineServer
from tests.support.ingress_routes import write_ingress_routes


class IngressServer(EngineServer):
    """The ingress app, served the way ``interlock run`` serves it (hardened runner)."""

    name = "ingress"

    def make_runner(self, engine: Engine, settings: Settings) -> web.AppRunner:
        return ingress_runner(engine, settings, shutdown_s=1)


@contextmanager
def ingress_over_sink(base: Path) -> Iterator[IngressServer]:
    """An ingress on ``tests.support.ingress_routes`` (every scheme) delivering to a loopback sink.

    A short body deadline: a request that claims more body than it sends costs 2 s, not 10.
    """

    sink = Sink().start()
    routes = write_ingress_routes(base / "routes", sink.url)
    server = IngressServer(routes, base / "data", body_timeout_s=2.0).start()
    try:
        yield server
    finally:
        server.stop()
        sink.stop()
