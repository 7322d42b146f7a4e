"""Request/reply routes against the Dynamics 365 simulator: in time, 504, stale fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from router.http.ingress import create_app
from simulators.cli import seed_demo
from simulators.runner import SimulatorThread
from tests.conftest import EngineFactory

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}
ClientFactory = Callable[[SimulatorThread, str, str], Awaitable[Client]]


@pytest.fixture(scope="module")
def dynamics() -> Iterator[SimulatorThread]:
    with SimulatorThread(["dynamics"]) as sims:
        sims.call(lambda: seed_demo(sims.set))
        yield sims


def write_routes(folder: Path, sims: SimulatorThread, *, timeout: str, cache: str) -> Path:
    config = sims.config("dynamics")
    folder.mkdir()
    (folder / "sources.yaml").write_text("{}\n")
    (folder / "connectors.yaml").write_text(
        "d365:\n  kind: dynamics\n"
        f"  base_url: {config['base_url']}\n  timeout: 5s\n  breaker: null\n"
        "  auth:\n    kind: oauth2-client-credentials\n"
        f"    token_url: {config['token_url']}\n    client_id: {config['client_id']}\n"
        f"    client_secret: {config['client_secret']}\n    scope: {config['scope']}\n"
    )
    (folder / "stock.yaml").write_text(
        "id: stock\nkind: request-reply\nsteps:\n  - transform: dynamics.inventory_query\n"
        "  - to: {connector: d365, operation: query_inventory}\n"
        f"reply: [dynamics.inventory_availability]\ntimeout: {timeout}\ncache: {cache}\n"
    )
    return folder


@pytest.fixture
async def client_factory(
    tmp_path: Path, make_engine: EngineFactory
) -> AsyncIterator[ClientFactory]:
    clients: list[Client] = []

    async def make(sims: SimulatorThread, answer_within: str, cache: str) -> Client:
        engine = await make_engine(
            write_routes(tmp_path / f"r{len(clients)}", sims, timeout=answer_within, cache=cache)
        )
        client: Client = TestClient(TestServer(create_app(engine)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def requests_seen(sims: SimulatorThread) -> int:
    return sims.call(lambda: len(sims.set.simulator("dynamics").log.entries()))


async def ask(client: Client, sku: str) -> tuple[int, dict[str, object], str]:
    response = await client.post("/api/stock", data=orjson.dumps({"sku": sku}), headers=JSON)
    return (
        response.status,
        await response.json(content_type=None),
        response.headers.get("X-Interlock-Cache", ""),
    )


async def test_answers_in_time_then_from_the_cache(
    dynamics: SimulatorThread, client_factory: ClientFactory
) -> None:
    dynamics.set_faults("dynamics", latency=0.0)
    client = await client_factory(dynamics, "2s", "{ttl: 30s, key: /sku}")
    status, body, cache = await ask(client, "SKU-1")
    assert (status, cache) == (200, "miss")
    assert body == {
        "sku": "SKU-1",
        "available": 15.0,
        "in_stock": True,
        "locations": [
            {"warehouse": "WH-EAST", "available": 12.0},
            {"warehouse": "WH-WEST", "available": 3.0},
        ],
    }
    calls_before = requests_seen(dynamics)
    assert await ask(client, "SKU-1") == (200, body, "hit")
    assert requests_seen(dynamics) == calls_before  # the cache answered
    status, body, _ = await ask(client, "SKU-2")
    assert status == 200 and body["in_stock"] is False


async def test_a_slow_target_is_a_504_problem(
    dynamics: SimulatorThread, client_factory: ClientFactory
) -> None:
    client = await client_factory(dynamics, "300ms", "null")
    await ask(client, "SKU-1")  # fetch the OAuth token before the target turns slow
    dynamics.set_faults("dynamics", latency=1.5, match="msdyn_inventoryonhands")
    try:
        status, body, _ = await ask(client, "SKU-1")
    finally:
        dynamics.set_faults("dynamics", latency=0.0, match=None)
    assert status == 504
    assert body["title"] == "Gateway Timeout" and "0.3s" in str(body["detail"])


async def test_an_expired_answer_is_served_stale_while_the_target_is_down(
    dynamics: SimulatorThread, client_factory: ClientFactory
) -> None:
    client = await client_factory(dynamics, "1s", "{ttl: 100ms, key: /sku, stale_for: 1m}")
    status, fresh, cache = await ask(client, "SKU-1")
    assert (status, cache) == (200, "miss")
    await asyncio.sleep(0.2)  # the cached answer expires
    dynamics.set_faults("dynamics", down_for=30.0)
    try:
        assert await ask(client, "SKU-1") == (200, fresh, "stale")
        status, body, _ = await ask(
            client, "SKU-2"
        )  # never answered before: nothing to fall back on
    finally:
        dynamics.reset("dynamics")
        dynamics.call(lambda: seed_demo(dynamics.set))
    assert status == 502 and "503" in str(body["detail"])
