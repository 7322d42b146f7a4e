"""Interlock's kernel: durable journal, routing, actors, ingress.

The public surface is deliberately small; everything else lives in submodules that may change.
"""

from router.config import RouterConfig, load_config
from router.connector import Connector, OutboundRequest
from router.engine import Engine
from router.errors import (
    ConfigError,
    DeliveryError,
    IngressError,
    InterlockError,
    PermanentError,
    TransientError,
    UnavailableError,
)
from router.ingest import Ack
from router.registry import register_connector, register_transform, register_verifier, transform
from router.settings import Settings

__all__ = [
    "Ack",
    "ConfigError",
    "Connector",
    "DeliveryError",
    "Engine",
    "IngressError",
    "InterlockError",
    "OutboundRequest",
    "PermanentError",
    "RouterConfig",
    "Settings",
    "TransientError",
    "UnavailableError",
    "load_config",
    "register_connector",
    "register_transform",
    "register_verifier",
    "transform",
]
