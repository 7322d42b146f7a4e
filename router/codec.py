"""msgpack codec for journal records and transform outputs.

JSON-shaped data (dicts, lists, str, int, float, bool, None, bytes) packs as is; pydantic models are
dumped in JSON mode first, so Decimal, datetime and enums become their canonical strings, and a
record read back later never depends on the Python classes that wrote it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgpack
import orjson
from pydantic import BaseModel


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a journal record")


def pack(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack; raises TypeError for values with no JSON-mode form."""
    return msgpack.packb(obj, default=_default, use_bin_type=True, datetime=False)


def unpack(data: bytes) -> Any:
    """Decode bytes written by :func:`pack`; map keys may be str or int, never bytes."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


# -- JSON at the edge ------------------------------------------------------------------------------

# One nesting bound for every body the process parses (webhooks, CloudEvents, request/reply). It
# sits below both orjson limits (loads stops at 1024 levels, dumps near 254), so anything accepted
# can be re-serialised, keyed, journaled and rendered (admin views add a few levels) without a 5xx.
MAX_DEPTH = 200


class JsonError(ValueError):
    """A body that is not JSON, or nests deeper than :data:`MAX_DEPTH`; ``str()`` says which."""


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, for an error message: "an object", "an array", "a boolean"."""
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests more than ``limit`` containers deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def loads(body: bytes | str, what: str = "body") -> Any:
    """Parse JSON received from outside; raises :class:`JsonError` naming ``what``.

    Nesting is bounded by :data:`MAX_DEPTH`. A body with fewer brackets than that cannot nest
    deeper, so the walk is skipped for nearly every real webhook (bytes.count runs in C).
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise JsonError(f"{what} nests deeper than {MAX_DEPTH} levels") from None
        raise JsonError(f"{what} is not valid JSON: {exc}") from None
    if isinstance(value, dict | list) and value:
        raw = body.encode() if isinstance(body, str) else body
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth_exceeds(value):
            raise JsonError(f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


# -- exact text: what orjson's parse loses (integers past 64 bits, the spelling of a number) -------

_WS = re.compile(r"[ \t\n\r]*")


class Number(str):
    """A JSON number as the sender spelled it (``1``, ``1.0`` and ``1e0`` stay distinct)."""

    __slots__ = ()


_EXACT = json.JSONDecoder(parse_int=Number, parse_float=Number, parse_constant=Number)


def exact(text: bytes | str) -> Any:
    """Parse JSON already accepted by :func:`loads` keeping every number as its :class:`Number`
    text. Slower than orjson (pure CPython), so only for what needs the text: a numeric id, a
    fingerprint."""
    return _EXACT.decode(text.decode() if isinstance(text, bytes) else text)


def canonical(value: Any) -> bytes:
    """Compact JSON with sorted keys and numbers as sent, for a value from :func:`exact`; two
    documents that differ only in spacing and key order give the same bytes."""
    if isinstance(value, Number):
        return value.encode()
    if isinstance(value, dict):
        inner = b",".join(orjson.dumps(k) + b":" + canonical(value[k]) for k in sorted(value))
        return b"{" + inner + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(canonical(v) for v in value) + b"]"
    return orjson.dumps(value)


def array_items(body: bytes) -> list[bytes]:
    """The bytes of each element of a JSON array (accepted by :func:`loads`) exactly as sent."""
    text = body.decode()
    i = _skip(text, 0)
    if text[i : i + 1] != "[":
        raise JsonError("not a JSON array")
    i = _skip(text, i + 1)
    items: list[bytes] = []
    if text[i : i + 1] == "]":
        return items
    while True:
        _, end = _EXACT.raw_decode(text, i)
        items.append(text[i:end].encode())
        i = _skip(text, end)
        if text[i : i + 1] != ",":
            return items
        i = _skip(text, i + 1)


def _skip(text: str, at: int) -> int:
    match = _WS.match(text, at)
    return match.end() if match else at
