"""RFC 6901 JSON Pointers, compiled once per route so the hot path only walks."""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$", re.ASCII)


class Pointer:
    """A compiled JSON Pointer such as ``/data/object/customer``."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str) -> None:
        if text and not text.startswith("/"):
            raise ValueError(f"a JSON Pointer starts with '/': {text!r}")
        self.text = text
        self.parts = tuple(
            p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:] if text
        )

    def resolve(self, document: Any, default: Any = None) -> Any:
        """The value at this pointer, or ``default`` when any step is missing."""
        node = document
        for part in self.parts:
            if isinstance(node, dict):
                node = node.get(part, _MISSING)
            elif isinstance(node, list) and _INDEX.match(part) and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
            if node is _MISSING:
                return default
        return node

    def __repr__(self) -> str:
        return f"Pointer({self.text!r})"
