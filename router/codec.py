"""msgpack codec for journal records and transform outputs.

JSON-shaped data (dicts, lists, str, int, float, bool, None, bytes) packs as is; pydantic models are
dumped in JSON mode first, so Decimal, datetime and enums become their canonical strings, and a
record read back later never depends on the Python classes that wrote it.
"""

from __future__ import annotations

from typing import Any

import msgpack
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
