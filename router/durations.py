"""Durations as written in route files: ``250ms``, ``1s``, ``10m``, ``2h``, ``3d`` or seconds."""

from __future__ import annotations

import math
import re
import sys
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a duration string or number; raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        # ValueError, not TypeError: pydantic reports only ValueError as a field error.
        raise ValueError("a duration is a number of seconds or a string like '500ms', '1s'")  # noqa: TRY004
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and (match := _PATTERN.match(value)):
            seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
        else:
            raise ValueError(f"invalid duration {value!r}: use e.g. '500ms', '1s', '10m', '3d'")
    except OverflowError:
        raise ValueError("a duration must be a finite number of seconds") from None
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


# The schema says what a file may hold (a string like '500ms' or seconds), not the parsed float.
DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": sys.float_info.max},
        {"type": "string", "pattern": r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$"},
    ],
    "examples": ["500ms", "1s", "10m"],
}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]


def format_duration(seconds: float) -> str:
    """A duration for people, in its largest whole unit: ``24h``, ``25h``, ``90s``, ``1.5s``."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}m"
    return f"{seconds:.3g}s"
