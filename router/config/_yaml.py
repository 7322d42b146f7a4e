"""YAML reading that remembers where every value came from, and expands ``${ENV}`` placeholders.

pydantic reports an error location as a path of keys; :class:`LineIndex` maps that path back to the
line of the file, so that ``interlock check`` can print ``file:line: message``.

The reader is the one place a route file's bytes are turned into values, and every way that can go
wrong ends as a :class:`~router.errors.ConfigError` at a line, never as a library exception:

- the file: a symbolic link out of the routes folder is refused unread, as is a dangling one, a
  directory or anything else that is not a regular file, and a file over :data:`MAX_FILE_BYTES`
  (by its size, before a byte of it is parsed);
- the YAML: only the tags of plain data (:data:`TAGS`: strings, numbers, booleans, null,
  timestamps, lists and mappings), a value that fits its explicit tag (``!!int abc`` does not),
  plain scalars as mapping keys, at most :data:`MAX_DEPTH` levels of nesting and
  :data:`MAX_NODES` values after aliases are expanded.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.errors import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024  # a route file is a page of YAML; 1 MiB is a thousand routes' worth
MAX_DEPTH = 100  # levels of nesting; route files use about 6, workflow input templates more
MAX_NODES = 100_000  # a YAML alias bomb expands exponentially; no route file comes near this

_CORE = "tag:yaml.org,2002:"
SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP, _SEQ, _STR = _CORE + "map", _CORE + "seq", _CORE + "str"
TAGS = SCALAR_TAGS | {_MAP, _SEQ}
_MERGE = _CORE + "merge"
# What a plain `<<` or `=` resolves to in YAML 1.1; as a value (not a key) each is just text.
_PLAIN_TEXT = frozenset({_MERGE, _CORE + "value"})


def _shapes(*tags: str) -> tuple[re.Pattern[str], ...]:
    """The resolver's own regexps of ``tags``: what a plain scalar of one of them looks like."""
    return tuple(
        {
            pattern.pattern: pattern
            for resolvers in yaml.SafeLoader.yaml_implicit_resolvers.values()
            for resolved, pattern in resolvers
            if resolved in tags
        }.values()
    )


# SafeLoader makes a float of an integer too (`!!float 1` is 1.0), and so does this reader.
_SHAPES = {
    _CORE + name: _shapes(*(_CORE + n for n in also))
    for name, also in {
        "int": ("int",),
        "float": ("float", "int"),
        "bool": ("bool",),
        "null": ("null",),
        "timestamp": ("timestamp",),
    }.items()
}


def shown(tag: str) -> str:
    """A tag as it is written: ``!!int``, ``!!python/name:os.system``, ``!custom``."""
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


@dataclass(frozen=True, slots=True)
class Defaulted:
    """A ``${NAME:-default}`` placeholder that took its default: ``NAME`` unset (or empty)."""

    loc: Loc
    line: int | None
    name: str
    default: str


class LineIndex:
    """Path -> line number for one file, with lookup by the longest known prefix.

    ``defaulted`` lists the placeholders of the file that fell back to their default, in order.
    """

    def __init__(self, file: Path) -> None:
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.defaulted: list[Defaulted] = []

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def error(self, loc: Loc, message: str) -> ConfigError:
        field = ".".join(str(p) for p in loc)
        return ConfigError(message, file=str(self.file), line=self.line_of(loc), field=field)

    def error_at(self, node: yaml.Node, loc: Loc, message: str) -> ConfigError:
        """An error at ``node``'s own line (a value can start below its key)."""
        field = ".".join(str(p) for p in loc[:10]) + (".…" if len(loc) > 10 else "")
        line = node.start_mark.line + 1
        return ConfigError(message, file=str(self.file), line=line, field=field)


def _expand(text: str, index: LineIndex, loc: Loc, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:  # as in the shell: unset *or empty* takes the default
            index.defaulted.append(Defaulted(loc, index.line_of(loc), name, default))
            return default
        if value is not None:
            return value
        raise index.error(loc, f"environment variable {name} is not set (write ${{{name}:-x}})")

    return _PLACEHOLDER.sub(substitute, text)


# libyaml's scanner and parser, about 4 times as fast as PyYAML's, give the same events.
_FastParser: Any = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)


