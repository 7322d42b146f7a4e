"""Job and reconciliation metrics: runs by outcome, last success, duration, drift, backlog."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A reconciliation of 100,000 records per side takes minutes; a small one seconds.
RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "interlock_job_runs_total",
            "Job runs by outcome: succeeded, failed, or skipped (a missed or overlapping slot)",
            ["job", "outcome"],
            registry=registry,
        )
        self.last_success = Gauge(
            "interlock_job_last_success_timestamp_seconds",
            "When the job's last successful run finished (Unix time); 0 before the first",
            ["job"],
            registry=registry,
        )
        self.duration = Histogram(
            "interlock_job_duration_seconds",
            "How long a job run took, by outcome",
            ["job", "outcome"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.records = Counter(
            "interlock_reconciliation_records_total",
            "Records read by a reconciliation, by side",
            ["reconciliation", "side"],
            registry=registry,
        )
        self.drift = Gauge(
            "interlock_reconciliation_drift",
            "Records of the last run by class: matched, missing_left, missing_right, mismatched",
            ["reconciliation", "class"],
            registry=registry,
        )
        self.backlog = Gauge(
            "interlock_reconciliation_backlog",
            "Records not yet in step after the last run (its exceptions not ignored)",
            ["reconciliation"],
            registry=registry,
        )
        self.actions = Counter(
            "interlock_reconciliation_exceptions_total",
            "Exceptions handled, by class and handling: repaired, parked, ignored",
            ["reconciliation", "class", "handling"],
            registry=registry,
        )
