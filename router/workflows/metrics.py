"""Workflow metrics: instances by state, step latency, and the business SLA per workflow."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Business time spans seconds (a deal fully provisioned) to days (waiting for an operator).
SLA_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)


class _InstancesByState(Collector):
    """Read at scrape time from the orchestrator's counts, so the gauge can never drift."""

    def __init__(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "interlock_workflow_instances",
            "Workflow instances by workflow and state",
            labels=["workflow", "state"],
        )
        for (workflow, state), count in sorted(self._counts().items()):
            family.add_metric([workflow, state], count)
        yield family


class WorkflowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.triggers = Counter(
            "interlock_workflow_triggers_total",
            "Workflow triggers: started a new instance, or a duplicate business key",
            ["workflow", "outcome"],
            registry=registry,
        )
        self.step_seconds = Histogram(
            "interlock_workflow_step_seconds",
            "Latency of one step attempt (do) or compensation (undo), by outcome",
            ["workflow", "step", "phase", "outcome"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.sla_seconds = Histogram(
            "interlock_workflow_sla_seconds",
            "Business SLA: the trigger's receipt to completion (or to the workflow's `sla.until`)",
            ["workflow"],
            buckets=SLA_BUCKETS,
            registry=registry,
        )
        self.sla_total = Counter(
            "interlock_workflow_sla_outcomes_total",
            "Instances measured against their SLA objective, by whether it was met",
            ["workflow", "met"],
            registry=registry,
        )
        self.objective = Gauge(
            "interlock_workflow_sla_objective_seconds",
            "The SLA objective declared in the workflow file",
            ["workflow"],
            registry=registry,
        )

    def watch_instances(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        self.registry.register(_InstancesByState(counts))
