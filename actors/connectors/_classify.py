"""Turning HTTP answers and client exceptions into TransientError or PermanentError.

| what happened                                   | error     | reason                             |
|-------------------------------------------------|-----------|------------------------------------|
| 2xx                                             | none      |                                    |
| 3xx                                             | permanent | ``HTTP 302: redirect not followed``|
| 408, 425, 429, 5xx                              | transient | ``Retry-After`` honoured           |
| other 4xx                                       | permanent | the vendor's error text            |
| timeout, connection refused/reset, DNS failure  | transient |                                    |
| address refused by the SSRF policy              | permanent |                                    |

The reason is one short line: ``HTTP 400 USER_ERROR: Invalid field value 'x' for subsidiary``,
with the error code and message dug out of NetSuite, OData (Dynamics), Stripe, Salesforce, Zendesk
and Shopify error bodies, else the start of the body.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Mapping
from typing import Any

import orjson

from actors.connectors._ssrf import BlockedAddressError
from router.plugin import DeliveryError, PermanentError, TransientError

__all__ = [
    "TRANSIENT_STATUS",
    "classify_exception",
    "classify_response",
    "one_line",
    "retry_after_seconds",
    "vendor_detail",
]

TRANSIENT_STATUS = frozenset({408, 425, 429})
MAX_REASON = 300


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse Retry-After as delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _join(code: Any, message: Any) -> str:
    code_s, message_s = _text(code), _text(message)
    return f"{code_s}: {message_s}" if code_s and message_s else code_s or message_s


def _from_dict(doc: Mapping[str, Any]) -> str:  # noqa: PLR0911 - one return per vendor shape
    details = doc.get("o:errorDetails")  # NetSuite REST
    if isinstance(details, list) and details:
        first = details[0] if isinstance(details[0], dict) else {}
        texts = [_text(d.get("detail")) for d in details if isinstance(d, dict)]
        return _join(first.get("o:errorCode"), "; ".join(t for t in texts if t))
    error = doc.get("error")
    if isinstance(error, dict):  # OData (Dynamics) and Stripe
        code = error.get("code") or error.get("type")
        return _join(code, error.get("message"))
    if "description" in doc or "details" in doc:  # Zendesk
        details_map = doc.get("details")
        items = [
            item
            for value in (details_map.values() if isinstance(details_map, dict) else [])
            for item in (value if isinstance(value, list) else [value])
        ]
        found = [_text(i.get("description") if isinstance(i, dict) else i) for i in items]
        message = "; ".join(t for t in [_text(doc.get("description")), *found] if t)
        return _join(error, message)
    errors = doc.get("errors")  # Shopify
    if isinstance(errors, dict):
        return "; ".join(
            f"{k}: {', '.join(map(_text, v)) if isinstance(v, list) else _text(v)}"
            for k, v in errors.items()
        )
    if errors is not None:
        return "; ".join(map(_text, errors)) if isinstance(errors, list) else _text(errors)
    for key in ("message", "detail", "title", "error_description"):
        if isinstance(doc.get(key), str):
            return _join(error if isinstance(error, str) else None, doc[key])
    return _text(error) if isinstance(error, str) else ""


def vendor_detail(body: bytes) -> str:
    """The error code and message from a vendor's JSON error body, else the body's first line."""
    if not body:
        return ""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return one_line(body[:2048].decode("utf-8", "replace"))
    if isinstance(doc, list):  # Salesforce: [{"message": ..., "errorCode": ...}, ...]
        parts = [_join(d.get("errorCode"), d.get("message")) for d in doc if isinstance(d, dict)]
        return one_line("; ".join(p for p in parts if p))
    if isinstance(doc, dict):
        return one_line(_from_dict(doc))
    return one_line(_text(doc))


def classify_response(
    status: int, body: bytes, retry_after: str | None = None
) -> DeliveryError | None:
    """The error an HTTP status means (None for 2xx), with the vendor's text as the reason."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return PermanentError(f"HTTP {status}: redirect not followed")
    detail = vendor_detail(body)
    reason = f"HTTP {status} {detail}" if detail else f"HTTP {status}"
    if status in TRANSIENT_STATUS or 500 <= status < 600:
        return TransientError(reason, retry_after=retry_after_seconds(retry_after))
    return PermanentError(reason)


def _blocked(exc: BaseException) -> BlockedAddressError | None:
    seen: BaseException | None = exc
    for _ in range(8):  # walk the cause chain a few links, never loop forever
        if seen is None:
            return None
        if isinstance(seen, BlockedAddressError):
            return seen
        seen = seen.__cause__ or getattr(seen, "os_error", None)
    return None


def classify_exception(exc: BaseException, timeout_s: float) -> DeliveryError:
    """The error a client exception means: refused addresses are permanent, the rest transient."""
    if isinstance(exc, DeliveryError):
        return exc
    if (blocked := _blocked(exc)) is not None:
        return PermanentError(str(blocked))
    import aiohttp  # noqa: PLC0415 - loaded by the client already; `check` never needs it

    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return TransientError(f"timed out after {timeout_s:g}s")
    if isinstance(exc, aiohttp.InvalidURL):
        return PermanentError(f"invalid URL: {one_line(str(exc), 200)}")
    return TransientError(f"connection error: {type(exc).__name__}: {one_line(str(exc), 200)}")