class _Composer(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """PyYAML's composer and resolver over libyaml's events, bounded in depth and in nodes.

    PyYAML's composer recurses once per level, so a deep enough file is a RecursionError, and
    libyaml's own composer has no bound at all; this one stops at :data:`MAX_DEPTH` levels or
    :data:`MAX_NODES` nodes with the line it got to. Its constructor is used only through
    :func:`_scalar`, for the scalar tags of :data:`TAGS`.
    """

    def __init__(self, text: str) -> None:
        # A ReaderError (a control character) is raised here.
        self.parser: Any = yaml.SafeLoader(text) if _FastParser is None else _FastParser(text)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.depth = 0
        self.nodes = 0

    def check_event(self, *choices: type[yaml.Event]) -> bool:
        return bool(self.parser.check_event(*choices))

    def peek_event(self) -> yaml.Event:
        event: yaml.Event = self.parser.peek_event()
        return event

    def get_event(self) -> yaml.Event:
        event: yaml.Event = self.parser.get_event()
        return event

    def dispose(self) -> None:
        self.parser.dispose()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH or self.nodes > MAX_NODES:
                problem = (
                    f"nested more than {MAX_DEPTH} levels deep"
                    if self.depth > MAX_DEPTH
                    else f"document too large (over {MAX_NODES} values)"
                )
                mark: Any = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Walk:
    """Per-file state of one build: nodes on the current path (cycles) and nodes built (bombs)."""

    def __init__(self, index: LineIndex, env: Mapping[str, str], composer: _Composer) -> None:
        self.index = index
        self.env = env
        self.composer = composer
        self.path: set[int] = set()
        self.built = 0


def _scalar(node: yaml.ScalarNode, walk: _Walk, loc: Loc, tag: str) -> Any:
    """The value of a scalar as SafeLoader resolves it, or an error if it does not fit its tag."""
    shapes = _SHAPES.get(tag)
    if shapes is not None and not any(shape.match(node.value) for shape in shapes):
        message = f"{node.value[:40]!r} is not a valid {shown(tag)}"
        raise walk.index.error_at(node, loc, message)
    try:
        return walk.composer.yaml_constructors[tag](walk.composer, node)
    except ValueError as exc:  # a timestamp of the right shape but no such day: 2024-13-45
        why = f" ({exc})" if tag == _CORE + "timestamp" else ""
        message = f"{node.value[:40]!r} is not a valid {shown(tag)}{why}"
        raise walk.index.error_at(node, loc, message) from None


def _key(node: yaml.Node, walk: _Walk, loc: Loc) -> str | int | bool | float:
    if not isinstance(node, yaml.ScalarNode):
        raise walk.index.error_at(node, loc, "mapping keys must be plain scalars")
    if node.tag == _MERGE:
        raise walk.index.error_at(node, loc, "merge keys (<<) are not supported")
    key = _scalar(node, walk, loc, _scalar_tag(node, walk, loc))
    if not isinstance(key, str | int | bool | float):
        raise walk.index.error_at(node, loc, "mapping keys must be plain scalars")
    return key


def _scalar_tag(node: yaml.ScalarNode, walk: _Walk, loc: Loc) -> str:
    """The tag ``node`` is built by: its own if allowed, ``!!str`` for a plain ``<<`` or ``=``."""
    if node.tag in _PLAIN_TEXT:  # only a plain scalar resolves to these
        return _STR
    if node.tag not in SCALAR_TAGS:
        raise walk.index.error_at(node, loc, _tag_refused(node.tag, "a scalar"))
    return str(node.tag)


def _tag_refused(tag: str, kind: str) -> str:
    if tag in TAGS:
        return f"{kind} cannot be tagged {shown(tag)}"
    return (
        f"tag {shown(tag)[:80]} is not allowed in route files "
        "(only strings, numbers, booleans, null, timestamps, lists and mappings)"
    )


def _build(node: yaml.Node, walk: _Walk, loc: Loc) -> Any:
    index = walk.index
    walk.built += 1
    if walk.built > MAX_NODES:
        raise index.error(loc, f"document too large (over {MAX_NODES} values; an alias bomb?)")
    if len(loc) > MAX_DEPTH:  # aliases can nest what the composer saw shallow
        raise index.error_at(node, loc, f"nested more than {MAX_DEPTH} levels deep")
    if id(node) in walk.path:
        raise index.error(loc, "recursive YAML alias")
    index.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            raise index.error_at(node, loc, _tag_refused(node.tag, "a mapping"))
        walk.path.add(id(node))
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node, walk, loc)
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
        if node.tag != _SEQ:
            raise index.error_at(node, loc, _tag_refused(node.tag, "a list"))
        walk.path.add(id(node))
        items = [_build(item, walk, (*loc, i)) for i, item in enumerate(node.value)]
        walk.path.discard(id(node))
        return items
    assert isinstance(node, yaml.ScalarNode)  # the composer makes only these three kinds
    value = _scalar(node, walk, loc, _scalar_tag(node, walk, loc))
    if isinstance(value, str) and "${" in value:
        return _expand(value, index, loc, walk.env)
    return value


