"""Turning a journaled message into the request a connector sends: transforms, body, headers."""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from canonical.models import Entity
from canonical.versioning import upcast
from router import telemetry
from router.config.models import Steps
from router.connector import OutboundRequest
from router.envelope import Envelope
from router.errors import PermanentError
from router.ids import child_traceparent
from router.pointer import Pointer
from router.registry import TransformSpec


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Decimal):
        return str(obj)  # money stays exact on the wire
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} as JSON")


def to_json_bytes(value: Any) -> bytes:
    """JSON for a transform's output; raises PermanentError when it has no JSON form."""
    try:
        return orjson.dumps(value, default=_default)
    except TypeError as exc:
        raise PermanentError(f"transform output is not JSON-serialisable: {exc}") from exc


def outbound_idempotency_key(route: str, envelope: Envelope) -> str:
    """Stable for a message and route across retries, restarts and replays of the same event."""
    raw = f"{route}\x00{envelope.source}\x00{envelope.idempotency_key}".encode(
        "utf-8", "surrogatepass"
    )
    return hashlib.sha256(raw).hexdigest()[:40]


def validate_input(model: type[BaseModel], value: Any) -> BaseModel:
    """Validate ``value`` as a transform's input ``model``, upcasting an old canonical payload.

    When ``model`` is a canonical :class:`~canonical.models.Entity` and ``value`` a mapping whose
    ``schema_version`` is not the model's current one, :func:`canonical.versioning.upcast` lifts
    it first (one registered upcaster per version). A payload without ``schema_version``, or
    already at the current one, is validated as it is.

    Raises:
        SchemaVersionError: The version is newer than this code, not valid, or has no upcaster
            path; the message names the model and both versions.
        pydantic.ValidationError: The (upcast) payload is not a valid ``model``.
    """
    if issubclass(model, Entity) and isinstance(value, Mapping) and "schema_version" in value:
        version = value["schema_version"]
        if not (type(version) is int and version == model.current_version()):
            value = upcast(model, value)  # a copy: the journaled payload is never changed
    return model.model_validate(value)


def run_chain(chain: list[TransformSpec], payload: Any) -> Any:
    """Apply the transforms in order; a model-typed input is validated once, on entry.

    A canonical input of an older ``schema_version`` is upcast before validation (see
    :func:`validate_input`); any failure, a version this code cannot read included, is a
    :class:`PermanentError` naming the transform, so the delivery is dead-lettered, not retried.
    """
    value = payload
    for spec in chain:
        try:
            if spec.validates_input and not isinstance(value, spec.input_type):
                value = validate_input(spec.input_type, value)
            value = spec.fn(value)
        except Exception as exc:
            raise PermanentError(
                f"transform {spec.name} failed: {type(exc).__name__}: {exc}"
            ) from exc
    return value


_PATH_PART = re.compile(r"\{(/[^}]*)\}")


def render_path(template: str, document: Any) -> str:
    """Fill ``{/pointer}`` parts from the message, each URL-encoded as one path segment.

    A missing or non-scalar value is a permanent failure: the message cannot say where it goes.
    """

    def fill(match: re.Match[str]) -> str:
        value = Pointer(match.group(1)).resolve(document)
        if value is None or isinstance(value, dict | list | bool):
            raise PermanentError(f"path part {match.group(0)} has no scalar value in the message")
        return path_segment(str(value))

    return _PATH_PART.sub(fill, template) if "{" in template else template


def path_segment(value: str) -> str:
    """``value`` percent-encoded as exactly one path segment.

    ``quote`` leaves ``.`` alone (it is unreserved), but a segment that is exactly ``.`` or ``..``
    is a dot segment that the target (or any proxy before it) removes (RFC 3986 5.2.4): from
    ``{"tenant": ".."}``, ``/tenants/{/tenant}/orders`` would reach ``/orders``. Encoded as
    ``%2E`` it is plain data.
    """
    quoted = urllib.parse.quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def build_request(
    route: Steps,
    chain: list[TransformSpec],
    envelope: Envelope,
    attempt: int,
) -> OutboundRequest:
    """The request for one delivery; a failing transform raises :class:`PermanentError`."""
    document: Any = envelope.payload
    if chain:
        output = run_chain(chain, envelope.payload)
        # Dumped once, for the body and the path (it was dumped twice: ~10 µs per message).
        document = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
        body = to_json_bytes(document)
    else:
        body = envelope.body  # untouched bytes: what came in goes out
    target = route.target
    headers = dict(target.headers)
    tracestate = envelope.headers.get("tracestate")
    if tracestate:  # W3C: carried unchanged to the next hop
        headers["tracestate"] = tracestate
    return OutboundRequest(
        message_id=envelope.id_text,
        route=route.id,
        method=target.method,
        path=render_path(target.path, document),
        body=body,
        idempotency_key=outbound_idempotency_key(route.id, envelope),
        correlation_id=envelope.correlation_id,
        # Spans on: the parent, which the attempt's span (router/telemetry.py) replaces; off:
        # a child of it here (same trace id and sampled flag).
        traceparent=envelope.traceparent
        if telemetry.enabled()
        else child_traceparent(envelope.traceparent),
        attempt=attempt,
        headers=headers,
        operation=target.operation,
        event={"source": envelope.source, "type": envelope.type, "key": envelope.idempotency_key},
    )
