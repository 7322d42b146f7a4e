"""CloudEvents 1.0 over HTTP: binary, structured and batch modes, validated by hand.

SDK parsers are lenient in the wrong places (one invents a missing ``id``, which breaks
deduplication), so the required attributes and the formats of the optional ones are checked here.
Every event becomes its structured JSON form (``data`` for JSON payloads, ``data_base64`` for
others), which is what the journal stores and what route pointers address.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson

from router import codec
from router.errors import BadRequestError, UnsupportedMediaTypeError

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED = ("id", "source", "specversion", "type")
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+(\s*;.*)?$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One validated event in structured form, and the bytes the journal keeps."""

    attributes: dict[str, Any]
    body: bytes

    @property
    def type(self) -> str:
        return str(self.attributes["type"])

    @property
    def dedupe_key(self) -> str:
        return f"{self.attributes['source']} {self.attributes['id']}"

    def fingerprint(self) -> bytes:
        """What makes two deliveries "the same event" whichever mode carried them: attributes as
        text (binary mode has no other types; an absent ``datacontenttype`` is JSON's), data by
        content (JSON by value with numbers as sent, as bytes when not JSON), without the trace
        context (a retry may carry a new one)."""
        tree = codec.exact(self.body)
        tree.setdefault("datacontenttype", "application/json")
        if "data_base64" in tree:
            data = _data_print(base64.b64decode(str(tree.pop("data_base64"))))
        elif "data" in tree:
            value = tree.pop("data")
            text = isinstance(value, str) and not _is_json_media(
                _media_type(tree["datacontenttype"])
            )
            data = _data_print(value.encode()) if text else b"json:" + codec.canonical(value)
        else:
            data = b""
        attributes = {k: _as_text(v) for k, v in tree.items() if k not in _TRACE_CONTEXT}
        return codec.canonical(attributes) + b"\n" + data

    @property
    def traceparent(self) -> str | None:
        value = self.attributes.get("traceparent")
        return value if isinstance(value, str) else None


_TRACE_CONTEXT = ("traceparent", "tracestate")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a codec.Number too: its text
        return str(value)
    return codec.canonical(value).decode()


def _data_print(data: bytes) -> bytes:
    """Data bytes as the fingerprint compares them: by JSON value when they are JSON (a binary
    event sent without a Content-Type), else as they are."""
    try:
        return b"json:" + codec.canonical(codec.exact(data))
    except (ValueError, TypeError, RecursionError):  # not JSON or UTF-8, a lone surrogate, too deep
        return b"bytes:" + data


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json_media(media: str) -> bool:
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def validate(event: Any, where: str = "event") -> dict[str, Any]:
    """Check a structured event's attributes; raise BadRequestError naming the first problem."""
    if not isinstance(event, dict):
        raise BadRequestError(f"{where}: a CloudEvent is a JSON object")
    for name in REQUIRED:
        value = event.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequestError(f"{where}: required attribute {name!r} is missing or empty")
    if event["specversion"] != "1.0":
        raise BadRequestError(f"{where}: specversion must be '1.0', got {event['specversion']!r}")
    if "time" in event and not (isinstance(event["time"], str) and _valid_time(event["time"])):
        raise BadRequestError(f"{where}: 'time' must be an RFC 3339 timestamp")
    content_type = event.get("datacontenttype")
    if content_type is not None and not (
        isinstance(content_type, str) and _MEDIA_TYPE.match(content_type)
    ):
        raise BadRequestError(
            f"{where}: 'datacontenttype' must be a media type like application/json"
        )
    if "data" in event and "data_base64" in event:
        raise BadRequestError(f"{where}: 'data' and 'data_base64' are mutually exclusive")
    if "data_base64" in event:
        try:
            base64.b64decode(str(event["data_base64"]), validate=True)
        except ValueError:
            raise BadRequestError(f"{where}: 'data_base64' is not valid base64") from None
    for name in event:
        if name not in ("data", "data_base64") and not _ATTRIBUTE_NAME.match(name):
            raise BadRequestError(f"{where}: attribute name {name!r} must be 1-20 of [a-z0-9]")
    return event


