"""Error classification: status classes, Retry-After, vendor error bodies, client exceptions."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from actors.connectors._classify import (
    classify_exception,
    classify_response,
    retry_after_seconds,
    vendor_detail,
)
from actors.connectors._ssrf import BlockedAddressError
from router.errors import PermanentError, TransientError

VENDOR_BODIES: list[tuple[str, Any, str]] = [
    (
        "netsuite",
        {
            "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
            "title": "Bad Request",
            "status": 400,
            "o:errorDetails": [
                {"detail": "Invalid field value 'x' for subsidiary", "o:errorCode": "USER_ERROR"}
            ],
        },
        "USER_ERROR: Invalid field value 'x' for subsidiary",
    ),
    (
        "odata",
        {"error": {"code": "0x80040217", "message": "account With Id = 42 Does Not Exist"}},
        "0x80040217: account With Id = 42 Does Not Exist",
    ),
    (
        "stripe",
        {"error": {"type": "invalid_request_error", "message": "No such customer: 'cus_1'"}},
        "invalid_request_error: No such customer: 'cus_1'",
    ),
    (
        "salesforce",
        [{"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING"}],
        "REQUIRED_FIELD_MISSING: Required fields are missing: [Name]",
    ),
    (
        "zendesk",
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"name": [{"description": "Name: has already been taken"}]},
        },
        "RecordInvalid: Record validation errors; Name: has already been taken",
    ),
    ("shopify", {"errors": {"available": ["must be an integer"]}}, "available: must be an integer"),
    ("generic", {"message": "bad\nthing"}, "bad thing"),
]


@pytest.mark.parametrize(("vendor", "body", "expected"), VENDOR_BODIES)
def test_vendor_error_text_is_carried_into_a_single_line_reason(
    vendor: str, body: Any, expected: str
) -> None:
    assert vendor_detail(orjson.dumps(body)) == expected
    error = classify_response(400, orjson.dumps(body))
    assert isinstance(error, PermanentError)
    assert str(error) == f"HTTP 400 {expected}"


def test_non_json_bodies_are_flattened_and_cut() -> None:
    detail = vendor_detail(b"<html>\n  <body>" + b"x" * 1000 + b"</body></html>")
    assert "\n" not in detail and len(detail) <= 300
    assert detail.startswith("<html> <body>")


@pytest.mark.parametrize("status", [408, 425, 429, 500, 501, 502, 503, 504, 599])
def test_transient_statuses_carry_retry_after(status: int) -> None:
    error = classify_response(status, b"", "7")
    assert isinstance(error, TransientError)
    assert error.retry_after == 7.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_other_4xx_are_permanent(status: int) -> None:
    assert isinstance(classify_response(status, b"{}"), PermanentError)


def test_redirects_are_permanent_and_2xx_is_success() -> None:
    error = classify_response(302, b"")
    assert isinstance(error, PermanentError)
    assert str(error) == "HTTP 302: redirect not followed"
    assert classify_response(204, b"") is None


def test_retry_after_forms() -> None:
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds(None) is None


def test_client_exceptions() -> None:
    timeout = classify_exception(TimeoutError(), 2.0)
    assert isinstance(timeout, TransientError) and str(timeout) == "timed out after 2s"
    refused = classify_exception(aiohttp.ClientConnectionError("refused"), 2.0)
    assert isinstance(refused, TransientError) and "connection error" in str(refused)
    wrapped = aiohttp.ClientConnectionError("dns")
    wrapped.__cause__ = BlockedAddressError("refused x: it resolves to 10.0.0.1")
    blocked = classify_exception(wrapped, 2.0)
    assert isinstance(blocked, PermanentError) and "10.0.0.1" in str(blocked)
