"""Start simulators on loopback ports: in the current event loop, or in a thread of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from simulators._base import Faults, Simulator
from simulators.dynamics import DynamicsSimulator
from simulators.netsuite import NetSuiteSimulator
from simulators.salesforce import SalesforceSimulator
from simulators.shopify import ShopifySimulator
from simulators.stripe import StripeSimulator
from simulators.webhook_target import WebhookTargetSimulator
from simulators.zendesk import ZendeskSimulator

SIMULATORS: dict[str, type[Simulator]] = {
    cls.name: cls
    for cls in (
        NetSuiteSimulator,
        DynamicsSimulator,
        StripeSimulator,
        SalesforceSimulator,
        ZendeskSimulator,
        ShopifySimulator,
        WebhookTargetSimulator,
    )
}
"""Simulator name -> class, in port order: with ``base_port`` P the n-th name listens on P + n."""

_T = TypeVar("_T")


class SimulatorSet:
    """Running simulators, each on its own port. Use :func:`start` to make one."""

    def __init__(self) -> None:
        self.simulators: dict[str, Simulator] = {}
        self._urls: dict[str, str] = {}
        self._runners: list[web.AppRunner] = []

    @property
    def names(self) -> list[str]:
        return list(self.simulators)

    def url(self, name: str) -> str:
        """The base URL of simulator ``name``, e.g. ``http://127.0.0.1:40123``."""
        return self._urls[name]

    def config(self, name: str) -> dict[str, str]:
        """What a connector needs: ``base_url`` plus the vendor's credentials and endpoints."""
        return self.simulators[name].config(self._urls[name])

    def simulator(self, name: str) -> Simulator:
        """The simulator object itself (same event loop only): state, faults, request log."""
        return self.simulators[name]

    async def _add(self, sim: Simulator, host: str, port: int) -> None:
        runner = web.AppRunner(
            sim.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        bound = runner.addresses[0][1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        self.simulators[sim.name] = sim
        self._urls[sim.name] = f"http://{shown}:{bound}"

    async def close(self) -> None:
        """Stop every server; requests held by the timeout fault are released first."""
        for sim in self.simulators.values():
            sim.release_held()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> SimulatorSet:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def start(
    names: list[str] | None = None,
    host: str = "127.0.0.1",
    base_port: int = 0,
    settings: dict[str, dict[str, Any]] | None = None,
) -> SimulatorSet:
    """Start the named simulators (default: all) in the running event loop.

    Args:
        names: Simulator names (keys of ``SIMULATORS``); None starts them all.
        host: The address to bind.
        base_port: 0 for ephemeral ports; else simulator n of ``SIMULATORS`` binds base_port + n.
        settings: Per simulator, constructor keywords: credentials (``api_key=...``),
            ``faults={...}``, ``token_ttl=...``, and for ``webhook`` ``status=...``.

    Raises:
        KeyError: An unknown simulator name.
    """
    chosen = names or list(SIMULATORS)
    unknown = [n for n in chosen if n not in SIMULATORS]
    if unknown:
        raise KeyError(f"unknown simulators {unknown}; choose from {list(SIMULATORS)}")
    order = list(SIMULATORS)
    sims = SimulatorSet()
    try:
        for name in chosen:
            sim = SIMULATORS[name](**(settings or {}).get(name, {}))
            await sims._add(sim, host, base_port + order.index(name) if base_port else 0)
    except BaseException:
        await sims.close()
        raise
    return sims


class SimulatorThread:
    """Simulators on their own event loop in a daemon thread, for synchronous callers.

    Example:
        >>> with SimulatorThread(["stripe"]) as sims:
        ...     url = sims.url("stripe")
    """

    def __init__(
        self,
        names: list[str] | None = None,
        host: str = "127.0.0.1",
        base_port: int = 0,
        settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self._args = (names, host, base_port, settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="simulators", daemon=True
        )
        self._set: SimulatorSet | None = None

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        """Start the thread and the servers; raises what starting them raised."""
        self._thread.start()
        self._set = asyncio.run_coroutine_threadsafe(start(*self._args), self._loop).result(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the servers and the thread."""
        if self._set is not None:
            asyncio.run_coroutine_threadsafe(self._set.close(), self._loop).result(timeout)
            self._set = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()

    @property
    def set(self) -> SimulatorSet:
        if self._set is None:
            raise RuntimeError("the simulators are not running; call start() first")
        return self._set

    def url(self, name: str) -> str:
        return self.set.url(name)

    def config(self, name: str) -> dict[str, str]:
        return self.set.config(name)

    def call(self, fn: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Run ``fn`` on the simulators' loop (they are not thread-safe) and return its result."""

        async def run() -> _T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def set_faults(self, name: str, **faults: Any) -> Faults:
        """Merge ``faults`` into simulator ``name``'s faults (see ``Faults``)."""
        sim = self.set.simulator(name)
        return self.call(lambda: sim.set_faults(faults))

    def reset(self, name: str) -> None:
        sim = self.set.simulator(name)
        self.call(sim.reset)

    def advance_clock(self, name: str, seconds: float) -> float:
        """Move simulator ``name``'s clock ``seconds`` forward (its vendor time); the new now."""
        sim = self.set.simulator(name)
        return self.call(lambda: sim.clock.advance(seconds))

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def routes_env(sims: SimulatorThread | SimulatorSet) -> dict[str, str]:
    """What the shipped ``routes/connectors.yaml`` reads to point every connector at ``sims``
    (tests, the benchmark and embedded demos start them on ephemeral ports)."""
    d365 = sims.config("dynamics")
    salesforce = sims.config("salesforce")
    webhook = sims.url("webhook")
    return {
        "NETSUITE_URL": sims.url("netsuite"),
        "STRIPE_API_URL": sims.url("stripe"),
        "SALESFORCE_URL": sims.url("salesforce"),
        "SALESFORCE_TOKEN_URL": salesforce["token_url"],
        "ZENDESK_URL": sims.url("zendesk"),
        "ENTITLEMENTS_URL": webhook,
        "THREEPL_URL": webhook,
        "OPS_ALERTS_URL": webhook,
        "ORDERS_URL": webhook,
        "D365_URL": d365["base_url"],
        "D365_TOKEN_URL": d365["token_url"],
        "D365_SCOPE": d365["scope"],
    }
