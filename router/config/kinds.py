"""The kinds of file a routes folder holds, each registered by the feature that runs it.

A route file names its kind (``kind: workflow``); a file with no ``kind:`` is a route. The loader
knows no kind by name: it looks the ``kind:`` up here, validates the file against the kind's model,
asks the kind for the problems it finds against what is loaded so far, and then lets the kind add
it. The route kind (``router/config/route_kind.py``), request/reply (``router/request_reply/``)
and workflows (``router/workflows/kind.py``) register themselves on import; ``router/features.py``
imports them, and is loaded as a plugin, like any component package.

A new kind (a scheduled job, say) is one module of its feature and a line in
``router/features.py``: its file model, its docs and its JSON Schema follow from the registration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from router import registry

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig

DEFAULT_KIND = "route"
SpecT = TypeVar("SpecT", bound=BaseModel)
Loc = tuple[Any, ...]
Problem = tuple[Loc, str]  # a key path inside the file, and what is wrong there


@dataclass(frozen=True, slots=True, eq=False)
class FileKind(Generic[SpecT]):
    """A kind of route file: its model and how a validated file joins the config.

    ``problems`` cross-checks a spec against the config loaded so far (sources and connectors
    come first); ``add`` is called only when it found none. ``docs`` lists the titled sub-models
    the reference in docs/routes.md shows after the file's own table.
    """

    name: str
    title: str  # the heading of its table in docs/routes.md
    plural: str  # what `interlock check` counts: "3 workflows"
    model: type[SpecT]
    problems: Callable[[SpecT, RouterConfig], list[Problem]]
    add: Callable[[SpecT, RouterConfig], None]
    docs: tuple[tuple[str, type[BaseModel]], ...] = field(default=())
    rank: int = 0  # files of a higher rank load later: they may refer to lower-ranked ones
    # The ids of same-kind files a file (as parsed, not yet validated) refers to: they load first,
    # so a workflow that runs another as a child is checked against it, whatever the file names.
    refers: Callable[[Any], list[str]] | None = None


_kinds: dict[str, FileKind[Any]] = {}


def register_file_kind(kind: FileKind[SpecT]) -> FileKind[SpecT]:
    """Register ``kind`` under its name (the value of ``kind:`` in a file); returns it."""
    existing = _kinds.get(kind.name)
    if existing is not None and existing is not kind:
        raise ValueError(f"file kind {kind.name!r} is already registered ({existing.title})")
    _kinds[kind.name] = kind
    return kind


def file_kinds() -> dict[str, FileKind[Any]]:
    """Every registered kind, the default (route) first; plugins are loaded first."""
    registry.load_plugins()
    return dict(sorted(_kinds.items(), key=lambda item: item[0] != DEFAULT_KIND))