def _refuse(file: Path, message: str) -> ConfigError:
    return ConfigError(message, file=str(file), line=1)


def _opened(file: Path, root: Path | None) -> int:
    """A descriptor of ``file``, after the symbolic link checks; never blocks (a FIFO)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if root is not None:  # what is opened is what was checked: a link swapped in is refused
        flags |= os.O_NOFOLLOW
    target = file
    if file.is_symlink():
        target = Path(os.path.realpath(file))
        if root is not None and not target.is_relative_to(os.path.realpath(root)):
            message = f"symbolic link to {target}, outside the routes folder; not read"
            raise _refuse(file, message)
        if not os.path.lexists(target):
            raise _refuse(file, f"dangling symbolic link (to {target})")
    try:
        return os.open(target, flags)
    except OSError as exc:
        raise _refuse(file, f"cannot read: {exc.strerror or exc}") from None


def _read_capped(fd: int, file: Path) -> bytes:
    """At most MAX_FILE_BYTES of a regular file, refused by its size before a byte is read."""
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise _refuse(file, "is a directory, not a route file")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(file, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise _refuse(file, _too_large(info.st_size))
    chunks, size = [], 0
    while size <= MAX_FILE_BYTES:  # at most one byte past the cap: a file that grew meanwhile
        chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_FILE_BYTES:
        raise _refuse(file, _too_large(size))
    return b"".join(chunks)


def read_text(file: Path, root: Path | None = None) -> str:
    """The text of a route file, after the checks of the file itself (see the module's doc).

    With ``root`` (the routes folder), a symbolic link whose target resolves outside it is refused
    without being opened.
    """
    fd = _opened(file, root)
    try:
        data = _read_capped(fd, file)
    except OSError as exc:
        raise _refuse(file, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(file, f"not UTF-8 text ({exc.reason})") from exc


def _too_large(size: int) -> str:
    return (
        f"{size} bytes, over the limit of {MAX_FILE_BYTES} bytes "
        f"({MAX_FILE_BYTES // (1024 * 1024)} MiB) for a route file; not read"
    )


def read_yaml(
    file: Path, env: Mapping[str, str] | None = None, root: Path | None = None
) -> tuple[Any, LineIndex]:
    """Parse one YAML document; every failure becomes a ConfigError at the offending line.

    ``root`` is the routes folder ``file`` belongs to: a symbolic link out of it is refused.
    """
    index = LineIndex(file)
    text = read_text(file, root)
    composer: _Composer | None = None
    try:
        composer = _Composer(text)  # the reader checks for control characters here
        node = composer.get_single_node()
        if node is None:
            return None, index
        return _build(node, _Walk(index, os.environ if env is None else env, composer), ()), index
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"YAML syntax: {exc.problem or exc}", file=str(file), line=line) from exc
    except yaml.reader.ReaderError as exc:  # a control character
        # Its position counts bytes in libyaml, characters in PyYAML.
        if _FastParser is not None:
            line = text.encode()[: exc.position].count(b"\n") + 1
        else:
            line = text[: exc.position].count("\n") + 1
        raise ConfigError(f"YAML syntax: {exc.reason}", file=str(file), line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", file=str(file), line=1) from exc
    except RecursionError:  # belt and braces: MAX_DEPTH stops well before the interpreter's limit
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise ConfigError(message, file=str(file), line=1) from None
    finally:
        if composer is not None:
            composer.dispose()
