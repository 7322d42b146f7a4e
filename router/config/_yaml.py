"""YAML reading that remembers where every value came from, and expands ``${ENV}`` placeholders.

pydantic reports an error location as a path of keys; :class:`LineIndex` maps that path back to the
line of the file, so that ``interlock check`` can print ``file:line: message``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from router.errors import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Loc = tuple[str | int, ...]


class LineIndex:
    """Path -> line number for one file, with lookup by the longest known prefix."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.lines: dict[Loc, int] = {}

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def error(self, loc: Loc, message: str) -> ConfigError:
        field = ".".join(str(p) for p in loc)
        return ConfigError(message, file=str(self.file), line=self.line_of(loc), field=field)


def _expand(text: str, index: LineIndex, loc: Loc, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:  # as in the shell: unset *or empty* takes the default
            return default
        if value is not None:
            return value
        raise index.error(loc, f"environment variable {name} is not set (write ${{{name}:-x}})")

    return _PLACEHOLDER.sub(substitute, text)


def _scalar(node: yaml.Node) -> Any:
    """Resolve a scalar exactly as SafeLoader would (ints, bools, timestamps ...)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


MAX_NODES = 100_000  # a YAML alias bomb expands exponentially; no route file comes near this


class _Walk:
    """Per-file state of one build: nodes on the current path (cycles) and nodes built (bombs)."""

    def __init__(self, index: LineIndex, env: Mapping[str, str]) -> None:
        self.index = index
        self.env = env
        self.path: set[int] = set()
        self.built = 0


def _build(node: yaml.Node, walk: _Walk, loc: Loc) -> Any:
    index = walk.index
    walk.built += 1
    if walk.built > MAX_NODES:
        raise index.error(loc, f"document too large (over {MAX_NODES} values; an alias bomb?)")
    if id(node) in walk.path:
        raise index.error(loc, "recursive YAML alias")
    index.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        walk.path.add(id(node))
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str | int | bool | float) or key is None:
                raise index.error(loc, "mapping keys must be plain scalars")
            if key in result:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    file=str(index.file),
                    line=key_node.start_mark.line + 1,
                    field=".".join(str(p) for p in (*loc, key)),
                )
            child_loc = (*loc, key if isinstance(key, str | int) else str(key))
            index.lines[child_loc] = key_node.start_mark.line + 1
            result[key] = _build(value_node, walk, child_loc)
        walk.path.discard(id(node))
        return result
    if isinstance(node, yaml.SequenceNode):
        walk.path.add(id(node))
        items = [_build(item, walk, (*loc, i)) for i, item in enumerate(node.value)]
        walk.path.discard(id(node))
        return items
    value = _scalar(node)
    if isinstance(value, str) and "${" in value:
        return _expand(value, index, loc, walk.env)
    return value


def read_yaml(file: Path, env: Mapping[str, str] | None = None) -> tuple[Any, LineIndex]:
    """Parse one YAML document; syntax errors become ConfigError at the offending line."""
    index = LineIndex(file)
    try:
        text = file.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(file), line=1) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"YAML syntax: {exc.problem or exc}", file=str(file), line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", file=str(file), line=1) from exc
    if node is None:
        return None, index
    return _build(node, _Walk(index, os.environ if env is None else env), ()), index