def _valid_time(value: str) -> bool:
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(
            value.replace("z", "+00:00").replace("Z", "+00:00").replace("t", "T")
        )
    except ValueError:
        return False
    return True


def _structured(body: bytes, where: str = "event") -> CloudEvent:
    return CloudEvent(validate(_loads(body, "body"), where), body)


def _loads(body: bytes, what: str) -> Any:
    try:
        return codec.loads(body, what)
    except codec.JsonError as exc:
        raise BadRequestError(str(exc)) from None


def _binary(body: bytes, headers: Mapping[str, str], content_type: str) -> CloudEvent:
    event: dict[str, Any] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            if not _printable_ascii(value):
                raise BadRequestError(f"header {name!r} must be printable ASCII")
            event[lower[3:]] = _percent_decoded(name, value)
    if content_type and not _printable_ascii(content_type):
        raise BadRequestError("Content-Type must be printable ASCII")
    if content_type:
        event["datacontenttype"] = content_type
    json_data = bool(body) and _is_json_media(_media_type(content_type))
    if json_data:
        event["data"] = _loads(body, "data")
    elif body:
        event["data_base64"] = base64.b64encode(body).decode()
    validate(event)
    traceparent = headers.get("traceparent")
    if traceparent and "traceparent" not in event and _printable_ascii(traceparent):
        event["traceparent"] = traceparent
    if not json_data:
        return CloudEvent(event, orjson.dumps(event))
    # The structured form with the data exactly as sent: re-dumping the parsed data would turn
    # integers past 64 bits into floats and collapse duplicate keys.
    attributes = orjson.dumps({k: v for k, v in event.items() if k != "data"})
    return CloudEvent(event, attributes[:-1] + b',"data":' + body.strip(b" \t\r\n") + b"}")


def _percent_decoded(name: str, value: str) -> str:
    """A ``ce-*`` value as the HTTP binding (3.1.3.2) has it: percent-encoded UTF-8."""
    if "%" not in value:
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise BadRequestError(f"header {name!r} is not percent-encoded UTF-8") from None


def _printable_ascii(value: str) -> bool:
    # aiohttp decodes header bytes that are not UTF-8 into lone surrogates; they must not reach
    # the journal (msgpack and orjson refuse them), so they are a client error here.
    return value.isascii() and value.isprintable()


def parse(body: bytes, headers: Mapping[str, str]) -> list[CloudEvent]:
    """Every event in a request, validated; the batch is all-or-nothing."""
    content_type = headers.get("Content-Type", "")
    media = _media_type(content_type)
    if media == STRUCTURED:
        return [_structured(body)]
    if media == BATCH:
        events = _loads(body, "body")
        if not isinstance(events, list):
            raise BadRequestError("a CloudEvents batch is a JSON array")
        if not events:
            raise BadRequestError("a CloudEvents batch holds at least one event")
        if len(events) > MAX_BATCH:
            raise BadRequestError(f"a batch holds at most {MAX_BATCH} events")
        # Each event keeps its own bytes, sliced from the batch as sent (numbers stay exact).
        return [
            CloudEvent(validate(e, f"event {i}"), raw)
            for i, (e, raw) in enumerate(zip(events, codec.array_items(body), strict=True))
        ]
    if any(name.lower().startswith("ce-") for name in headers):  # binary mode, even if incomplete
        return [_binary(body, headers, content_type)]
    if media.startswith("application/cloudevents"):
        raise UnsupportedMediaTypeError(f"unsupported CloudEvents format {media!r}")
    raise UnsupportedMediaTypeError(
        f"content type {media or 'none'!r} is not CloudEvents: use ce-* headers (binary mode), "
        f"{STRUCTURED} or {BATCH}"
    )
