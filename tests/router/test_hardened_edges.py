"""Issue 15, the edges: nesting, exact numbers and ids, scalar ordering keys, Standard Webhooks'
``svix-*`` spelling, and CloudEvents' percent-encoding, cross-mode dedupe and empty batches.

Over HTTP against a real engine (``create_app``), asserting the status and the problem body, plus
the admin view and ``interlock trace`` of a message at the deepest accepted nesting.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from svix.webhooks import Webhook

from router import Engine
from router.cli.render import render_trace
from router.codec import MAX_DEPTH
from router.http.admin import create_admin_app
from router.http.ingress import create_app
from router.testing import Sink
from tests.conftest import EngineFactory

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
STRUCTURED = {"Content-Type": "application/cloudevents+json"}
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
SECRET = "whsec_" + base64.b64encode(b"hardened-edges-standard-key-0001").decode()
TOKEN = "edges-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIG = "123456789012345678901234567890"


def routes(folder: Path, sink_url: str) -> Path:
    folder.mkdir()
    (folder / "sources.yaml").write_text(
        "shop:\n  verify: {scheme: none}\n  type: /type\n  idempotency_key: /id\n"
        "events:\n  format: cloudevents\n  verify: {scheme: none}\n"
        f"sw:\n  verify: {{scheme: standard-webhooks, secrets: ['{SECRET}']}}\n  type: /type\n"
    )
    (folder / "connectors.yaml").write_text(
        f"sink:\n  kind: http\n  base_url: {sink_url}\n  timeout: 5s\n"
    )
    for source, extra in (("shop", "key: /customer\n"), ("events", ""), ("sw", "")):
        (folder / f"{source}-out.yaml").write_text(
            f"id: {source}-out\nfrom: {{source: {source}, type: '*'}}\n{extra}"
            f"steps:\n  - to: {{connector: sink, path: /{source}}}\n"
        )
    (folder / "ask.yaml").write_text(
        "id: ask\nkind: request-reply\ncache: {ttl: 10s, key: /sku}\n"
        "steps:\n  - to: {connector: sink, path: /ask}\n"
    )
    return folder


@dataclass
class Edge:
    client: Client
    admin: Client
    engine: Engine

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = await self.client.post(path, data=body, headers=headers)
        payload = await response.json(content_type=None)
        if response.status >= 400:
            assert response.content_type == PROBLEM, payload
            assert payload["status"] == response.status and payload["title"]
        return response.status, payload


@pytest.fixture
async def edge(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> AsyncIterator[Edge]:
    engine = await make_engine(routes(tmp_path / "routes", sink.url))
    async with (
        TestClient(TestServer(create_app(engine))) as client,
        TestClient(TestServer(create_admin_app(engine, [TOKEN]))) as admin,
    ):
        yield Edge(client, admin, engine)
        await engine.wait_idle(10)


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    """``depth`` levels of containers: objects, the innermost holding ``leaf``."""
    return b'{"a":' * depth + leaf + b"}" * depth


def order(ident: Any, customer: Any = "c1") -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": customer})


def ce(ident: str = "evt-1", **extra: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": ident, "source": "/billing", "type": "paid", **extra}


def binary(ident: str = "evt-1", **extra: str) -> dict[str, str]:
    headers = {f"ce-{k}": v for k, v in ce(ident).items()} | {"Content-Type": "application/json"}
    return headers | extra


# -- 1. nesting ----------------------------------------------------------------------------------

DEEP = f"nests deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize("depth", [MAX_DEPTH, 300, 1023, 1100])
async def test_a_webhook_nested_too_deep_is_400_at_any_depth(edge: Edge, depth: int) -> None:
    body = b'{"id":"deep-%d","type":"t","x":' % depth + nested(depth - 1) + b"}"
    status, answer = await edge.post("/webhooks/shop", body, JSON)
    if depth <= MAX_DEPTH:
        assert status == 202, answer
    else:
        assert status == 400, answer
        assert DEEP in answer["detail"]


@pytest.mark.parametrize("mode", ["structured", "binary", "batch"])
async def test_a_cloudevent_nested_too_deep_is_400_in_every_mode(edge: Edge, mode: str) -> None:
    data = nested(300)
    if mode == "binary":
        request = (data, binary())
    else:
        one = orjson.dumps(ce())[:-1] + b',"data":' + data + b"}"
        request = (one, STRUCTURED) if mode == "structured" else (b"[" + one + b"]", BATCH)
    status, answer = await edge.post("/events", *request)
    assert status == 400, answer
    assert "nests deeper than" in answer["detail"]


async def test_a_request_reply_question_nested_too_deep_is_400(edge: Edge) -> None:
    status, answer = await edge.post("/api/ask", b'{"sku":' + nested(300) + b"}", JSON)
    assert status == 400, answer
    assert DEEP in answer["detail"]
    deepest = b'{"sku":' + nested(MAX_DEPTH - 1) + b"}"
    for cache in ("miss", "hit"):  # keyed and cached at the deepest accepted nesting
        response = await edge.client.post("/api/ask", data=deepest, headers=JSON)
        assert response.status == 200, await response.text()
        assert response.headers["X-Interlock-Cache"] == cache


async def test_an_ordering_key_is_a_scalar_named_by_its_pointer(edge: Edge) -> None:
    for customer, why in (
        ({"a": [1, 2]}, "not an object"),
        ([1], "not an array"),
        (1.5, "not a fractional"),
        ("x" * 500_000, "longer than 1024"),
    ):
        status, answer = await edge.post("/webhooks/shop", order("k", customer), JSON)
        assert status == 400, answer
        assert "the ordering key at /customer" in answer["detail"] and why in answer["detail"]
    for customer in ("c1", 42, True):
        status, answer = await edge.post("/webhooks/shop", order(f"k-{customer}", customer), JSON)
        assert status == 202, answer


async def test_the_deepest_message_renders_in_the_admin_api_and_trace(edge: Edge) -> None:
    body = b'{"id":"deepest","type":"t","customer":"c1","x":' + nested(MAX_DEPTH - 1) + b"}"
    status, ack = await edge.post("/webhooks/shop", body, JSON)
    assert status == 202, ack
    response = await edge.admin.get(f"/messages/{ack['id']}", headers=AUTH)
    assert response.status == 200, await response.text()
    detail = await response.json()
    assert detail["body_is_json"] and detail["body"]["id"] == "deepest"
    assert ack["id"] in render_trace(detail)


# -- 5. exact numbers, distinct keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (b"1", b'"1"'),
        (BIG.encode(), BIG[:-1].encode() + b"1"),
        (b"18446744073709551616", b"18446744073709551617"),
        (b"1", b"1.0"),
        (b'"number:1"', b"1"),
    ],
)
async def test_distinct_ids_never_share_an_idempotency_key(
    edge: Edge, first: bytes, second: bytes
) -> None:
    acks = []
    for ident in (first, second):
        body = b'{"type":"t","customer":"c","id":' + ident + b"}"
        status, ack = await edge.post("/webhooks/shop", body, JSON)
        assert status == 202, (ident, ack)
        acks.append(ack)
    # and each one repeated is its own duplicate
    status, again = await edge.post(
        "/webhooks/shop", b'{"type":"t","customer":"c","id":' + second + b"}", JSON
    )
    assert (status, again) == (200, {"id": acks[1]["id"], "duplicate": True})


async def test_a_string_id_keeps_its_key(edge: Edge) -> None:
    """Keys already in a journal still dedupe: a string id is its own key, as before."""
    status, ack = await edge.post("/webhooks/shop", order("evt_1"), JSON)
    assert status == 202
    assert edge.engine.journal is not None
    response = await edge.admin.get(f"/messages/{ack['id']}", headers=AUTH)
    assert (await response.json())["idempotency_key"] == "evt_1"


async def test_cloudevents_keep_the_numbers_and_keys_as_sent(edge: Edge, sink: Sink) -> None:
    data = b'{"n": %s, "dup": 1, "dup": 2}' % BIG.encode()
    status, _ = await edge.post("/events", data, binary("num-binary"))
    assert status == 202
    element = orjson.dumps(ce("num-batch"))[:-1] + b', "data": ' + data + b"}"
    status, _ = await edge.post("/events", b"[ " + element + b" ]", BATCH)
    assert status == 202
    await edge.engine.wait_idle(10)
    bodies = {orjson.loads(c.body)["id"]: c.body for c in sink.snapshot()}
    assert bodies["num-batch"] == element  # the element's own bytes
    assert data in bodies["num-binary"]  # the data exactly as sent, in the structured form
    assert orjson.loads(bodies["num-binary"])["specversion"] == "1.0"


# -- 15. Standard Webhooks, as Svix spells it ------------------------------------------------------


async def test_svix_headers_verify_and_dedupe_with_webhook_headers(edge: Edge) -> None:
    body = b'{"type":"invoice.paid","id":"inv_1"}'
    now = time.time()
    signature = Webhook(SECRET).sign("msg_svix_1", _dt(now), body.decode())
    svix = {"svix-id": "msg_svix_1", "svix-timestamp": str(int(now)), "svix-signature": signature}
    status, first = await edge.post("/webhooks/sw", body, svix | JSON)
    assert status == 202, first
    status, again = await edge.post("/webhooks/sw", body, svix | JSON)
    assert (status, again) == (200, {"id": first["id"], "duplicate": True})
    standard = {k.replace("svix-", "webhook-"): v for k, v in svix.items()}
    status, spelled = await edge.post("/webhooks/sw", body, standard | JSON)
    assert (status, spelled) == (200, {"id": first["id"], "duplicate": True})
    other = Webhook(SECRET).sign("msg_std_2", _dt(now), body.decode())
    fresh = {
        "webhook-id": "msg_std_2",
        "webhook-timestamp": str(int(now)),
        "webhook-signature": other,
    }
    status, answer = await edge.post("/webhooks/sw", body, fresh | JSON)
    assert status == 202, answer
    bad = svix | {"svix-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    status, answer = await edge.post("/webhooks/sw", body, bad | JSON)
    assert status == 401, answer


def _dt(now: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(now), tz=UTC)


# -- 16. CloudEvents over HTTP ---------------------------------------------------------------------


async def test_one_event_in_both_modes_is_one_message(edge: Edge) -> None:
    event = CloudEvent(
        {
            "type": "com.example.paid",
            "source": "/eu west",
            "id": "sdk-1",
            "datacontenttype": "application/json",  # the SDK's binary mode: Content-Type
        },
        {"amount": 10, "big": int(BIG)},
    )
    headers, body = to_binary(event)
    status, first = await edge.post("/events", body, dict(headers))
    assert status == 202, first
    headers, body = to_structured(event)
    status, again = await edge.post("/events", body, dict(headers))
    assert (status, again) == (200, {"id": first["id"], "duplicate": True})
    # and the other way round, with a new event
    event["id"] = "sdk-2"
    headers, body = to_structured(event)
    status, first = await edge.post("/events", body, dict(headers))
    assert status == 202, first
    headers, body = to_binary(event)
    status, again = await edge.post("/events", body, dict(headers))
    assert (status, again) == (200, {"id": first["id"], "duplicate": True})


async def test_ce_headers_are_percent_decoded(edge: Edge) -> None:
    status, first = await edge.post(
        "/events", b'{"a":1}', binary("pct", **{"ce-source": "/eu%20west%E2%82%AC"})
    )
    assert status == 202, first
    structured = orjson.dumps(
        ce("pct", source="/eu west\u20ac", datacontenttype="application/json", data={"a": 1})
    )
    status, again = await edge.post("/events", structured, STRUCTURED)
    assert (status, again) == (200, {"id": first["id"], "duplicate": True})
    status, answer = await edge.post("/events", b"{}", binary("bad", **{"ce-source": "/a%FF"}))
    assert status == 400 and "percent-encoded UTF-8" in answer["detail"]


async def test_an_event_with_other_data_is_still_a_conflict(edge: Edge) -> None:
    status, _ = await edge.post("/events", b'{"a":1}', binary("conflict"))
    assert status == 202
    structured = orjson.dumps(ce("conflict", datacontenttype="application/json", data={"a": 2}))
    status, answer = await edge.post("/events", structured, STRUCTURED)
    assert status == 409, answer


async def test_an_empty_batch_is_a_400_problem(edge: Edge) -> None:
    status, answer = await edge.post("/events", b" [ ] ", BATCH)
    assert status == 400, answer
    assert "at least one event" in answer["detail"]


# -- 18. a body that is not an object -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind"), [(b"[1,2]", "an array"), (b'"x"', "str"), (b"null", "missing")]
)
async def test_a_body_that_is_not_an_object_says_so(edge: Edge, body: bytes, kind: str) -> None:
    status, answer = await edge.post("/webhooks/shop", body, JSON)
    assert status == 400, answer
    assert answer["detail"].startswith("the body must be a JSON object"), answer
    assert kind in answer["detail"] and "/type" in answer["detail"]
