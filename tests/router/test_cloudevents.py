"""CloudEvents 1.0 ingress: binary, structured and batch mode, the handshake, and the parser.

Over HTTP (a real engine behind ``create_app``): valid events answer 202 with their ids, a repeat
(same source and id) 200 duplicate, an invalid one 400 naming the reason, an unknown content type
415; the sender's ``traceparent`` reaches the sink. Then unit tests of
:func:`router.cloudevents.parse` and :func:`router.cloudevents.validate`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from router import Engine, cloudevents
from router.errors import BadRequestError, UnsupportedMediaTypeError
from router.http.ingress import create_app
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.ingress_routes import ALLOWED_ORIGIN, CLOUDEVENTS_SOURCE, write_ingress_routes

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"
STRUCTURED = {"Content-Type": "application/cloudevents+json"}
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
async def engine(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> Engine:
    return await make_engine(write_ingress_routes(tmp_path / "routes", sink.url))


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(engine))) as test_client:
        yield test_client
    await engine.wait_idle(10)  # no delivery in flight when the engine stops


def event(ident: str = "evt-1", **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": ident,
        "source": "/billing/invoices",
        "type": "com.example.invoice.paid",
        **extra,
    }


def binary_headers(ident: str = "evt-1", **extra: str) -> dict[str, str]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": ident,
        "ce-source": "/billing/invoices",
        "ce-type": "com.example.invoice.paid",
        "Content-Type": "application/json",
    }
    headers.update(extra)
    return headers


async def send(
    client: Client, mode: str, ident: str = "evt-1", path: str = "/events", **extra: Any
) -> tuple[int, Any]:
    """One valid event (plus ``extra`` attributes) in ``mode``; returns status and JSON body."""
    if mode == "binary":
        headers = binary_headers(ident, **{f"ce-{k}": str(v) for k, v in extra.items()})
        response = await client.post(path, data=b'{"amount": 42}', headers=headers)
    elif mode == "structured":
        body = orjson.dumps(event(ident, data={"amount": 42}, **extra))
        response = await client.post(path, data=body, headers=STRUCTURED)
    else:
        body = orjson.dumps([event(ident, data={"amount": 42}, **extra)])
        response = await client.post(path, data=body, headers=BATCH)
    return response.status, await response.json(content_type=None)


async def assert_bad_request(
    client: Client, body: bytes, headers: dict[str, str], reason: str
) -> None:
    response = await client.post("/events", data=body, headers=headers)
    text = await response.text()
    assert response.status == 400, text
    assert response.content_type == PROBLEM
    problem = orjson.loads(text)
    assert problem["status"] == 400
    assert reason in problem["detail"], problem


# -- valid events and duplicates -----------------------------------------------------------------

MODES = ("binary", "structured", "batch")


@pytest.mark.parametrize("mode", MODES)
async def test_a_valid_event_is_202_with_its_id(client: Client, mode: str) -> None:
    status, body = await send(client, mode)
    assert status == 202, body
    ack = body[0] if mode == "batch" and isinstance(body, list) else body
    assert ack["duplicate"] is False
    assert isinstance(ack["id"], str) and len(ack["id"]) == 26


@pytest.mark.parametrize("mode", MODES)
async def test_the_named_path_takes_events_too(client: Client, mode: str) -> None:
    status, body = await send(client, mode, path=f"/events/{CLOUDEVENTS_SOURCE}")
    assert status == 202, body


@pytest.mark.parametrize("mode", MODES)
async def test_a_repeat_is_200_duplicate_with_the_same_id(client: Client, mode: str) -> None:
    status, first = await send(client, mode, "evt-repeat")
    assert status == 202, first
    status, again = await send(client, mode, "evt-repeat")
    assert status == 200, again
    first_ack = first[0] if isinstance(first, list) else first
    again_ack = again[0] if isinstance(again, list) else again
    assert again_ack == {"id": first_ack["id"], "duplicate": True}


async def test_a_batch_answers_one_ack_per_event(client: Client) -> None:
    events = [event(f"evt-b{i}", data={"n": i}) for i in range(3)]
    response = await client.post("/events", data=orjson.dumps(events), headers=BATCH)
    assert response.status == 202
    acks = await response.json()
    assert [a["duplicate"] for a in acks] == [False, False, False]
    assert len({a["id"] for a in acks}) == 3
    # The same batch again: every event is a duplicate, so 200.
    again = await client.post("/events", data=orjson.dumps(events), headers=BATCH)
    assert again.status == 200
    assert await again.json() == [{"id": a["id"], "duplicate": True} for a in acks]
    # One new event with two old ones: 202, and the flags say which is which.
    mixed = [*events[:2], event("evt-b3", data={"n": 3})]
    third = await client.post("/events", data=orjson.dumps(mixed), headers=BATCH)
    assert third.status == 202
    assert [a["duplicate"] for a in await third.json()] == [True, True, False]


async def test_the_dedupe_key_is_source_plus_id(client: Client) -> None:
    one = event("evt-same")
    other_source = {**one, "source": "/billing/refunds"}
    first = await client.post("/events", data=orjson.dumps(one), headers=STRUCTURED)
    second = await client.post("/events", data=orjson.dumps(other_source), headers=STRUCTURED)
    assert (first.status, second.status) == (202, 202)
    assert (await first.json())["id"] != (await second.json())["id"]


async def test_the_same_source_and_id_with_other_content_is_409(client: Client) -> None:
    body = orjson.dumps(event("evt-conflict", data={"amount": 1}))
    changed = orjson.dumps(event("evt-conflict", data={"amount": 2}))
    assert (await client.post("/events", data=body, headers=STRUCTURED)).status == 202
    response = await client.post("/events", data=changed, headers=STRUCTURED)
    assert response.status == 409
    assert response.content_type == PROBLEM


async def test_binary_mode_keeps_non_json_data_as_base64(
    client: Client, engine: Engine, sink: Sink
) -> None:
    headers = binary_headers("evt-bytes", **{"Content-Type": "application/octet-stream"})
    response = await client.post("/events", data=b"\x00\x01\xff", headers=headers)
    assert response.status == 202
    await engine.wait_idle(10)
    (call,) = [c for c in sink.snapshot() if c.path == f"/{CLOUDEVENTS_SOURCE}"]
    delivered = call.json()
    assert base64.b64decode(delivered["data_base64"]) == b"\x00\x01\xff"
    assert delivered["id"] == "evt-bytes" and delivered["datacontenttype"] == (
        "application/octet-stream"
    )


# -- invalid events ------------------------------------------------------------------------------

INVALID = [
    pytest.param({"id": None}, "'id'", id="missing-id"),
    pytest.param({"id": ""}, "'id'", id="empty-id"),
    pytest.param({"specversion": None}, "'specversion'", id="missing-specversion"),
    pytest.param({"specversion": "0.3"}, "specversion must be '1.0'", id="bad-specversion"),
    pytest.param({"source": None}, "'source'", id="missing-source"),
    pytest.param({"type": None}, "'type'", id="missing-type"),
    pytest.param({"time": "yesterday"}, "'time'", id="time-words"),
    pytest.param({"time": "2026-01-02 03:04:05Z"}, "'time'", id="time-no-T"),
    pytest.param({"time": "2026-01-02T03:04:05"}, "'time'", id="time-no-offset"),
    pytest.param({"time": "2026-02-30T03:04:05Z"}, "'time'", id="time-feb-30"),
    pytest.param({"datacontenttype": "json"}, "'datacontenttype'", id="datacontenttype-no-slash"),
    pytest.param(
        {"datacontenttype": "application/"}, "'datacontenttype'", id="datacontenttype-cut"
    ),
]
STRUCTURED_ONLY_INVALID = [
    pytest.param({"time": 1700000000}, "'time'", id="time-number"),
    pytest.param({"id": 42}, "'id'", id="id-number"),
    pytest.param({"datacontenttype": 5}, "'datacontenttype'", id="datacontenttype-number"),
    pytest.param(
        {"data": {"a": 1}, "data_base64": "YQ=="}, "mutually exclusive", id="data-and-base64"
    ),
    pytest.param({"data_base64": "not base64!"}, "'data_base64'", id="bad-base64"),
    pytest.param({"Upper": "x"}, "attribute name", id="attribute-name-case"),
]


def _apply(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(("change", "reason"), INVALID + STRUCTURED_ONLY_INVALID)
async def test_an_invalid_structured_event_is_400_with_the_reason(
    client: Client, change: dict[str, Any], reason: str
) -> None:
    body = orjson.dumps(_apply(event("evt-bad"), change))
    await assert_bad_request(client, body, STRUCTURED, reason)


@pytest.mark.parametrize(("change", "reason"), INVALID + STRUCTURED_ONLY_INVALID)
async def test_an_invalid_event_in_a_batch_is_400_naming_it(
    client: Client, change: dict[str, Any], reason: str
) -> None:
    body = orjson.dumps([event("evt-ok"), _apply(event("evt-bad"), change)])
    await assert_bad_request(client, body, BATCH, reason)
    await assert_bad_request(client, body, BATCH, "event 1")


@pytest.mark.parametrize(("change", "reason"), INVALID)
async def test_an_invalid_binary_event_is_400_with_the_reason(
    client: Client, change: dict[str, Any], reason: str
) -> None:
    headers = binary_headers("evt-bad")
    for key, value in change.items():
        if key == "datacontenttype":
            headers["Content-Type"] = value
        elif value is None:
            del headers[f"ce-{key}"]
        else:
            headers[f"ce-{key}"] = value
    await assert_bad_request(client, b'{"amount": 1}', headers, reason)


async def test_an_invalid_batch_is_journaled_not_even_in_part(client: Client) -> None:
    good, bad = event("evt-first"), event("evt-second", specversion="2.0")
    await assert_bad_request(client, orjson.dumps([good, bad]), BATCH, "event 1")
    status, body = await send(client, "structured", "evt-first")
    assert status == 202, body  # not a duplicate: nothing of the refused batch was kept


async def test_a_batch_refused_with_409_journals_none_of_its_events(
    client: Client, engine: Engine, sink: Sink
) -> None:
    """A 4xx tells the sender that nothing was taken: no event of that batch may be delivered."""
    taken = event("evt-taken", data={"v": 1})
    assert (
        await client.post("/events", data=orjson.dumps(taken), headers=STRUCTURED)
    ).status == 202
    fresh, clash = event("evt-fresh"), event("evt-taken", data={"v": 2})
    response = await client.post("/events", data=orjson.dumps([fresh, clash]), headers=BATCH)
    assert response.status == 409
    await engine.wait_idle(10)
    delivered = [c.json()["id"] for c in sink.snapshot() if c.path == f"/{CLOUDEVENTS_SOURCE}"]
    assert delivered == ["evt-taken"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[{"specversion": "1.0"}, 5]', "event 0"),
        (b"[5]", "a CloudEvent is a JSON object"),
        (b'["evt"]', "a CloudEvent is a JSON object"),
        (b"[null]", "a CloudEvent is a JSON object"),
        (b'{"specversion": "1.0"}', "a CloudEvents batch is a JSON array"),
        (b"[", "not valid JSON"),
    ],
)
async def test_a_batch_of_non_objects_is_400(client: Client, body: bytes, reason: str) -> None:
    await assert_bad_request(client, body, BATCH, reason)


async def test_a_batch_over_the_limit_is_400(client: Client) -> None:
    events = [event(f"e{i}") for i in range(cloudevents.MAX_BATCH + 1)]
    await assert_bad_request(client, orjson.dumps(events), BATCH, "at most")


async def test_a_structured_body_that_is_not_json_is_400(client: Client) -> None:
    await assert_bad_request(client, b"{'id': 1}", STRUCTURED, "not valid JSON")


async def test_binary_json_data_that_is_not_json_is_400(client: Client) -> None:
    await assert_bad_request(client, b"{nope", binary_headers("evt-x"), "data is not valid JSON")


async def test_a_binary_header_that_is_not_utf8_is_400(client: Client) -> None:
    """aiohttp hands non-UTF-8 header bytes over as lone surrogates; they must not become a 503.

    Written on a raw connection: aiohttp's client would encode the header value as UTF-8.
    """
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    head = b"".join(f"{k}: {v}\r\n".encode() for k, v in binary_headers("evt-raw").items())
    writer.write(
        b"POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n"
        + head
        + b"ce-subject: \xff\xfe\r\n\r\n{}"
    )
    try:
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.split()[1] == b"400", response
    assert b"application/problem+json" in rest.partition(b"\r\n\r\n")[0].lower()


@pytest.mark.parametrize(
    "content_type",
    ["text/csv", "application/xml", "application/cloudevents+xml", "application/json", ""],
)
async def test_an_unknown_content_type_is_415(client: Client, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/events", data=b"{}", headers=headers)
    assert response.status == 415, await response.text()
    assert response.content_type == PROBLEM


async def test_a_webhook_source_takes_no_cloudevents_and_vice_versa(client: Client) -> None:
    body = orjson.dumps(event())
    response = await client.post("/events/stripe", data=body, headers=STRUCTURED)
    assert response.status == 404 and response.content_type == PROBLEM
    response = await client.post(
        f"/webhooks/{CLOUDEVENTS_SOURCE}", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 404 and response.content_type == PROBLEM
    response = await client.post("/events/nope", data=body, headers=STRUCTURED)
    assert response.status == 404 and response.content_type == PROBLEM


# -- traceparent ---------------------------------------------------------------------------------


def trace_id_of(traceparent: str) -> str:
    version, trace_id, span_id, flags = traceparent.split("-")
    assert (version, len(span_id), len(flags)) == ("00", 16, 2)
    return trace_id


@pytest.mark.parametrize("where", ["binary-header", "structured-header", "structured-attribute"])
async def test_the_senders_traceparent_reaches_the_sink(
    client: Client, engine: Engine, sink: Sink, where: str
) -> None:
    if where == "binary-header":
        headers = {**binary_headers("evt-trace"), "traceparent": TRACEPARENT}
        response = await client.post("/events", data=b"{}", headers=headers)
    elif where == "structured-header":
        headers = {**STRUCTURED, "traceparent": TRACEPARENT}
        response = await client.post("/events", data=orjson.dumps(event()), headers=headers)
    else:
        body = orjson.dumps(event(traceparent=TRACEPARENT))
        response = await client.post("/events", data=body, headers=STRUCTURED)
    assert response.status == 202, await response.text()
    await engine.wait_idle(10)
    (call,) = [c for c in sink.snapshot() if c.path == f"/{CLOUDEVENTS_SOURCE}"]
    delivered = {k.lower(): v for k, v in call.headers.items()}
    assert trace_id_of(delivered["traceparent"]) == TRACE_ID
    assert delivered["traceparent"] != TRACEPARENT  # a new span of the same trace


async def test_each_event_of_a_batch_keeps_its_own_trace(
    client: Client, engine: Engine, sink: Sink
) -> None:
    traces = ["0af7651916cd43dd8448eb211c80319c", "5b8aa5a2d2c872e8321cf37308d69df2"]
    events = [
        event(f"evt-t{i}", traceparent=f"00-{trace}-b7ad6b7169203331-01")
        for i, trace in enumerate(traces)
    ]
    response = await client.post("/events", data=orjson.dumps(events), headers=BATCH)
    assert response.status == 202
    await engine.wait_idle(10)
    calls = [c for c in sink.snapshot() if c.path == f"/{CLOUDEVENTS_SOURCE}"]
    got = {c.json()["id"]: trace_id_of(c.headers["traceparent"]) for c in calls}
    assert got == {"evt-t0": traces[0], "evt-t1": traces[1]}


async def test_an_invalid_traceparent_is_replaced_not_refused(
    client: Client, engine: Engine, sink: Sink
) -> None:
    headers = {**binary_headers("evt-badtrace"), "traceparent": "00-zz-yy-01"}
    response = await client.post("/events", data=b"{}", headers=headers)
    assert response.status == 202
    await engine.wait_idle(10)
    (call,) = [c for c in sink.snapshot() if c.path == f"/{CLOUDEVENTS_SOURCE}"]
    assert len(trace_id_of(call.headers["traceparent"])) == 32


# -- the OPTIONS handshake (CloudEvents HTTP webhook abuse protection) --------------------------


@pytest.mark.parametrize("path", ["/events", f"/events/{CLOUDEVENTS_SOURCE}"])
async def test_handshake_from_an_allowed_origin_is_200(client: Client, path: str) -> None:
    response = await client.options(
        path, headers={"WebHook-Request-Origin": ALLOWED_ORIGIN, "WebHook-Request-Rate": "120"}
    )
    assert response.status == 200
    assert response.headers["WebHook-Allowed-Origin"] == ALLOWED_ORIGIN
    assert response.headers["WebHook-Allowed-Rate"] == "*"
    assert "POST" in response.headers["Allow"]


async def test_handshake_without_a_rate_request_names_no_rate(client: Client) -> None:
    response = await client.options("/events", headers={"WebHook-Request-Origin": ALLOWED_ORIGIN})
    assert response.status == 200
    assert "WebHook-Allowed-Rate" not in response.headers


@pytest.mark.parametrize("origin", ["evil.example.com", "", "sender.example.com.evil.net", "*"])
async def test_handshake_from_another_origin_is_403(client: Client, origin: str) -> None:
    headers = {"WebHook-Request-Origin": origin} if origin else {}
    response = await client.options("/events", headers=headers)
    assert response.status == 403
    assert response.content_type == PROBLEM
    assert "WebHook-Allowed-Origin" not in response.headers


@pytest.mark.parametrize("source", ["nope", "stripe"])
async def test_handshake_for_an_unknown_source_is_404(client: Client, source: str) -> None:
    response = await client.options(
        f"/events/{source}", headers={"WebHook-Request-Origin": ALLOWED_ORIGIN}
    )
    assert response.status == 404
    assert response.content_type == PROBLEM


# -- router.cloudevents.parse / validate ---------------------------------------------------------


def test_validate_returns_a_valid_event_unchanged() -> None:
    valid = event(time="2026-01-02T03:04:05.123456+02:00", datacontenttype="application/json")
    assert cloudevents.validate(dict(valid)) == valid


@pytest.mark.parametrize(
    "time", ["2026-01-02T03:04:05Z", "2026-01-02t03:04:05z", "2026-01-02T03:04:05.5-07:30"]
)
def test_validate_accepts_rfc3339_times(time: str) -> None:
    assert cloudevents.validate(event(time=time))["time"] == time


@pytest.mark.parametrize(("change", "reason"), INVALID + STRUCTURED_ONLY_INVALID)
def test_validate_rejects_with_the_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequestError, match=re.escape(reason)):
        cloudevents.validate(_apply(event(), change), "event 7")
    with pytest.raises(BadRequestError, match=r"^event 7: "):
        cloudevents.validate(_apply(event(), change), "event 7")


@pytest.mark.parametrize("value", [None, [], "evt", 1])
def test_validate_rejects_non_objects(value: object) -> None:
    with pytest.raises(BadRequestError, match="a CloudEvent is a JSON object"):
        cloudevents.validate(value)


def test_parse_structured_keeps_the_raw_body() -> None:
    body = orjson.dumps(event(data={"amount": 42}))
    (parsed,) = cloudevents.parse(body, CIMultiDict(STRUCTURED))
    assert parsed.body == body
    assert parsed.type == "com.example.invoice.paid"
    assert parsed.dedupe_key == "/billing/invoices evt-1"
    assert parsed.traceparent is None


def test_parse_batch_gives_one_event_each() -> None:
    events = [event("a"), event("b", traceparent=TRACEPARENT)]
    parsed = cloudevents.parse(orjson.dumps(events), CIMultiDict(BATCH))
    assert [p.attributes["id"] for p in parsed] == ["a", "b"]
    assert [orjson.loads(p.body) for p in parsed] == events
    assert parsed[1].traceparent == TRACEPARENT


def test_parse_batch_may_not_be_empty() -> None:
    with pytest.raises(BadRequestError, match="at least one event"):
        cloudevents.parse(b"[]", CIMultiDict(BATCH))


def test_parse_binary_builds_the_structured_form() -> None:
    headers = CIMultiDict(
        {**binary_headers("bin-1"), "CE-Subject": "inv_1", "traceparent": TRACEPARENT}
    )
    (parsed,) = cloudevents.parse(b'{"amount": 42}', headers)
    assert parsed.attributes == {
        **event("bin-1"),
        "subject": "inv_1",
        "datacontenttype": "application/json",
        "data": {"amount": 42},
        "traceparent": TRACEPARENT,
    }
    assert orjson.loads(parsed.body) == parsed.attributes


def test_parse_binary_without_data_has_no_data() -> None:
    headers = CIMultiDict({k: v for k, v in binary_headers().items() if k != "Content-Type"})
    (parsed,) = cloudevents.parse(b"", headers)
    assert "data" not in parsed.attributes and "data_base64" not in parsed.attributes


def test_parse_binary_never_invents_a_missing_id() -> None:
    headers = CIMultiDict({k: v for k, v in binary_headers().items() if k != "ce-id"})
    with pytest.raises(BadRequestError, match="'id'"):
        cloudevents.parse(b"{}", headers)


def test_parse_binary_with_a_non_utf8_header_is_a_bad_request() -> None:
    """aiohttp decodes header bytes with surrogateescape: a lone surrogate is what arrives."""
    headers = CIMultiDict({**binary_headers(), "ce-subject": "\udcff"})
    with pytest.raises(BadRequestError):
        cloudevents.parse(b"{}", headers)


@pytest.mark.parametrize(
    "content_type", ["text/csv", "application/cloudevents+xml", "application/json", ""]
)
def test_parse_refuses_other_content_types(content_type: str) -> None:
    headers = CIMultiDict({"Content-Type": content_type} if content_type else {})
    with pytest.raises(UnsupportedMediaTypeError):
        cloudevents.parse(b"{}", headers)
