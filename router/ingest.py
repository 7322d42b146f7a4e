"""From raw request to envelope: verify, parse once, read the event type and the dedupe key.

This is the edge: everything a client can get wrong becomes an :class:`~router.errors.IngressError`
here (4xx), and nothing reaches the journal that cannot be read back.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router import registry
from router.config import SourceConfig
from router.config.models import HEADER_PREFIX
from router.envelope import Envelope
from router.errors import BadRequestError, IngressError, SignatureError
from router.ids import new_id_bytes, new_traceparent, parse_traceparent
from router.pointer import Pointer
from router.verify import Verified, Verifier

_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
CORRELATION_HEADERS = ("x-correlation-id", "x-request-id")
_KEPT_HEADERS = ("content-type", "user-agent")
Extractor = Callable[[Any, Mapping[str, str]], Any]


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a submit: the message id, and whether it had been accepted before."""

    id: str
    duplicate: bool = False


def compile_ref(ref: str) -> Extractor:
    """A ``/pointer`` or ``header:Name`` reference as a function of (payload, headers)."""
    if ref.startswith(HEADER_PREFIX):
        name = ref[len(HEADER_PREFIX) :].strip()
        return lambda _payload, headers: headers.get(name)
    pointer = Pointer(ref)
    return lambda payload, _headers: pointer.resolve(payload)


def _scalar_text(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise BadRequestError(f"{what} must be a string or number")
    text = str(value)
    if not text or len(text) > 1024:
        raise BadRequestError(f"{what} must be 1 to 1024 characters")
    return text


class SourceHandler:
    """One configured source, compiled for the hot path."""

    def __init__(self, config: SourceConfig) -> None:
        self.name = config.name
        spec = config.spec
        self.verifier: Verifier | None = None
        if spec.verify is not None and config.verifier_settings is not None:
            self.verifier = registry.verifiers()[spec.verify.scheme].factory(
                config.verifier_settings
            )
        self.fixed_type = spec.fixed_type
        self.type_of = compile_ref(spec.type) if spec.type else None
        self.key_of = compile_ref(spec.idempotency_key) if spec.idempotency_key else None

    def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        if self.verifier is None:
            return Verified()
        try:
            return self.verifier.verify(headers, body, time.time())
        except IngressError:
            raise
        except Exception as exc:
            raise SignatureError("signature verification failed") from exc

    def envelope(self, body: bytes, headers: Mapping[str, str]) -> Envelope:
        """Verify and parse one delivery into an envelope (routes are added by the engine)."""
        verified = self.verify(headers, body)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequestError(f"body is not valid JSON: {exc}") from None
        event_type = self.fixed_type
        if self.type_of is not None:
            found = self.type_of(payload, headers)
            if found is not None or event_type is None:
                event_type = _scalar_text(found, "the event type")
        assert event_type is not None
        if self.key_of is not None:
            key = _scalar_text(self.key_of(payload, headers), "the idempotency key")
        elif verified.idempotency_key:
            key = verified.idempotency_key
        else:
            key = "sha256:" + hashlib.sha256(body).hexdigest()
        correlation = next(
            (v for h in CORRELATION_HEADERS if (v := headers.get(h)) and _SAFE_ID.match(v)), None
        )
        incoming_trace = headers.get("traceparent")
        trace_id = parse_traceparent(incoming_trace)
        envelope = Envelope(
            id=new_id_bytes(),
            source=self.name,
            type=event_type,
            idempotency_key=key,
            correlation_id=correlation or uuid.uuid4().hex,
            traceparent=incoming_trace.strip().lower()
            if trace_id and incoming_trace
            else new_traceparent(),
            received_at=time.time(),
            body=body,
            headers={h: v for h in _KEPT_HEADERS if (v := headers.get(h))},
        )
        envelope._payload = payload
        return envelope
