"""Everything a component package needs from the router, and the only module it imports.

A component is a connector kind (outbound calls), a verifier (an inbound signature scheme) or a
transform (a typed function). It registers a name, a frozen pydantic config model and a factory::

    from router.plugin import Connector, OutboundRequest, TransientError, register

    class HubSpotConfig(BaseModel): ...
    class HubSpotConnector: ...          # a Connector: start, send, close

    register("connector", "hubspot", HubSpotConfig, HubSpotConnector)

``interlock check`` validates a connector's fields against its model; docs/connectors.md and
``interlock schema connectors`` are generated from the same models. The router finds the
package through its ``interlock.plugins`` entry point (``actors`` ships as one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from pydantic import BaseModel

from router.connector import Connector, OutboundRequest, Page
from router.durations import Duration
from router.errors import (
    ConfigError,
    DeliveryError,
    PermanentError,
    SignatureError,
    TransientError,
)
from router.logs import get_logger
from router.pointer import Pointer
from router.registry import (
    ConfigT,
    ConnectorFactory,
    TransformFn,
    VerifierFactory,
    register_connector,
    register_transform,
    register_verifier,
    transform,
)
from router.verify import Verified, Verifier

__all__ = [
    "ConfigError",
    "Connector",
    "ConnectorFactory",
    "DeliveryError",
    "Duration",
    "OutboundRequest",
    "Page",
    "PermanentError",
    "Pointer",
    "SignatureError",
    "TransformFn",
    "TransientError",
    "Verified",
    "Verifier",
    "VerifierFactory",
    "get_logger",
    "register",
    "transform",
]


@overload
def register(
    kind: Literal["connector"],
    name: str,
    config: type[ConfigT],
    factory: ConnectorFactory[ConfigT],
    *,
    operations: frozenset[str] | set[str] = ...,
    lists: frozenset[str] | set[str] = ...,
    key_windows: Mapping[str, str] | None = ...,
) -> None: ...


@overload
def register(
    kind: Literal["verifier"],
    name: str,
    config: type[ConfigT],
    factory: VerifierFactory[ConfigT],
) -> None: ...


@overload
def register(kind: Literal["transform"], name: str, config: None, factory: TransformFn) -> None: ...


def register(
    kind: Literal["connector", "verifier", "transform"],
    name: str,
    config: type[BaseModel] | None,
    factory: Any,
    *,
    operations: frozenset[str] | set[str] = frozenset(),
    lists: frozenset[str] | set[str] = frozenset(),
    key_windows: Mapping[str, str] | None = None,
) -> None:
    """Register a component under ``name``.

    - ``"connector"``: ``factory(name, config) -> Connector``; ``operations`` names what routes
      may ask of it with ``to: {operation: ...}``; ``lists`` the batch reads a reconciliation
      pages through (:mod:`router.connector`, "Batch reads"); ``key_windows`` how long the
      target deduplicates a resend of each operation, in words, for docs/connectors.md
      (:mod:`router.connector`, "Key windows").
    - ``"verifier"``: ``factory(config) -> Verifier``; the config is a source's ``verify:`` block
      (without ``scheme``).
    - ``"transform"``: ``config`` is None and ``factory`` is the function itself; its annotations
      type the chain ``interlock check`` verifies (``@transform(name)`` is the decorator form).
    """
    if kind == "connector":
        assert config is not None, "a connector kind has a config model"
        register_connector(name, config, factory, operations, lists, key_windows)
    elif kind == "verifier":
        assert config is not None, "a verifier has a config model"
        register_verifier(name, config, factory)
    elif kind == "transform":
        if config is not None:
            raise TypeError("a transform takes no config model: pass None")
        register_transform(name, factory)
    else:
        raise ValueError(f"unknown component kind {kind!r}: connector, verifier or transform")
