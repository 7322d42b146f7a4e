"""W3C Trace Context at the edges, and OpenTelemetry spans from ingress to delivery: route
deliveries, workflow steps (one span per attempt) and request/reply calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router import telemetry
from router.http.ingress import create_app
from router.ids import child_traceparent, normalize_traceparent, parse_traceparent
from router.testing import Sink
from router.workflows.plan import trace_parent
from router.workflows.state import Instance
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


# -- workflows and request/reply ------------------------------------------------------------

WORKFLOW = """\
id: fulfil
kind: workflow
trigger: {source: shop, type: order.created}
key: "{{ /trigger/id }}"
steps:
  - id: reserve
    call: {connector: sink, path: /reserve}
    input: {set: {order: "{{ /trigger/id }}"}}
  - id: ship
    call: {connector: sink, path: /ship}
    input: {set: {order: "{{ /trigger/id }}"}}
"""


def workflow_routes(folder: Path, sink_url: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        f"sink:\n  kind: http\n  base_url: {sink_url}\n  timeout: 5s\n"
    )
    (folder / "fulfil.yaml").write_text(WORKFLOW)
    return folder


async def run_workflow(
    tmp_path: Path,
    sink: Sink,
    make_engine: EngineFactory,
    headers: dict[str, str],
    spans: InMemorySpanExporter | None = None,
) -> None:
    """Trigger ``fulfil`` through the webhook; wait until both steps reached the sink (and, with
    spans, until both step spans ended)."""
    engine = await make_engine(workflow_routes(tmp_path / "routes", sink.url))
    async with TestClient(TestServer(create_app(engine))) as client:
        body = orjson.dumps({"id": "o-1", "type": "order.created"})
        answer = await client.post(
            "/webhooks/shop", data=body, headers={"Content-Type": "application/json", **headers}
        )
        assert answer.status == 202
        for _ in range(1000):  # a bound, not a timing assertion
            steps = [s for s in (spans.get_finished_spans() if spans else ()) if is_step(s)]
            if len(sink.calls) >= 2 and (spans is None or len(steps) >= 2):
                break
            await asyncio.sleep(0.01)
        await engine.wait_idle()
    assert [c.path for c in sink.calls] == ["/reserve", "/ship"]


def is_step(span: ReadableSpan) -> bool:
    return span.name == "interlock.workflow.step"


async def test_a_workflow_is_one_trace_from_ingress_to_each_step_call(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory, spans: InMemorySpanExporter
) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": TRACESTATE}
    await run_workflow(tmp_path, sink, make_engine, headers, spans)
    finished = spans.get_finished_spans()
    assert {f"{s.context.trace_id:032x}" for s in finished} == {TRACE}
    by_id = {s.context.span_id: s for s in finished}
    names = {s.name for s in finished}
    assert {"interlock.ingress", "interlock.journal.commit"} <= names
    steps = sorted((s for s in finished if is_step(s)), key=lambda s: s.start_time or 0)
    assert [s.attributes and s.attributes["interlock.step"] for s in steps] == ["reserve", "ship"]
    for step in steps:
        assert step.attributes is not None
        assert step.attributes["interlock.workflow"] == "fulfil"
        assert step.attributes["interlock.phase"] == "do"
        assert step.attributes["interlock.attempt"] == 1
        assert step.attributes["interlock.outcome"] == "ok"
        assert str(step.attributes["interlock.instance_id"])
        # The step's parent is the trigger's delivery to the workflow, a child of ingress.
        assert step.parent is not None
        trigger = by_id[step.parent.span_id]
        assert trigger.name == "interlock.deliver"
        assert trigger.parent is not None
        assert by_id[trigger.parent.span_id].name == "interlock.ingress"
    # Each step call's deliver span is a child of its step span, and the target's parent.
    for step, call in zip(steps, sink.calls, strict=True):
        (deliver,) = [s for s in finished if s.parent and s.parent.span_id == step.context.span_id]
        assert deliver.name == "interlock.deliver"
        assert call.headers["traceparent"] == f"00-{TRACE}-{deliver.context.span_id:016x}-01"
        assert call.headers["tracestate"] == TRACESTATE  # unchanged


async def test_a_not_sampled_trigger_keeps_its_flag_and_tracestate_in_each_step_call(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-00", "tracestate": TRACESTATE}
    await run_workflow(tmp_path, sink, make_engine, headers)
    for call in sink.calls:
        version, trace_id, span_id, flags = call.headers["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", TRACE, "00")
        assert span_id != PARENT
        assert call.headers["tracestate"] == TRACESTATE


async def test_a_not_sampled_trigger_stays_not_sampled_with_spans_on(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory, spans: InMemorySpanExporter
) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-00"}
    await run_workflow(tmp_path, sink, make_engine, headers)
    for call in sink.calls:
        assert call.headers["traceparent"].startswith(f"00-{TRACE}-")
        assert call.headers["traceparent"].endswith("-00")
        assert "tracestate" not in call.headers


def test_an_instance_stored_before_the_trace_context_was_kept_still_loads() -> None:
    instance = Instance(
        id="i",
        workflow="w",
        key="k",
        trigger_message="m",
        received_at=0.0,
        correlation_id="c",
        trace_id=TRACE,
        input={},
        steps=[],
    )
    record = instance.to_record()
    del record["traceparent"], record["tracestate"]
    old = Instance.from_record(record)
    assert (old.traceparent, old.tracestate) == (None, None)
    assert trace_parent(old).split("-")[1] == TRACE  # its calls stay in the trigger's trace


async def test_request_reply_forwards_the_callers_tracestate_unchanged(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    folder = write_routes(tmp_path / "routes", sink.url)
    (folder / "lookup.yaml").write_text(
        "id: lookup\nkind: request-reply\nsteps:\n  - to: {connector: sink, path: /lookup}\n"
    )
    engine = await make_engine(folder)
    async with TestClient(TestServer(create_app(engine))) as client:
        for headers in (
            {"traceparent": f"00-{TRACE}-{PARENT}-00", "tracestate": TRACESTATE},
            {"traceparent": f"00-{TRACE.upper()}-{PARENT}-01", "tracestate": TRACESTATE},
        ):
            answer = await client.post(
                "/api/lookup",
                data=b'{"sku": "S-1"}',
                headers={"Content-Type": "application/json", **headers},
            )
            assert answer.status == 200
    valid, invalid = sink.calls
    assert valid.headers["tracestate"] == TRACESTATE
    assert valid.headers["traceparent"].startswith(f"00-{TRACE}-")
    assert valid.headers["traceparent"].endswith("-00")
    assert "tracestate" not in invalid.headers  # dropped with an invalid traceparent


def test_otlp_export_reaches_a_collector_on_loopback(sink: Sink) -> None:
    """`INTERLOCK_OTLP_ENDPOINT`'s path: the otel extra's exporter posts the spans, as
    OTLP/HTTP protobuf, to the endpoint (a loopback sink standing in for a collector)."""
    provider = telemetry.configure(f"{sink.url}/v1/traces", service_name="interlock-test")
    assert isinstance(provider, TracerProvider)  # the SDK's, with its batch exporter
    try:
        span = telemetry.start("interlock.ingress", None)
        assert span is not None
        span.end()
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
        telemetry.use(None)
    [call] = [c for c in sink.calls if c.path == "/v1/traces"]
    assert call.method == "POST"
    assert call.headers["Content-Type"] == "application/x-protobuf"
    assert b"interlock.ingress" in call.body and b"interlock-test" in call.body
