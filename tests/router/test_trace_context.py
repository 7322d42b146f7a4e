"""W3C Trace Context at the edges, and OpenTelemetry spans from ingress to delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router import telemetry
from router.http.ingress import create_app
from router.ids import child_traceparent, normalize_traceparent, parse_traceparent
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.routes import write_routes

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def test_a_valid_traceparent_keeps_its_ids_and_flags() -> None:
    assert normalize_traceparent(f"00-{TRACE}-{PARENT}-01") == f"00-{TRACE}-{PARENT}-01"
    assert parse_traceparent(f"00-{TRACE}-{PARENT}-01") == TRACE


def test_not_sampled_stays_not_sampled() -> None:
    parent = normalize_traceparent(f"00-{TRACE}-{PARENT}-00")
    assert parent == f"00-{TRACE}-{PARENT}-00"
    child = child_traceparent(parent)
    assert child.startswith(f"00-{TRACE}-") and child.endswith("-00")
    assert child.split("-")[2] != PARENT


def test_a_future_version_is_read_by_its_first_fields_and_keeps_the_trace() -> None:
    assert parse_traceparent(f"cc-{TRACE}-{PARENT}-01-what-the-future-holds") == TRACE
    assert normalize_traceparent(f"cc-{TRACE}-{PARENT}-01") == f"00-{TRACE}-{PARENT}-01"


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE.upper()}-{PARENT}-01",  # uppercase hex is not the spec's lowercase
        f"00-{TRACE}-{PARENT.upper()}-01",
        f"ff-{TRACE}-{PARENT}-01",  # version ff is forbidden
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        "",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(header: str) -> None:
    assert normalize_traceparent(header) is None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use(provider)
    yield exporter
    telemetry.use(None)
    provider.shutdown()


async def post(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory, headers: dict[str, str]
) -> None:
    engine = await make_engine(write_routes(tmp_path / "routes", sink.url))
    async with TestClient(TestServer(create_app(engine))) as client:
        body = orjson.dumps({"id": "o-1", "type": "order.created", "customer": "c1"})
        answer = await client.post(
            "/webhooks/shop", data=body, headers={"Content-Type": "application/json", **headers}
        )
        assert answer.status == 202
        await engine.wait_idle()


async def test_one_trace_from_ingress_to_delivery_and_tracestate_arrives(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory, spans: InMemorySpanExporter
) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": TRACESTATE}
    await post(tmp_path, sink, make_engine, headers)
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert {"interlock.ingress", "interlock.journal.commit", "interlock.deliver"} <= set(finished)
    assert {f"{s.context.trace_id:032x}" for s in finished.values()} == {TRACE}
    ingress, deliver = finished["interlock.ingress"], finished["interlock.deliver"]
    assert ingress.parent is not None and f"{ingress.parent.span_id:016x}" == PARENT
    assert deliver.parent is not None and deliver.parent.span_id == ingress.context.span_id
    assert str(ingress.context.trace_state.to_header()) == TRACESTATE
    (call,) = sink.calls
    assert call.headers["tracestate"] == TRACESTATE  # unchanged
    # The target's parent span is the delivery attempt, which was recorded.
    assert call.headers["traceparent"] == f"00-{TRACE}-{deliver.context.span_id:016x}-01"


async def test_without_spans_the_trace_id_and_flags_still_reach_the_target(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-00", "tracestate": TRACESTATE}
    await post(tmp_path, sink, make_engine, headers)
    (call,) = sink.calls
    version, trace_id, span_id, flags = call.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "00")
    assert span_id != PARENT
    assert call.headers["tracestate"] == TRACESTATE


async def test_an_uppercase_traceparent_gets_a_new_trace_and_no_tracestate(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    headers = {"traceparent": f"00-{TRACE.upper()}-{PARENT}-01", "tracestate": TRACESTATE}
    await post(tmp_path, sink, make_engine, headers)
    (call,) = sink.calls
    assert call.headers["traceparent"].split("-")[1] != TRACE
    assert "tracestate" not in call.headers
