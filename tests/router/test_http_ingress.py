"""The minimal ingress over real loopback HTTP (aiohttp TestServer), problem+json on every error."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from router import Engine
from router.http.ingress import create_app
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.routes import write_routes

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"


@pytest.fixture
async def client(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> AsyncIterator[Client]:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    async with TestClient(TestServer(create_app(engine))) as test_client:
        yield test_client


def order(ident: str) -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": "c1"})


async def test_accepts_then_reports_duplicate(client: Client, sink: Sink) -> None:
    first = await client.post("/webhooks/shop", data=order("o-1"), headers=JSON)
    assert first.status == 202
    ack = await first.json()
    second = await client.post("/webhooks/shop", data=order("o-1"), headers=JSON)
    assert second.status == 200
    assert await second.json() == {"id": ack["id"], "duplicate": True}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/webhooks/nope", b"{}", 404),
        ("/webhooks/shop", b"{not json", 400),
        ("/webhooks/shop", b'{"id": "x"}', 400),  # no event type
        ("/webhooks/shop", b'{"type": "order.created", "id": {"a": 1}}', 400),  # key not a scalar
        ("/webhooks/shop", b'{"type": "t", "id": 1, "v": NaN}', 400),
        ("/webhooks/shop", b'"\\ud800"', 400),  # lone surrogate
        ("/webhooks/shop", b"\xff\xfe", 400),  # invalid UTF-8
        ("/nowhere", b"", 404),
    ],
)
async def test_client_errors_are_problem_json(
    client: Client, path: str, body: bytes, status: int
) -> None:
    response = await client.post(path, data=body, headers=JSON)
    assert response.status == status
    assert response.headers["Content-Type"].startswith(PROBLEM)
    problem = await response.json(content_type=None)
    assert problem["status"] == status and problem["title"]


async def test_wrong_method_is_405_problem(client: Client) -> None:
    response = await client.get("/webhooks/shop")
    assert response.status == 405
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert "POST" in response.headers["Allow"]


async def test_oversized_body_is_413(client: Client) -> None:
    response = await client.post(
        "/webhooks/shop", data=io.BytesIO(b"[" + b"1," * 600_000 + b"1]"), headers=JSON
    )
    assert response.status == 413
    assert response.headers["Content-Type"].startswith(PROBLEM)


async def test_health_and_metrics(client: Client) -> None:
    assert (await client.get("/livez")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    await client.post("/webhooks/shop", data=order("o-1"), headers=JSON)
    text = await (await client.get("/metrics")).text()
    assert 'interlock_acks_total{outcome="accepted",source="shop"} 1.0' in text
    assert 'interlock_ingress_requests_total{source="shop",status="202"} 1.0' in text
    assert "interlock_ack_duration_seconds_bucket" in text
    assert "interlock_journal_size_bytes" in text
    assert 'interlock_mailbox_depth{actor="journal"}' in text


async def test_not_ready_answers_503_with_retry_after(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    engine.ready = False
    async with TestClient(TestServer(create_app(engine))) as client:
        response = await client.post("/webhooks/shop", data=order("o-1"), headers=JSON)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert (await client.get("/readyz")).status == 503


async def test_full_journal_answers_503_turns_readiness_off_and_does_not_crash(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine: Engine = await make_engine(write_routes(tmp_path / "routes", sink.url), map_size_mb=1)
    async with TestClient(TestServer(create_app(engine))) as client:
        statuses = []
        for i in range(40):
            body = orjson.dumps({"id": f"big-{i}", "type": "none", "pad": "x" * 100_000})
            response = await client.post("/webhooks/shop", data=body, headers=JSON)
            statuses.append(response.status)
        assert 503 in statuses
        assert set(statuses) <= {202, 503}
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/livez")).status == 200
