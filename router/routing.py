"""The routing table: (source, type, predicates) -> the routes a message takes, with ordering keys.

Routing runs once, at ingress, before the journal commit: the set of routes a message must reach is
stored with the message, so recovery after a crash needs no re-evaluation and a config change cannot
silently re-route what was already accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.codec import json_kind
from router.config import RouterConfig, RouteSpec
from router.config.models import Predicate
from router.errors import BadRequestError
from router.pointer import Pointer

_ABSENT = object()
MAX_ORDERING_KEY_CHARS = 1024


@dataclass(frozen=True, slots=True)
class _CompiledPredicate:
    pointer: Pointer
    spec: Predicate

    def holds(self, payload: Any) -> bool:
        value = self.pointer.resolve(payload, _ABSENT)
        if self.spec.exists is not None:
            return (value is not _ABSENT) == self.spec.exists
        if value is _ABSENT:
            return False
        if self.spec.in_ is not None:
            return any(_same(value, option) for option in self.spec.in_)
        return _same(value, self.spec.equals)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, ``true`` is not ``1`` (bool is an int subclass)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    id: str
    types: frozenset[str] | None  # None matches any type
    predicates: tuple[_CompiledPredicate, ...]
    key: Pointer | None

    def ordering_key(self, payload: Any, message_key: str) -> str:
        if self.key is None:
            return message_key  # unordered: every message is its own lane
        value = self.key.resolve(payload)
        if value is None:
            return message_key
        # A lane key is a scalar: an object's repr was once stored as the key (500 KB of it).
        # Floats are refused too: an integer past 64 bits arrives as one, rounded.
        if isinstance(value, str | int):  # bool is an int: "True", as it always was
            text = str(value)
            if len(text) <= MAX_ORDERING_KEY_CHARS:
                return text
            raise BadRequestError(
                f"the ordering key at {self.key.text} is longer than {MAX_ORDERING_KEY_CHARS} "
                "characters"
            )
        kind = (
            "a fractional or out-of-range number" if isinstance(value, float) else json_kind(value)
        )
        raise BadRequestError(
            f"the ordering key at {self.key.text} must be a string, integer or boolean, not {kind}"
        )


class RoutingTable:
    """Content-based router; several routes may match one message (fan-out)."""

    def __init__(self, routes: list[RouteSpec]) -> None:
        self._by_source: dict[str, list[_CompiledRoute]] = {}
        for route in routes:
            types = route.from_.type
            type_set = [types] if isinstance(types, str) else types
            compiled = _CompiledRoute(
                id=route.id,
                types=None if "*" in type_set else frozenset(type_set),
                predicates=tuple(
                    _CompiledPredicate(Pointer(p.pointer), p) for p in route.from_.when
                ),
                key=Pointer(route.key) if route.key else None,
            )
            self._by_source.setdefault(route.from_.source, []).append(compiled)

    @classmethod
    def from_config(cls, config: RouterConfig) -> RoutingTable:
        return cls(list(config.routes.values()))

    def match(
        self, source: str, event_type: str, payload: Any, message_key: str
    ) -> list[tuple[str, str]]:
        """``(route id, ordering key)`` for every matching route; empty means unrouted."""
        matched = []
        for route in self._by_source.get(source, ()):
            if route.types is not None and event_type not in route.types:
                continue
            if all(p.holds(payload) for p in route.predicates):
                matched.append((route.id, route.ordering_key(payload, message_key)))
        return matched


def predicate_holds(spec: Predicate, document: Any) -> bool:
    """One predicate against any JSON document (workflow conditions and expectations)."""
    return _CompiledPredicate(Pointer(spec.pointer), spec).holds(document)
