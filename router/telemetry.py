"""OpenTelemetry spans: ingress, the journal commit, each workflow step (or compensation) attempt
(``interlock.workflow.step``, router/workflows/orchestrator.py), each connector call (delivery
attempts, workflow steps, request/reply calls).

Off by default and then free: with no tracer installed each hook is one ``None`` check, so the
hot path pays nothing (the traceparent/tracestate headers are still carried, by router/ids.py).
``INTERLOCK_OTLP_ENDPOINT`` (the ``otel`` extra: opentelemetry-sdk and the OTLP/HTTP exporter)
installs the SDK and exports spans in batches; tests install a provider with :func:`use`.

When spans are recorded the outbound ``traceparent`` names the delivery attempt's span, whose
parent is the ingress span, so the target's spans hang off a span someone recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["configure", "enabled", "extract", "span_traceparent", "start", "use"]

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer: Tracer | None = None
_LINKS_MAX = 128  # links of one journal commit span (a batch may hold 512 messages)


def use(provider: TracerProvider | None) -> None:
    """Record spans through ``provider`` (None: stop recording)."""
    global _tracer  # noqa: PLW0603 - one process-wide switch, read on the hot path
    _tracer = None if provider is None else provider.get_tracer("interlock")


def enabled() -> bool:
    return _tracer is not None


def configure(endpoint: str | None, service_name: str = "interlock") -> TracerProvider | None:
    """Install the SDK exporting to ``endpoint`` (OTLP/HTTP); None or empty: spans stay off.

    Raises:
        RuntimeError: the ``otel`` extra is not installed.
    """
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider as SdkProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    except ImportError as exc:
        raise RuntimeError(
            "INTERLOCK_OTLP_ENDPOINT needs the otel extra: pip install 'interlock[otel]'"
        ) from exc
    provider = SdkProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    use(provider)
    return provider


def extract(traceparent: str | None, tracestate: str | None = None) -> Context:
    """The parent context a W3C ``traceparent`` (and ``tracestate``) names (empty if invalid)."""
    carrier = {"traceparent": traceparent or ""}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


def span_traceparent(span: Span) -> str:
    """The ``traceparent`` that makes ``span`` the parent of the next hop."""
    c = span.get_span_context()
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{c.trace_flags:02x}"


def start(
    name: str,
    traceparent: str | None,
    tracestate: str | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[tuple[str, str | None]] = (),
) -> Span | None:
    """A started span, child of ``traceparent`` (a root when it is invalid), or None when spans
    are off. The caller ends it (``span.end()``)."""
    tracer = _tracer
    if tracer is None:
        return None
    linked = [
        Link(trace.get_current_span(extract(tp, ts)).get_span_context())
        for tp, ts in links[:_LINKS_MAX]
    ]
    return tracer.start_span(
        name,
        context=extract(traceparent, tracestate),
        kind=kind,
        attributes=dict(attributes or {}),
        links=linked,
    )
