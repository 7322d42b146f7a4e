"""Interlock's kernel: durable journal, routing, actors, ingress.

The public surface is deliberately small: these names, :mod:`router.plugin` (what a component
package needs) and :mod:`router.testing` (for plugin and route authors); everything else lives in
submodules that may change. Names resolve on first use (PEP 562), so ``import router.plugin`` or
``interlock --help`` does not load the engine, LMDB, pykka or prometheus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.config import RouterConfig, load_config
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
    from router.settings import Settings
    from router.source_handler import Ack

_WHERE = {
    "Ack": "router.source_handler",
    "ConfigError": "router.errors",
    "DeliveryError": "router.errors",
    "Engine": "router.engine",
    "IngressError": "router.errors",
    "InterlockError": "router.errors",
    "PermanentError": "router.errors",
    "RouterConfig": "router.config",
    "Settings": "router.settings",
    "TransientError": "router.errors",
    "UnavailableError": "router.errors",
    "load_config": "router.config",
}

__all__ = [
    "Ack",
    "ConfigError",
    "DeliveryError",
    "Engine",
    "IngressError",
    "InterlockError",
    "PermanentError",
    "RouterConfig",
    "Settings",
    "TransientError",
    "UnavailableError",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
