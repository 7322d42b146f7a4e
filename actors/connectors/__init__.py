"""Outbound connectors; importing this package registers every kind.

Kinds: ``http`` (generic), ``log`` and ``null`` (sinks), and the vendor kinds ``netsuite``,
``dynamics``, ``stripe``, ``salesforce``, ``zendesk`` and ``shopify``. All HTTP kinds share
:class:`ClientConfig` (auth, rate limit, circuit breaker, timeout, SSRF guards); see
``docs/connectors.md``.
"""

from actors.connectors import dynamics, http, netsuite, salesforce, shopify, sinks, stripe, zendesk
from actors.connectors._client import ClientConfig
from actors.connectors._metrics import ConnectorMetrics

__all__ = [
    "ClientConfig",
    "ConnectorMetrics",
    "dynamics",
    "http",
    "netsuite",
    "salesforce",
    "shopify",
    "sinks",
    "stripe",
    "zendesk",
]
