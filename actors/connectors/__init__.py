"""Outbound connectors; importing this package registers them."""

from actors.connectors import http, sinks

__all__ = ["http", "sinks"]
