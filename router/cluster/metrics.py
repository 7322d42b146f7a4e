"""Cluster mode's metrics: the backbone, the partitions this instance owns, what it forwards."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClusterMetrics:
    """Per instance; the partition gauges are labelled by partition number."""

    def __init__(self, registry: CollectorRegistry, instance: str) -> None:
        r = registry
        self.up = Gauge("interlock_backbone_up", "1 while the backbone is connected", registry=r)
        self.owned = Gauge(
            "interlock_partition_owned",
            "1 for each partition this instance owns now",
            ["partition"],
            registry=r,
        )
        self.backlog = Gauge(
            "interlock_partition_backlog",
            "Messages of a partition on the backbone not yet acknowledged by its owner",
            ["partition"],
            registry=r,
        )
        self.inflight = Gauge(
            "interlock_partition_inflight",
            "Messages this instance took from a partition and has not yet acknowledged",
            ["partition"],
            registry=r,
        )
        self.forwarded = Counter(
            "interlock_forwarded",
            "Deliveries this instance accepted and published to their partitions",
            registry=r,
        )
        self.adopted = Counter(
            "interlock_adopted",
            "Deliveries this instance took from its partitions, by kind (new | replay | "
            "duplicate: another copy of the event holds its idempotency key, dropped | known: "
            "already finished here, acknowledged without sending)",
            ["kind"],
            registry=r,
        )
        info = Gauge(
            "interlock_instance", "This instance's name in cluster mode", ["instance"], registry=r
        )
        info.labels(instance=instance).set(1)
