"""Key windows: how long each target deduplicates a resend, declared per operation.

A connector answers ``key_window(request)`` (:class:`router.connector.KeyWindowed`): the seconds
its target deduplicates a resend with the same ``Idempotency-Key``, or ``None`` when a resend is
safe at any age (an upsert by external id, an update by id, a read, a create that looks its record
up first). The engine refuses a retry or replay whose key is older than that. ``0`` means the
target has no idempotency keys for that call at all: it never deduplicates, so no resend is safe.

Each vendor kind keeps one table, operation -> :class:`Window` (or a :class:`Choice` when the
message decides, e.g. a Dynamics order with or without its alternate key), and registers the same
table in words for docs/connectors.md (:func:`described`), so the docs and the guard cannot
disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.plugin import OutboundRequest

__all__ = [
    "DAY",
    "HOUR",
    "IDEMPOTENT_METHODS",
    "READ",
    "Choice",
    "Rule",
    "Window",
    "described",
    "document_of",
    "plain_label",
    "span",
]

HOUR = 3600.0
DAY = 24 * HOUR

# Idempotent by HTTP semantics (RFC 9110, 9.2.2): GET and HEAD read; PUT and DELETE set or remove
# the resource the path names, so a resend does not apply twice. POST and PATCH are not.
IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")


def span(seconds: float | None) -> str:
    """``permanent``, ``none``, or the window in its largest whole unit (``24h``, ``90s``)."""
    if seconds is None:
        return "permanent"
    if seconds <= 0:
        return "none"
    days, hours, minutes = seconds / DAY, seconds / HOUR, seconds / 60
    if days >= 2 and days.is_integer():  # 3d; but 24h, as vendors write it, not 1d
        return f"{int(days)}d"
    if hours >= 1 and hours.is_integer():
        return f"{int(hours)}h"
    if minutes >= 1 and minutes.is_integer():
        return f"{int(minutes)}m"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class Window:
    """How long the target deduplicates a resend (``None``: at any age; ``0``: never), and why."""

    seconds: float | None
    why: str

    def text(self) -> str:
        return f"{span(self.seconds)} ({self.why})"

    def pick(self, config: Any, document: Mapping[str, Any]) -> Window:
        del config, document
        return self


@dataclass(frozen=True, slots=True)
class Choice:
    """A window the message decides: ``choose(config, document)`` returns one of them.

    ``document`` is the message body as a JSON object (``{}`` when it is not one: such a message
    is refused by the operation before any call, so no window matters)."""

    choose: Callable[[Any, Mapping[str, Any]], Window]
    description: str

    def text(self) -> str:
        return self.description

    def pick(self, config: Any, document: Mapping[str, Any]) -> Window:
        return self.choose(config, document)


Rule = Window | Choice

READ = Window(None, "a read")


def document_of(request: OutboundRequest) -> Mapping[str, Any]:
    """The request body as a JSON object, or ``{}``."""
    try:
        document = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def plain_label(methods: str) -> str:
    """How docs/connectors.md names a plain call (a route with ``method`` + ``path``)."""
    return f"{methods} (method + path)"


def described(
    operations: Mapping[str, Rule], plain_post: Rule, lists: bool = False
) -> dict[str, str]:
    """The registry's ``key_windows``: each operation's window in words, then the plain calls'."""
    out = {name: rule.text() for name, rule in sorted(operations.items())}
    if lists:
        out["batch reads"] = READ.text()
    out[plain_label("POST")] = plain_post.text()
    out[plain_label("GET, PUT, PATCH, DELETE")] = Window(
        None, "reads, and updates or deletes of the record the path names"
    ).text()
    return out
