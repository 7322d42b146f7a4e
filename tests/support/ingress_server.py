"""The ingress as ``interlock run`` serves it (HardenedAppRunner), in a thread with its own loop.

Synchronous tests (hypothesis) send requests from the test thread while the engine and the
server run on the server's loop; one server can then serve a whole module.
"""

from __future__ import annotations

from aiohttp import web

from router import Engine, Settings
from router.serve import ingress_runner
from tests.support.engine_server import EngineServer


class IngressServer(EngineServer):
    """The ingress app, served the way ``interlock run`` serves it (hardened runner)."""

    name = "ingress"

    def make_runner(self, engine: Engine, settings: Settings) -> web.AppRunner:
        return ingress_runner(engine, settings, shutdown_s=1)
