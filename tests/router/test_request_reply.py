"""Request/reply routes against the Dynamics 365 simulator: in time, 504, stale fallback, the
cache key, the 404 for an unknown SKU, and the caller's trace and correlation context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from router.http.ingress import create_app
from router.ids import new_traceparent, parse_traceparent
from router.request_reply.kind import CacheSpec
from simulators.cli import seed_demo
from simulators.runner import SimulatorThread
from tests.conftest import EngineFactory

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}
ClientFactory = Callable[[SimulatorThread, str, str], Awaitable[Client]]
# The shipped route is what these tests serve (as `stock`, with their own timeout and cache), so
# what they assert holds for the file operators run.
SHIPPED = yaml.safe_load(
    (Path(__file__).parents[2] / "routes" / "inventory-availability.yaml").read_text()
)


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
    route = {**SHIPPED, "id": "stock", "timeout": timeout, "cache": yaml.safe_load(cache)}
    (folder / "stock.yaml").write_text(yaml.safe_dump(route, sort_keys=False))
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


async def ask(
    client: Client, sku: str, warehouse: str | None = None
) -> tuple[int, dict[str, object], str]:
    question = {"sku": sku} if warehouse is None else {"sku": sku, "warehouse": warehouse}
    response = await client.post("/api/stock", data=orjson.dumps(question), headers=JSON)
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


SHIPPED_CACHE = orjson.dumps(SHIPPED["cache"]).decode()  # JSON is YAML


@pytest.mark.parametrize(
    "cache",
    [SHIPPED_CACHE, "{ttl: 30s}", "{ttl: 30s, key: [/sku, /warehouse]}"],
    ids=["shipped", "whole-question", "named-pointers"],
)
async def test_the_cache_key_covers_the_warehouse(
    dynamics: SimulatorThread, client_factory: ClientFactory, cache: str
) -> None:
    dynamics.set_faults("dynamics", latency=0.0)
    client = await client_factory(dynamics, "2s", cache)
    status, west, hit = await ask(client, "SKU-1", "WH-WEST")
    assert (status, west["available"], hit) == (200, 3.0, "miss")
    # The same SKU everywhere is another question (12 in WH-EAST + 3 in WH-WEST), not a hit.
    status, everywhere, hit = await ask(client, "SKU-1")
    assert (status, everywhere["available"], hit) == (200, 15.0, "miss")
    assert await ask(client, "SKU-1", "WH-WEST") == (200, west, "hit")
    assert await ask(client, "SKU-1") == (200, everywhere, "hit")


def test_a_cache_key_names_a_list_of_pointers() -> None:
    # One pointer is still accepted (older files), as the one-element list it always meant.
    assert CacheSpec.model_validate({"ttl": "1s", "key": "/sku"}).key == ["/sku"]
    assert CacheSpec.model_validate({"ttl": "1s", "key": ["/sku", "/warehouse"]}).key == [
        "/sku",
        "/warehouse",
    ]
    assert CacheSpec.model_validate({"ttl": "1s"}).key is None  # the whole question
    for wrong in ([], ["sku"]):
        with pytest.raises(ValidationError):
            CacheSpec.model_validate({"ttl": "1s", "key": wrong})


async def test_an_unknown_sku_is_a_404_problem_and_never_cached(
    dynamics: SimulatorThread, client_factory: ClientFactory
) -> None:
    dynamics.set_faults("dynamics", latency=0.0)
    client = await client_factory(dynamics, "2s", "{ttl: 30s, stale_for: 1m}")
    for _ in range(2):
        calls_before = len(inventory_calls(dynamics))
        response = await client.post(
            "/api/stock", data=orjson.dumps({"sku": "SKU-404"}), headers=JSON
        )
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        body = await response.json(content_type=None)
        assert (body["type"], body["title"], body["status"]) == (
            "https://interlock.dev/problems/not-found",
            "Not Found",
            404,
        )
        assert "SKU-404" in body["detail"]
        assert len(inventory_calls(dynamics)) == calls_before + 1  # asked again: not cached
    dynamics.set_faults("dynamics", down_for=30.0)
    try:
        status, body, _ = await ask(client, "SKU-404")  # and no stale answer to fall back on
    finally:
        dynamics.reset("dynamics")
        dynamics.call(lambda: seed_demo(dynamics.set))
    assert status == 502


def inventory_calls(sims: SimulatorThread) -> list[dict[str, str]]:
    """The headers of each stock query Dynamics received (lower-cased names), oldest first."""
    entries = sims.call(sims.set.simulator("dynamics").log.entries)
    return [
        {k.lower(): v for k, v in entry.headers.items()}
        for entry in entries
        if entry.path.endswith("/msdyn_inventoryonhands")
    ]


async def ask_with(
    client: Client, sims: SimulatorThread, headers: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Ask about SKU-1 with ``headers``: (what Dynamics received, the reply's correlation id)."""
    response = await client.post(
        "/api/stock", data=orjson.dumps({"sku": "SKU-1"}), headers={**JSON, **headers}
    )
    assert response.status == 200
    return inventory_calls(sims)[-1], response.headers.get("X-Correlation-ID", "")


async def test_the_callers_trace_and_correlation_ids_reach_the_target_and_come_back(
    dynamics: SimulatorThread, client_factory: ClientFactory
) -> None:
    dynamics.set_faults("dynamics", latency=0.0)
    client = await client_factory(dynamics, "2s", "null")  # no cache: every question is a call
    caller_trace = new_traceparent()
    trace_id = parse_traceparent(caller_trace)

    sent, echoed = await ask_with(
        client, dynamics, {"traceparent": caller_trace, "X-Correlation-ID": "order-42"}
    )
    # As on a webhook: the caller's trace continues (same trace id, the router's own span) and
    # its correlation id is passed on and echoed.
    assert parse_traceparent(sent["traceparent"]) == trace_id
    assert sent["traceparent"] != caller_trace
    assert sent["x-correlation-id"] == echoed == "order-42"

    sent, echoed = await ask_with(client, dynamics, {"X-Request-ID": "req-7"})
    assert sent["x-correlation-id"] == echoed == "req-7"

    for headers in ({}, {"traceparent": "00-garbage", "X-Correlation-ID": "has space"}):
        sent, echoed = await ask_with(client, dynamics, headers)
        fresh = parse_traceparent(sent["traceparent"])
        assert fresh is not None and fresh != trace_id  # a new trace, never none
        assert sent["x-correlation-id"] == echoed  # a generated id, never empty
        assert echoed and echoed != "has space"
