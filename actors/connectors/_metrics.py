"""Per-connector metrics: calls, outcomes, call latency, circuit state, access tokens fetched.

Works two ways. With no registry, a connector owns a private ``CollectorRegistry`` that the engine
can collect through ``connector.collectors()``; given the engine's registry, the families are
created once per registry and each connector writes its own ``connector`` label.
"""

from __future__ import annotations

import weakref
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

__all__ = ["ConnectorMetrics", "Outcome"]

Outcome = Literal["ok", "transient", "permanent", "circuit_open", "throttled", "refused"]
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Families:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "interlock_connector_calls_total",
            "Outbound HTTP calls made (token fetches and 401 retries included)",
            ["connector", "operation"],
            registry=registry,
        )
        self.outcomes = Counter(
            "interlock_connector_outcomes_total",
            "send() outcomes: ok, transient, permanent, circuit_open, throttled, refused",
            ["connector", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "interlock_connector_call_duration_seconds",
            "One outbound HTTP call, connect to last byte",
            ["connector"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.circuit = Gauge(
            "interlock_connector_circuit_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open",
            ["connector"],
            registry=registry,
        )
        self.tokens = Counter(
            "interlock_connector_token_refreshes_total",
            "Access tokens fetched (OAuth 2.0 client credentials)",
            ["connector"],
            registry=registry,
        )


_families: weakref.WeakKeyDictionary[CollectorRegistry, _Families] = weakref.WeakKeyDictionary()


class ConnectorMetrics:
    """The metrics of one connector instance."""

    def __init__(self, connector: str, registry: CollectorRegistry | None = None) -> None:
        self.connector = connector
        self.owned = registry is None
        self.registry = registry if registry is not None else CollectorRegistry()
        families = _families.get(self.registry)
        if families is None:
            families = _families[self.registry] = _Families(self.registry)
        self._f = families
        self._latency = families.latency.labels(connector=connector)
        self._circuit = families.circuit.labels(connector=connector)
        self._tokens = families.tokens.labels(connector=connector)

    def call(self, operation: str, seconds: float) -> None:
        self._f.calls.labels(connector=self.connector, operation=operation).inc()
        self._latency.observe(seconds)

    def outcome(self, outcome: Outcome) -> None:
        self._f.outcomes.labels(connector=self.connector, outcome=outcome).inc()

    def circuit(self, state: int) -> None:
        self._circuit.set(state)

    def token_refreshed(self) -> None:
        self._tokens.inc()

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent); for tests and the admin CLI."""
        sample = self.registry.get_sample_value(name, {"connector": self.connector, **labels})
        return sample or 0.0

    def collectors(self) -> list[Collector]:
        """What the engine should register: the private registry, or nothing if it was given one."""
        return [self.registry] if self.owned else []
