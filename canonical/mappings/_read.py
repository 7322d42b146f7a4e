"""Path-aware reading of vendor JSON, so every failure names where it happened.

A :class:`Node` wraps one JSON object and the path that led to it. Its readers return typed values
or raise :class:`~canonical.errors.MappingError` with a path such as
``data.object.lines.data[0].amount``. :func:`canonical_errors` turns a pydantic ValidationError
raised while *building* the canonical model into a MappingError too, with a ``canonical:`` path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from canonical.errors import MappingError
from canonical.money import to_decimal


def join(path: str, key: str | int) -> str:
    """Extend a dotted path with a key or a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Node:
    """A JSON object plus its path; readers raise MappingError naming the full path."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise MappingError(path, f"expected an object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def error(self, key: str | int, reason: str) -> MappingError:
        """A MappingError located at ``key`` under this node."""
        return MappingError(join(self.path, key), reason)

    def has(self, key: str) -> bool:
        """True when ``key`` is present and not null."""
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        """The value at ``key`` as-is (None when absent)."""
        return self.data.get(key)

    def _required(self, key: str) -> Any:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, "is required but missing or null")
        return value

    # -- objects and lists -------------------------------------------------------------------
    def child(self, key: str) -> Node:
        """The object at ``key``."""
        return Node(self._required(key), join(self.path, key))

    def opt_child(self, key: str) -> Node | None:
        """The object at ``key``, or None when absent or null."""
        return self.child(key) if self.has(key) else None

    def children(self, key: str) -> list[Node]:
        """The list of objects at ``key`` (absent or null reads as empty)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {type(value).__name__}")
        base = join(self.path, key)
        return [Node(item, join(base, i)) for i, item in enumerate(value)]

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings at ``key`` (absent reads as empty)."""
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of strings")
        return tuple(value)

    # -- scalars -----------------------------------------------------------------------------
    def text(self, key: str) -> str:
        """A non-empty string at ``key``; numbers are accepted as ids and stringified."""
        value = self.opt_text(key)
        if value is None:
            raise self.error(key, "is required but missing, null or empty")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string at ``key``; empty strings read as None (vendors use both for 'unset')."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, f"expected a string, got {type(value).__name__}")
        return str(value)

    def integer(self, key: str) -> int:
        """An integer at ``key`` (a JSON float with no fraction is accepted)."""
        value = self._required(key)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        return value

    def opt_integer(self, key: str) -> int | None:
        """An integer at ``key``, or None."""
        return self.integer(key) if self.has(key) else None

    def decimal(self, key: str) -> Decimal:
        """A decimal number at ``key`` (int, float via repr, or numeric string)."""
        value = self._required(key)
        try:
            return to_decimal(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def opt_decimal(self, key: str) -> Decimal | None:
        """A decimal at ``key``, or None."""
        return self.decimal(key) if self.has(key) else None

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean at ``key`` (``default`` when absent)."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def timestamp(self, key: str) -> dt.datetime:
        """A UTC datetime from Unix seconds (Stripe) or an ISO 8601 string (everyone else)."""
        value = self._required(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        if isinstance(value, str):
            text = value.replace("Z", "+00:00")
            if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
                text = f"{text[:-2]}:{text[-2:]}"  # Salesforce writes +0000
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                raise self.error(key, f"{value!r} is not an ISO 8601 timestamp") from None
            if parsed.tzinfo is None:
                raise self.error(key, f"{value!r} has no UTC offset")
            return parsed
        raise self.error(key, f"expected a timestamp, got {value!r}")

    def opt_timestamp(self, key: str) -> dt.datetime | None:
        """A timestamp at ``key``, or None."""
        return self.timestamp(key) if self.has(key) else None

    def date(self, key: str) -> dt.date:
        """A calendar date (``YYYY-MM-DD``; a timestamp's UTC date is accepted too)."""
        value = self._required(key)
        if isinstance(value, str) and len(value) == 10:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise self.error(key, f"{value!r} is not a YYYY-MM-DD date") from None
        return self.timestamp(key).astimezone(dt.UTC).date()

    def opt_date(self, key: str) -> dt.date | None:
        """A date at ``key``, or None."""
        return self.date(key) if self.has(key) else None

    def choice(self, key: str, table: Mapping[str, str], default: str | None = None) -> str:
        """Map a vendor enum value (case-insensitively) through ``table``."""
        value = self.opt_text(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required but missing")
            return default
        try:
            return table[value.lower()]
        except KeyError:
            raise self.error(key, f"unknown value {value!r}") from None


@contextmanager
def canonical_errors() -> Iterator[None]:
    """Re-raise a ValidationError from building a model as a MappingError naming model and field.

    The path is ``canonical:<Model>.<field>`` for the model whose validation failed (``Address``
    when a mapped address is bad), since the vendor-side path is no longer known at that point.
    """
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise MappingError(f"canonical:{exc.title}{loc}", first["msg"]) from exc
