"""The store behind :mod:`router.plugin`: what each component package registered, by name.

The router never imports ``actors/``: a component package registers a *name*, a frozen pydantic
*config model* and a *factory* (through :func:`router.plugin.register`), and the router looks them
up by name when it loads routes. Plugin packages are found through the ``interlock.plugins``
entry-point group (``actors`` ships as one; so do the kernel's file kinds, ``router.features``).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from router.connector import Connector
    from router.verify import Verifier

TransformFn = Callable[[Any], Any]
ConfigT = TypeVar("ConfigT", bound=BaseModel)
_F = TypeVar("_F", bound=Callable[..., Any])
# How the router builds a component from its validated config: a connector gets its name too.
ConnectorFactory = Callable[[str, ConfigT], "Connector"]
VerifierFactory = Callable[[ConfigT], "Verifier"]


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """A registered transform: a plain typed function of one argument."""

    name: str
    fn: TransformFn
    input_type: Any
    output_type: Any

    @property
    def validates_input(self) -> bool:
        """True when the input is a pydantic model the raw payload must be validated into."""
        return isinstance(self.input_type, type) and issubclass(self.input_type, BaseModel)


@dataclass(frozen=True, slots=True)
class ConnectorSpec(Generic[ConfigT]):
    """A registered connector kind: its config model, its factory and the operations it offers."""

    kind: str
    config_model: type[ConfigT]
    factory: ConnectorFactory[ConfigT]
    operations: frozenset[str] = frozenset()  # empty: plain method + path calls only
    lists: frozenset[str] = frozenset()  # the operations that read records page by page
    # (call, window): how long its target deduplicates a resend, in words (docs/connectors.md);
    # a call is an operation's name or a plain call's description ("POST (method + path)")
    key_windows: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class VerifierSpec(Generic[ConfigT]):
    """A registered signature scheme: its config model (the ``verify:`` block) and factory."""

    kind: str
    config_model: type[ConfigT]
    factory: VerifierFactory[ConfigT]


_transforms: dict[str, TransformSpec] = {}
_connectors: dict[str, ConnectorSpec[Any]] = {}
_verifiers: dict[str, VerifierSpec[Any]] = {}
_plugins_loaded = False


def _signature_types(fn: TransformFn) -> tuple[Any, Any]:
    hints = typing.get_type_hints(fn)
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    if len(params) != 1:
        raise TypeError(f"a transform takes exactly one argument, {fn.__qualname__} takes {params}")
    return hints.get(params[0].name, Any), hints.get("return", Any)


def register_transform(name: str, fn: TransformFn) -> TransformSpec:
    """Register ``fn`` as the transform ``name`` (``vendor.thing``); annotations type the chain."""
    input_type, output_type = _signature_types(fn)
    spec = TransformSpec(name=name, fn=fn, input_type=input_type, output_type=output_type)
    existing = _transforms.get(name)
    if existing is not None and existing.fn is not fn:
        raise ValueError(f"transform {name!r} is already registered by {existing.fn.__module__}")
    _transforms[name] = spec
    return spec


def transform(name: str) -> Callable[[_F], _F]:
    """Decorator form of :func:`register_transform`."""

    def decorate(fn: _F) -> _F:
        register_transform(name, fn)
        return fn

    return decorate


def register_connector(
    kind: str,
    config_model: type[ConfigT],
    factory: ConnectorFactory[ConfigT],
    operations: frozenset[str] | set[str] = frozenset(),
    lists: frozenset[str] | set[str] = frozenset(),
    key_windows: Mapping[str, str] | None = None,
) -> None:
    """Register an outbound connector kind (``http``, ``log``, ``netsuite`` ...).

    ``operations`` names what routes may ask of it with ``to: {operation: ...}``; ``check``
    refuses any other name. ``lists`` names the batch reads a reconciliation may page through
    (see :mod:`router.connector`, "Batch reads"). ``key_windows`` says, per operation or plain
    call, how long the target deduplicates a resend (what the connector's ``key_window`` answers,
    in words: see :mod:`router.connector`, "Key windows"); docs/connectors.md shows it.
    """
    _connectors[kind] = ConnectorSpec(
        kind,
        config_model,
        factory,
        frozenset(operations),
        frozenset(lists),
        tuple((key_windows or {}).items()),
    )


def register_verifier(
    scheme: str, config_model: type[ConfigT], factory: VerifierFactory[ConfigT]
) -> None:
    """Register an inbound signature-verification scheme (``stripe``, ``hmac``, ``none`` ...)."""
    _verifiers[scheme] = VerifierSpec(scheme, config_model, factory)


def load_plugins() -> None:
    """Import every package registered under the ``interlock.plugins`` entry-point group, once."""
    global _plugins_loaded  # noqa: PLW0603 - a process-wide, idempotent plugin scan
    if _plugins_loaded:
        return
    for entry in importlib.metadata.entry_points(group="interlock.plugins"):
        entry.load()
    _plugins_loaded = True


def transforms() -> dict[str, TransformSpec]:
    load_plugins()
    return dict(_transforms)


def connectors() -> dict[str, ConnectorSpec[Any]]:
    load_plugins()
    return dict(_connectors)


def verifiers() -> dict[str, VerifierSpec[Any]]:
    load_plugins()
    return dict(_verifiers)
