"""RFC 9457 problem details: the only error body Interlock's HTTP surfaces send.

Every problem has a ``type`` URI naming its kind, ``PROBLEM_BASE`` + the kind
(``https://interlock.dev/problems/unknown-source``); the ``title`` is the kind's title, the same
for every occurrence, and ``detail`` says what happened this time. docs/problems.md describes
every kind (``tests/router/test_problems.py`` checks that it lists exactly ``KINDS``).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "https://interlock.dev/problems/"

# kind -> title. A title names exactly one kind; problem() finds the kind by its title.
KINDS: dict[str, str] = {
    "bad-request": "Bad Request",
    "unauthorized": "Unauthorized",
    "signature-verification-failed": "Signature verification failed",
    "origin-not-allowed": "Origin not allowed",
    "unverified-source": "Unverified source",
    "not-found": "Not Found",
    "unknown-source": "Unknown source",
    "method-not-allowed": "Method Not Allowed",
    "request-timeout": "Request Timeout",
    "idempotency-conflict": "Idempotency key reused with a different body",
    "conflict": "Conflict",
    "payload-too-large": "Payload Too Large",
    "unsupported-media-type": "Unsupported Media Type",
    "request-header-fields-too-large": "Request Header Fields Too Large",
    "bad-gateway": "Bad Gateway",
    "gateway-timeout": "Gateway Timeout",
    "service-unavailable": "Service Unavailable",
    "backpressure": "Backpressure: credit exhausted",
    "storage-full": "Journal storage is full",
    "storage-failing": "Journal storage is failing",
    "not-ready": "Not ready",
    "too-many-connections": "Too many connections",
}
_BY_TITLE = {title: kind for kind, title in KINDS.items()}
# aiohttp's own reasons, and the HTTP phrases the protocol errors use, folded into our kinds.
_ALIASES = {"Request Entity Too Large": "payload-too-large"}


def kind_of(title: str, status: int) -> str:
    """The kind a problem with ``title`` belongs to; an unknown title falls back by status."""
    kind = _BY_TITLE.get(title) or _ALIASES.get(title)
    if kind is not None:
        return kind
    if status >= 500:
        return "service-unavailable"
    return "not-found" if status == 404 else "bad-request"


def problem_body(status: int, title: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    kind = kind_of(title, status)
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": KINDS[kind], "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body = problem_body(status, title, detail, **extra)
    return web.Response(
        status=status, body=orjson.dumps(body), content_type=PROBLEM_TYPE, headers=headers
    )


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")
