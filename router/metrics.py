"""Prometheus metrics, one registry per engine (so tests and embedded engines never collide)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MergedCollector(Collector):
    """The collectors of the parts that keep their own registry (each connector), as one.

    Each connector's private registry holds the same families (``interlock_connector_calls_total``
    with its own ``connector`` label), so registering each one beside the others would repeat every
    family's HELP and TYPE once per connector, which the exposition format forbids (``promtool
    check metrics``). This one collects them all and yields one family per name.
    """

    def __init__(self) -> None:
        self._parts: list[Collector] = []

    def add(self, collector: Collector) -> None:
        self._parts.append(collector)

    def describe(self) -> Iterable[Metric]:
        return []  # collected on scrape only, never at register time

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for part in self._parts:
            for family in part.collect():
                found = merged.get(family.name)
                if found is None:
                    found = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                found.samples.extend(family.samples)
        return list(merged.values())


class Metrics:
    """Every metric is ``interlock_<noun>_<unit>``; labels stay low-cardinality (no message ids)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self._merged = MergedCollector()
        r.register(self._merged)
        self.ingress_requests = Counter(
            "interlock_ingress_requests_total",
            "Ingress requests by answer",
            ["source", "status"],
            registry=r,
        )
        self.acks = Counter(
            "interlock_acks_total", "Journal acks", ["source", "outcome"], registry=r
        )
        self.ack_seconds = Histogram(
            "interlock_ack_duration_seconds",
            "Request received to fsynced ack",
            buckets=_LATENCY,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "interlock_journal_commit_duration_seconds",
            "One group commit",
            buckets=_LATENCY,
            registry=r,
        )
        self.commit_batch = Histogram(
            "interlock_journal_batch_messages",
            "Messages per group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.deliveries = Counter(
            "interlock_deliveries_total",
            "Delivery attempts by outcome",
            ["route", "connector", "outcome"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "interlock_delivery_duration_seconds",
            "One outbound call",
            ["connector"],
            buckets=_LATENCY,
            registry=r,
        )
        self.end_to_end_seconds = Histogram(
            "interlock_end_to_end_duration_seconds",
            "Received to delivered",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.retries = Counter(
            "interlock_retries_total", "Retries scheduled", ["route"], registry=r
        )
        self.dead_letters = Counter(
            "interlock_dead_letters_total", "Dead-lettered deliveries", ["route"], registry=r
        )
        self.held_keys = Gauge(
            "interlock_held_keys",
            "Ordering keys held by a dead letter (on_dead_letter: hold) until a replay or skip",
            ["route"],
            registry=r,
        )
        self.held_deliveries = Gauge(
            "interlock_held_deliveries",
            "Pending deliveries waiting behind a held key's dead letter",
            ["route"],
            registry=r,
        )
        self.dead_letters_expired = Counter(
            "interlock_dead_letters_expired_total",
            "Dead-lettered messages removed after their retention: archived (to a file) or purged",
            ["action"],
            registry=r,
        )
        self.unrouted = Counter(
            "interlock_unrouted_total", "Accepted messages no route matched", ["source"], registry=r
        )
        self.conflicts = Counter(
            "interlock_idempotency_conflicts_total",
            "Same key, different body",
            ["source"],
            registry=r,
        )
        self.shed = Counter(
            "interlock_shed_total", "Requests refused with 503", ["reason"], registry=r
        )
        self.restarts = Counter(
            "interlock_actor_restarts_total", "Supervised actor restarts", ["actor"], registry=r
        )
        self.inflight = Gauge(
            "interlock_inflight_deliveries", "Accepted deliveries not yet finished", registry=r
        )
        self.mailbox = Gauge(
            "interlock_mailbox_depth", "Messages queued in an actor inbox", ["actor"], registry=r
        )
        self.loop_lag = Gauge(
            "interlock_loop_lag_seconds",
            "How late the event loop runs a timer (the edge sheds above INTERLOCK_SHED_LAG_MS)",
            registry=r,
        )
        self.journal_bytes = Gauge(
            "interlock_journal_size_bytes", "Used size of the LMDB map", registry=r
        )
        self.sync_requests = Counter(
            "interlock_sync_requests_total",
            "Request/reply answers by outcome (miss, hit, stale, error)",
            ["route", "outcome"],
            registry=r,
        )
        self.sync_seconds = Histogram(
            "interlock_sync_duration_seconds",
            "Request/reply answer time",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.ready = Gauge("interlock_ready", "1 when the router accepts traffic", registry=r)

    def adopt(self, collector: Collector) -> None:
        """Expose a part's own collector (a connector's registry), merged by family name."""
        self._merged.add(collector)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, cached: the hot path asks for the same few children."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def watch_mailbox(self, actor: str, depth: Callable[[], float]) -> None:
        self.mailbox.labels(actor=actor).set_function(depth)
