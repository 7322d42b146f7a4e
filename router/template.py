"""``{{ /pointer }}`` templates over a context document (a workflow instance's, a reconciliation
record's).

A string that is exactly one reference takes the referenced value unchanged (a number stays a
number, an object an object); references inside longer text are interpolated as text. A reference
that resolves to nothing is an error naming the pointer, never a silent empty value: a step must
not call a target with half its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from router.errors import TemplateError
from router.pointer import Pointer

_REFERENCE = re.compile(r"\{\{\s*(/[^}\s]*)\s*\}\}")


def references(template: Any) -> list[str]:
    """Every pointer a template (a string, or lists and mappings of them) reads, in order."""
    return [pointer for pointer, _ in _walk(template, ())]


def reference_paths(template: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """``(pointer, where)`` pairs: ``where`` is the key path inside the template, for errors."""
    return list(_walk(template, ()))


def _walk(template: Any, at: tuple[Any, ...]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    if isinstance(template, str):
        for match in _REFERENCE.finditer(template):
            yield match.group(1), at
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from _walk(value, (*at, key))
    elif isinstance(template, list):
        for i, value in enumerate(template):
            yield from _walk(value, (*at, i))


def _lookup(pointer: str, context: Any) -> Any:
    value = Pointer(pointer).resolve(context)
    if value is None:
        raise TemplateError(f"{{{{ {pointer} }}}} has no value")
    return value


def _as_text(pointer: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise TemplateError(f"{{{{ {pointer} }}}} is not a scalar and cannot be part of a text")
    return orjson.dumps(value).decode()


def render(template: Any, context: Any) -> Any:
    """The template with every reference filled from ``context``; raises :class:`TemplateError`."""
    if isinstance(template, str):
        whole = _REFERENCE.fullmatch(template.strip())
        if whole is not None:
            return _lookup(whole.group(1), context)
        return _REFERENCE.sub(
            lambda m: _as_text(m.group(1), _lookup(m.group(1), context)), template
        )
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context) for value in template]
    return template
