"""Header access and replay-window checks shared by every verification scheme.

Everything here raises :class:`router.errors.SignatureError` and nothing else, with messages that
name at most the header involved: a sender needs that much to fix its request, an attacker learns
nothing from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NoReturn

from router.plugin import SignatureError

__all__ = [
    "FAILED",
    "MAX_HEADER_CHARS",
    "check_tolerance",
    "delivery_id",
    "fail",
    "get_header",
    "parse_iso_timestamp",
    "parse_unix_timestamp",
    "require_header",
]

FAILED = "signature verification failed"
# Real signature headers are well under 1 KiB; the cap bounds the work junk can cause.
MAX_HEADER_CHARS = 8192
# Ten digits cover every second until 2286; more than twelve can only be junk. `int()` alone
# would accept "+1", " 1", "1_0" and non-ASCII digits, hence the explicit ASCII pattern.
_UNIX_TS = re.compile(r"[0-9]{1,12}")
# Zendesk's form, e.g. 2021-03-25T05:09:27Z; the signed bytes are the header exactly as sent.
_ISO_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# Printable ASCII without spaces: an id becomes a journal key and appears in logs.
_ID = re.compile(r"[\x21-\x7e]{1,256}")


def fail(detail: str = FAILED) -> NoReturn:
    raise SignatureError(detail)


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """Return header ``name`` case-insensitively, or None when absent.

    aiohttp's ``CIMultiDictProxy`` already ignores case, so the direct lookup is the fast path; the
    scan makes a plain ``dict`` (tests, other frameworks) behave the same.
    """
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_HEADER_CHARS or not value.isascii():
        # HTTP header values are ASCII in practice; anything else cannot carry a valid signature.
        fail(f"malformed {name} header")
    return value


def require_header(headers: Mapping[str, str], name: str) -> str:
    value = get_header(headers, name)
    if not value:
        fail(f"missing {name} header")
    return value


def delivery_id(headers: Mapping[str, str], name: str) -> str | None:
    """The sender's delivery id from header ``name``: None when absent, rejected when junk."""
    value = get_header(headers, name)
    if value is None:
        return None
    if not _ID.fullmatch(value):
        fail(f"malformed {name} header")
    return value


def parse_unix_timestamp(value: str) -> int:
    if not _UNIX_TS.fullmatch(value):
        fail("malformed timestamp")
    return int(value)


def parse_iso_timestamp(value: str) -> float:
    if not _ISO_TS.fullmatch(value):
        fail("malformed timestamp")
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:  # month 13, February 30th ...
        fail("malformed timestamp")
    return moment.timestamp()


def check_tolerance(timestamp: float, now: float, tolerance_s: float) -> None:
    """Reject a timestamp too old (a replay) or too far ahead (a pre-signed replay, clock skew)."""
    if abs(now - timestamp) > tolerance_s:
        fail("timestamp outside tolerance")
