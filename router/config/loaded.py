"""A loaded routes folder: what the loader produces and the engine, the CLI and each kind read.

It depends on no file kind: a kind's module imports it to type its checks, so it must not import
them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar, cast

from pydantic import BaseModel

from router.config.models import RouteSpec, SourceSpec
from router.errors import ConfigError

SpecT = TypeVar("SpecT", bound=BaseModel)
SpecT_co = TypeVar("SpecT_co", bound=BaseModel, covariant=True)


class KindOf(Protocol, Generic[SpecT_co]):
    """What :meth:`RouterConfig.specs` needs of a file kind: its name and its model."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> type[SpecT_co]: ...


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    name: str
    kind: str
    settings: BaseModel


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    spec: SourceSpec
    verifier_settings: BaseModel | None


@dataclass(slots=True)
class RouterConfig:
    """A validated routes folder: what the engine runs."""

    base: Path
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    routes: dict[str, RouteSpec] = field(default_factory=dict)  # what the routing table runs
    sections: dict[str, dict[str, BaseModel]] = field(default_factory=dict)  # kind -> id -> spec
    warnings: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # defined but broken: no cascade of errors
    # A source's verification secret that is its placeholder's default (the variable unset): a
    # shared demo secret, which a router outside demo mode refuses (see refuse_demo_secrets).
    demo_secrets: list[ConfigError] = field(default_factory=list)

    def specs(self, kind: KindOf[SpecT]) -> dict[str, SpecT]:
        """The files of one kind, by id, typed as that kind's model."""
        return cast("dict[str, SpecT]", self.sections.get(kind.name, {}))
