"""From raw request to envelope: verify, parse once, read the event type and the dedupe key.

This is the edge: everything a client can get wrong becomes an :class:`~router.errors.IngressError`
here (4xx), and nothing reaches the journal that cannot be read back.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from router import cloudevents, codec, registry
from router.config import SourceConfig
from router.config.models import HEADER_PREFIX
from router.envelope import Envelope
from router.errors import BadRequestError, IngressError, SignatureError
from router.ids import new_id_bytes, new_traceparent, normalize_traceparent
from router.pointer import Pointer
from router.verify import Verified, Verifier

_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
CORRELATION_HEADERS = ("x-correlation-id", "x-request-id")
_KEPT_HEADERS = ("content-type", "user-agent", "tracestate")  # tracestate: W3C, forwarded
Extractor = Callable[[Any, Mapping[str, str]], Any]


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a submit: the message id, and whether it had been accepted before."""

    id: str
    duplicate: bool = False


class Emit(Protocol):
    """:meth:`router.engine.Engine.emit`, as the parts that make messages (a reconciliation's
    repairs, a drop folder's rows) see it."""

    async def __call__(
        self,
        source: str,
        event_type: str,
        payload: Any,
        key: str,
        origin: str,
        rejected: str = "",
    ) -> Ack: ...


# An id that is a JSON number keys as its exact text behind this tag, so ``1`` and ``"1"`` (and two
# integers past 64 bits that a float would merge) never share a key. String ids key as themselves,
# as they always have, unless they begin with a tag (then ESCAPED_KEY is prefixed): one-to-one.
NUMBER_KEY = "number:"
ESCAPED_KEY = "string:"
MAX_KEY_CHARS = 1024


def key_text(value: Any, exact: Callable[[], Any], what: str = "the idempotency key") -> str:
    """The idempotency key for an id ``value``; ``exact()`` gives the id as sent (a
    :class:`router.codec.Number` for a number), asked for only when the id is a number."""
    if isinstance(value, str):
        text = ESCAPED_KEY + value if value.startswith((NUMBER_KEY, ESCAPED_KEY)) else value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = NUMBER_KEY + str(exact())
    else:
        raise BadRequestError(f"{what} must be a string or number, not {codec.json_kind(value)}")
    return _bounded(text, what)


def _bounded(text: str, what: str) -> str:
    """``text`` when it is 1 to MAX_KEY_CHARS characters of encodable text; else a 400."""
    if not text or len(text) > MAX_KEY_CHARS:
        raise BadRequestError(f"{what} must be 1 to {MAX_KEY_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequestError(f"{what} is not valid text") from None
    return text


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
    return _bounded(str(value), what)


def _printable(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isprintable()


class SourceHandler:
    """One configured source, compiled for the hot path."""

    def __init__(self, config: SourceConfig) -> None:
        self.name = config.name
        spec = config.spec
        self.format = spec.format
        self.allowed_origins = frozenset(spec.allowed_origins)
        self.verifier: Verifier | None = None
        if spec.verify is not None and config.verifier_settings is not None:
            self.verifier = registry.verifiers()[spec.verify.scheme].factory(
                config.verifier_settings
            )
        self.fixed_type = spec.fixed_type
        self.type_of = compile_ref(spec.type) if spec.type else None
        self.key_of = compile_ref(spec.idempotency_key) if spec.idempotency_key else None
        self._key_ref = spec.idempotency_key or ""
        # Where this source reads a body field: a body that is not a JSON object has none.
        self._fields = [r for r in (spec.type, spec.idempotency_key) if r and r.startswith("/")]

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
            payload = codec.loads(body)
        except codec.JsonError as exc:
            raise BadRequestError(str(exc)) from None
        if self._fields and not isinstance(payload, dict):
            kind = codec.json_kind(payload)
            raise BadRequestError(
                f"the body must be a JSON object, not {kind}: this source reads "
                + " and ".join(self._fields)
            )
        event_type = self.fixed_type
        if self.type_of is not None:
            found = self.type_of(payload, headers)
            if found is not None or event_type is None:
                event_type = _scalar_text(found, "the event type")
        assert event_type is not None
        if self.key_of is not None:
            key = key_text(
                self.key_of(payload, headers),
                lambda: Pointer(self._key_ref).resolve(codec.exact(body)),
                f"the idempotency key ({self._key_ref})",
            )
        elif verified.idempotency_key:
            key = verified.idempotency_key
        else:
            key = "sha256:" + hashlib.sha256(body).hexdigest()
        return self._envelope(body, payload, event_type, key, headers, headers.get("traceparent"))

    def _envelope(
        self,
        body: bytes,
        payload: Any,
        event_type: str,
        key: str,
        headers: Mapping[str, str],
        traceparent: str | None,
    ) -> Envelope:
        correlation = next(
            (v for h in CORRELATION_HEADERS if (v := headers.get(h)) and _SAFE_ID.match(v)), None
        )
        caller_trace = normalize_traceparent(traceparent)
        message_id = new_id_bytes()
        envelope = Envelope(
            id=message_id,
            source=self.name,
            type=event_type,
            idempotency_key=key,
            correlation_id=correlation or "",  # none given: the message id, set below
            traceparent=caller_trace or new_traceparent(),
            received_at=time.time(),
            body=body,
            headers={h: v for h in _KEPT_HEADERS if (v := headers.get(h)) and _printable(v)},
        )
        if caller_trace is None:  # W3C: a tracestate without a valid traceparent is dropped
            envelope.headers.pop("tracestate", None)
        envelope._payload = payload
        if not envelope.correlation_id:
            envelope.correlation_id = envelope.id_text
        return envelope

    def internal(
        self, payload: Any, event_type: str, key: str, origin: str, correlation: str
    ) -> Envelope:
        """A message Interlock itself makes (a reconciliation's repair): no signature to check,
        since it never crossed a network; ``origin`` is kept as its user agent in the timeline."""
        body = orjson.dumps(payload)
        headers = {"user-agent": origin, "x-correlation-id": correlation}
        return self._envelope(body, payload, event_type, key, headers, None)

    def cloudevents(self, body: bytes, headers: Mapping[str, str]) -> list[Envelope]:
        """Verify once, then one envelope per event (binary, structured or batch mode)."""
        self.verify(headers, body)
        envelopes = []
        for event in cloudevents.parse(body, headers):
            envelope = self._envelope(
                event.body,
                event.attributes,
                _scalar_text(event.type, "the event type"),
                _scalar_text(event.dedupe_key, "source and id"),
                headers,
                event.traceparent or headers.get("traceparent"),
            )
            envelope.fingerprint = event.fingerprint()
            envelopes.append(envelope)
        return envelopes
