"""The admin API over real loopback HTTP, on a real engine (LMDB in tmp_path, a real sink)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from router import Engine, Settings, load_config
from router.errors import ConfigError
from router.http.admin import OPERATIONS, create_admin_app, resolve_admin_tokens
from router.http.admin_openapi import MessageQuery
from router.ids import decode_id, encode_id
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.admin_server import AUTH, TOKENS, event, routes_folder

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"
UNKNOWN_ID = encode_id(bytes(16))


@dataclass
class Admin:
    client: Client
    engine: Engine

    async def submit(self, ident: str, kind: str = "order.created", corr: str = "") -> str:
        headers = {"X-Correlation-ID": corr} if corr else {}
        ack = await self.engine.submit("shop", event(ident, kind), headers)
        await asyncio.sleep(0.003)  # distinct milliseconds, for the time-range filters
        return ack.id

    async def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=AUTH)
        assert response.status == expect, await response.text()
        return await response.json(content_type=None)

    async def post(self, path: str, body: Any = None, expect: int = 200, **params: Any) -> Any:
        data = None if body is None else orjson.dumps(body)
        response = await self.client.post(path, data=data, params=params, headers=AUTH)
        assert response.status == expect, await response.text()
        return await response.json(content_type=None)

    async def delete(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = await self.client.delete(path, params=params, headers=AUTH)
        assert response.status == expect, await response.text()
        return await response.json(content_type=None)

    async def ids(self, **params: Any) -> list[str]:
        page = await self.get("/messages", **params)
        return [m["id"] for m in page["items"]]


@pytest.fixture
async def admin(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> AsyncIterator[Admin]:
    engine = await make_engine(routes_folder(tmp_path, sink))
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        yield Admin(client, engine)


def concrete(path: str) -> str:
    return path.replace("{id}", UNKNOWN_ID)


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer ", "Basic tok-new", "tok-new", "Bearer tok-new-and-more"],
)
async def test_every_operation_refuses_a_missing_or_wrong_token(
    admin: Admin, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for op in [*OPERATIONS, None]:
        method, path = ("GET", "/no/such/path") if op is None else (op.method, concrete(op.path))
        response = await admin.client.request(method, path, headers=headers, data=b"{}")
        assert response.status == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["Content-Type"].startswith(PROBLEM)
        assert (await response.json(content_type=None))["status"] == 401


@pytest.mark.parametrize("token", TOKENS)
async def test_any_rotated_token_is_accepted(admin: Admin, token: str) -> None:
    for scheme in ("Bearer", "bearer"):
        response = await admin.client.get(
            "/readiness", headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status == 200
        assert (await response.json())["ready"] is True


def test_an_app_without_tokens_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one token"):
        create_admin_app(None, ["", ""])  # type: ignore[arg-type]


def test_tokens_come_from_settings_or_a_private_file(tmp_path: Path) -> None:
    rotated = Settings(data_dir=tmp_path, admin_token=SecretStr(" old , new "))
    assert resolve_admin_tokens(rotated) == ["old", "new"]
    with pytest.raises(ConfigError):
        resolve_admin_tokens(Settings(data_dir=tmp_path, admin_token=SecretStr(" , ")))

    fresh = Settings(data_dir=tmp_path / "data")
    [token] = resolve_admin_tokens(fresh)
    path = tmp_path / "data" / "admin.token"
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_admin_tokens(fresh) == [token]  # read back, not regenerated


# -- timelines -----------------------------------------------------------------------------------


async def test_timeline_of_a_message_delivered_after_a_retry(admin: Admin, sink: Sink) -> None:
    sink.answer((503, {}))
    ident = await admin.submit("o-1", corr="corr-1")
    await admin.engine.wait_idle(10)

    detail = await admin.get(f"/messages/{ident}")
    assert detail["id"] == ident and detail["correlation_id"] == "corr-1"
    assert detail["source"] == "shop" and detail["type"] == "order.created"
    assert detail["body_is_json"] and detail["body"]["id"] == "o-1"
    assert detail["body_size"] == len(event("o-1"))
    assert len(detail["trace_id"]) == 32 and detail["traceparent"].startswith("00-")
    [delivery] = detail["deliveries"]
    assert delivery["route"] == "orders" and delivery["status"] == "delivered"
    assert delivery["attempts"] == 2 and not delivery["dead_letter"]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["received", "routed", "retry_scheduled", "delivered"]
    retry = detail["timeline"][2]
    assert retry["route"] == "orders" and retry["attempt"] == 1 and "503" in retry["detail"]
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times) and times[0] >= detail["received_at"] - 1


async def test_timeline_of_a_dead_lettered_message(admin: Admin, sink: Sink) -> None:
    sink.fail_keys["o-2"] = 502
    ident = await admin.submit("o-2", corr="corr-2")
    await admin.engine.wait_idle(10)

    detail = await admin.get(f"/messages/{ident}")
    [delivery] = detail["deliveries"]
    assert delivery["status"] == "dead" and delivery["dead_letter"]
    assert delivery["attempts"] == 3 and "502" in delivery["last_error"]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["received", "routed", "retry_scheduled", "retry_scheduled", "dead_lettered"]
    # The route actor journals its live DeliveryState, so a retry event may carry a later attempt
    # number (reported to the lead); the first retry and the dead letter are exact.
    assert detail["timeline"][2]["attempt"] == 1 and detail["timeline"][-1]["attempt"] == 3
    assert all("502" in e["detail"] for e in detail["timeline"][2:])

    dead = await admin.get(f"/dead-letters/{ident}")
    [letter] = dead["items"]
    assert letter["id"] == ident and letter["route"] == "orders" and letter["attempts"] == 3
    assert "gave up after 3 attempts" in letter["reason"] and "502" in letter["last_error"]
    assert letter["correlation_id"] == "corr-2" and letter["source"] == "shop"
    assert letter["trace_id"] == detail["trace_id"]


async def test_an_unrouted_message_says_so(admin: Admin) -> None:
    ident = await admin.submit("x-1", kind="order.deleted")
    detail = await admin.get(f"/messages/{ident}")
    assert detail["unrouted"] and detail["deliveries"] == []
    assert [e["kind"] for e in detail["timeline"]] == ["received", "unrouted"]


# -- search --------------------------------------------------------------------------------------


async def test_search_filters_and_pages(admin: Admin, sink: Sink) -> None:
    sink.fail_keys["d-1"] = 422
    delivered = await admin.submit("o-1", corr="corr-o")
    refund = await admin.submit("r-1", kind="order.refunded", corr="corr-r")
    unrouted = await admin.submit("x-1", kind="order.deleted")
    dead = await admin.submit("d-1", corr="corr-d")
    await admin.engine.wait_idle(10)
    everything = [delivered, refund, unrouted, dead]

    assert await admin.ids() == everything
    assert await admin.ids(status="delivered") == [delivered, refund]
    assert await admin.ids(status="dead") == [dead]
    assert await admin.ids(status="unrouted") == [unrouted]
    assert await admin.ids(status="pending") == []
    assert await admin.ids(route="refunds") == [refund]
    assert await admin.ids(route="orders", status="delivered") == [delivered]
    assert await admin.ids(route="refunds", status="dead") == []
    assert await admin.ids(source="shop") == everything
    assert await admin.ids(source="elsewhere") == []
    assert await admin.ids(correlation_id="corr-r") == [refund]

    def seconds(ident: str) -> float:
        return int.from_bytes(decode_id(ident)[:6], "big") / 1000

    assert await admin.ids(since=seconds(refund), until=seconds(unrouted)) == [refund, unrouted]
    assert await admin.ids(since=seconds(dead)) == [dead]
    assert await admin.ids(until=seconds(delivered)) == [delivered]

    page = await admin.get("/messages", limit=1)
    [summary] = page["items"]
    assert summary["id"] == delivered and summary["routes"] == {"orders": "delivered"}
    assert summary["correlation_id"] == "corr-o" and len(summary["trace_id"]) == 32
    seen, cursor = [], None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        page = await admin.get("/messages", **params)
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything

    letters = await admin.get("/dead-letters")
    assert [d["id"] for d in letters["items"]] == [dead] and letters["next_cursor"] is None
    assert (await admin.get("/dead-letters", route="refunds"))["items"] == []
    assert (await admin.get("/dead-letters", source="elsewhere"))["items"] == []
    first = await admin.get("/dead-letters", limit=1)
    assert first["next_cursor"] == f"{dead}:orders"
    assert (await admin.get("/dead-letters", cursor=first["next_cursor"]))["items"] == []


async def test_routes_and_readiness_report_live_counters(admin: Admin, sink: Sink) -> None:
    sink.fail_keys["d-1"] = 422
    await admin.submit("o-1")
    await admin.submit("d-1")
    await admin.submit("x-1", kind="order.deleted")
    await admin.engine.wait_idle(10)

    overview = await admin.get("/routes")
    routes = {r["id"]: r for r in overview["routes"]}
    assert set(routes) == {"orders", "refunds"}
    orders = routes["orders"]
    assert orders["source"] == "shop" and orders["types"] == ["order.created"]
    assert orders["connector"] == "sink"
    assert orders["delivered"] == 1 and orders["dead_lettered"] == 1
    assert orders["failed_attempts"] == 1 and orders["pending"] == 0
    assert routes["refunds"]["delivered"] == 0
    [shop] = overview["sources"]
    assert shop == {"name": "shop", "accepted": 3, "duplicates": 0, "unrouted": 1}
    assert overview["unrouted_journaled"] == 1

    ready = await admin.get("/readiness")
    assert ready["ready"] and ready["started"] and not ready["storage_full"]
    assert ready["credit_in_use"] == 0
    assert ready["credit_limit"] == admin.engine.settings.max_inflight
    assert ready["journal_size_bytes"] > 0
    assert ready["records"]["msg"] == 3 and ready["records"]["dlq"] == 1
    assert "journal" in ready["mailboxes"] and "orders" in ready["mailboxes"]


# -- replay and purge ----------------------------------------------------------------------------


async def test_replay_one_delivers_after_the_sink_recovers_and_repeats_as_zero(
    admin: Admin, sink: Sink
) -> None:
    sink.fail_keys["d-1"] = 422
    ident = await admin.submit("d-1")
    await admin.engine.wait_idle(10)
    assert (await admin.get(f"/messages/{ident}"))["deliveries"][0]["status"] == "dead"

    sink.fail_keys.clear()
    nothing = {"matched": 0, "replayed": 0}
    assert await admin.post(f"/dead-letters/{ident}/replay", route="refunds") == nothing
    assert await admin.post(f"/dead-letters/{ident}/replay") == {"matched": 1, "replayed": 1}
    await admin.engine.wait_idle(10)

    detail = await admin.get(f"/messages/{ident}")
    assert detail["deliveries"][0]["status"] == "delivered"
    assert [e["kind"] for e in detail["timeline"]][-2:] == ["replayed", "delivered"]
    assert [c.applied for c in sink.snapshot()] == [False, True]
    assert await admin.post(f"/dead-letters/{ident}/replay") == {"matched": 0, "replayed": 0}
    await admin.get(f"/dead-letters/{ident}", expect=404)


async def test_replay_by_filter(admin: Admin, sink: Sink) -> None:
    sink.fail_keys.update({"d-1": 422, "d-2": 422})
    first = await admin.submit("d-1")
    second = await admin.submit("d-2")
    await admin.engine.wait_idle(10)
    sink.fail_keys.clear()

    nothing = {"matched": 0, "replayed": 0}
    assert await admin.post("/dead-letters/replay", {"source": "elsewhere"}) == nothing
    result = await admin.post("/dead-letters/replay", {"route": "orders", "limit": 1})
    assert result == {"matched": 1, "replayed": 1}
    result = await admin.post("/dead-letters/replay", {"route": "orders"})
    assert result == {"matched": 1, "replayed": 1}
    await admin.engine.wait_idle(10)
    assert await admin.ids(status="delivered") == [first, second]
    assert await admin.post("/dead-letters/replay", {}) == {"matched": 0, "replayed": 0}


async def test_purge_one_and_by_filter(admin: Admin, sink: Sink) -> None:
    sink.fail_keys.update({"d-1": 422, "d-2": 422})
    first = await admin.submit("d-1")
    second = await admin.submit("d-2")
    await admin.engine.wait_idle(10)

    nothing = {"matched": 0, "purged": 0}
    assert await admin.delete(f"/dead-letters/{first}", route="refunds") == nothing
    assert await admin.delete(f"/dead-letters/{first}") == {"matched": 1, "purged": 1}
    assert [d["id"] for d in (await admin.get("/dead-letters"))["items"]] == [second]
    assert (await admin.get(f"/messages/{first}"))["timeline"][-1]["kind"] == "purged"

    one = {"matched": 1, "purged": 1}
    assert await admin.post("/dead-letters/purge", {"route": "orders"}) == one
    assert (await admin.get("/dead-letters"))["items"] == []
    assert await admin.post(f"/dead-letters/{first}/replay") == {"matched": 0, "replayed": 0}


# -- client errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"/messages/{UNKNOWN_ID}", 404),
        ("GET", f"/dead-letters/{UNKNOWN_ID}", 404),
        ("DELETE", f"/dead-letters/{UNKNOWN_ID}", 404),
        ("POST", f"/dead-letters/{UNKNOWN_ID}/replay", 404),
        ("GET", "/messages/not-an-id", 400),
        ("GET", "/messages/" + "Z" * 26, 400),  # out of range
        ("GET", "/dead-letters/" + "U" * 26, 400),  # U is not Crockford
        ("GET", "/messages?limit=0", 400),
        ("GET", "/messages?limit=1001", 400),
        ("GET", "/messages?limit=ten", 400),
        ("GET", "/messages?status=lost", 400),
        ("GET", "/messages?since=-1", 400),
        ("GET", "/messages?since=nan", 400),
        ("GET", "/messages?cursor=nope", 400),
        ("GET", "/messages?limit=1&limit=2", 400),
        ("GET", "/messages?colour=red", 400),
        ("GET", "/dead-letters?cursor=" + UNKNOWN_ID, 400),  # needs ID:route
        ("POST", "/dead-letters/replay", 400),  # no body
        ("GET", "/dead-letters/replay", 405),
        ("GET", "/nowhere", 404),
    ],
)
async def test_client_errors_are_problem_json(
    admin: Admin, method: str, path: str, status: int
) -> None:
    response = await admin.client.request(method, path, headers=AUTH)
    assert response.status == status
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = await response.json(content_type=None)
    assert body["status"] == status and body["title"]


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b"{not json", b'{"limit": "5"}', b'{"limit": 0}', b'{"colour": 1}'],
)
async def test_filter_bodies_are_validated(admin: Admin, body: bytes) -> None:
    for action in ("replay", "purge"):
        response = await admin.client.post(f"/dead-letters/{action}", data=body, headers=AUTH)
        assert response.status == 400
        problem = await response.json(content_type=None)
        assert problem["detail"].startswith("invalid body") and problem["errors"]


async def test_validation_problems_name_the_parameter(admin: Admin) -> None:
    problem = await admin.get("/messages", expect=400, limit="0")
    assert [e["loc"] for e in problem["errors"]] == ["limit"]


async def test_openapi_document_matches_the_routes(admin: Admin) -> None:
    doc = await admin.get("/openapi.json")
    assert doc["openapi"] == "3.1.0"
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    for ops in doc["paths"].values():
        for spec in ops.values():
            assert {"200", "401"} <= set(spec["responses"])
    search = {p["name"] for p in doc["paths"]["/messages"]["get"]["parameters"]}
    assert search == set(MessageQuery.model_fields)
    assert search >= {"status", "route", "source", "since", "until", "correlation_id", "cursor"}


async def test_a_router_whose_journal_is_not_open_answers_503(tmp_path: Path, sink: Sink) -> None:
    engine = Engine(load_config(routes_folder(tmp_path, sink)), Settings(data_dir=tmp_path / "d"))
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        for path in ("/messages", "/readiness", "/routes", f"/messages/{UNKNOWN_ID}"):
            response = await client.get(path, headers=AUTH)
            assert response.status == 503, path
            assert response.headers["Retry-After"] == "1"
            assert (await response.json(content_type=None))["status"] == 503
        assert (await client.get("/openapi.json", headers=AUTH)).status == 200
