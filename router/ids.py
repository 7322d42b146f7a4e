"""Time-ordered message ids (ULID layout) and W3C trace context helpers.

Ids sort by creation time, so LMDB keeps the journal in arrival order and recovery replays each
ordering key's messages in the order they were accepted. Within one millisecond the random part is
incremented, keeping ids strictly increasing in this process.
"""

from __future__ import annotations

import os
import random
import threading
import time

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_trace_rng = random.Random(os.urandom(32))  # noqa: S311 - trace ids are not secrets
_id_rng = random.Random(os.urandom(32))  # noqa: S311 - message ids are unique, not secret
_last_ms = 0
_last_rand = 0


def new_id_bytes() -> bytes:
    """16 bytes: 48-bit Unix milliseconds, then 80 bits that increase within a millisecond."""
    global _last_ms, _last_rand  # noqa: PLW0603 - process-wide monotonic generator state
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            _last_rand += 1
        else:
            # A seeded PRNG, not os.urandom: ids need uniqueness, not secrecy, and os.urandom
            # gives up the GIL, which the busy event loop then waits to win back from an actor
            # thread (profiled: ~8 % of the loop's samples under HTTP load).
            _last_rand = _id_rng.getrandbits(79)  # room to increment
        _last_ms = now
        return now.to_bytes(6, "big") + _last_rand.to_bytes(10, "big")


_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two characters
_PAIR_SHIFTS = range(120, -1, -10)


def encode_id(raw: bytes) -> str:
    """Crockford base32 of the 16 bytes: 26 characters, same sort order as the bytes.

    The 128 bits are read as 130 (two leading zero bits, as ULIDs do), ten bits at a time.
    """
    number = int.from_bytes(raw, "big")
    return "".join([_PAIRS[(number >> shift) & 1023] for shift in _PAIR_SHIFTS])


def decode_id(text: str) -> bytes:
    """Inverse of :func:`encode_id`; raises ValueError on anything else."""
    if len(text) != 26 or not text.isascii():
        raise ValueError("a message id has 26 ASCII characters")
    number = 0
    for char in text.upper():
        index = _CROCKFORD.find(char)
        if index < 0:
            raise ValueError(f"invalid character {char!r} in message id")
        number = (number << 5) | index
    if number >> 128:
        raise ValueError("message id out of range")
    return number.to_bytes(16, "big")


def new_traceparent(trace_id: str | None = None, flags: str = "01") -> str:
    """A W3C traceparent with a fresh span id (and a fresh trace id unless one is given).

    Trace and span ids need uniqueness, not secrecy (W3C Trace Context), so a PRNG seeded from
    the OS serves; it is several times cheaper than ``os.urandom`` on the ingress hot path.
    ``flags`` are the parent's trace flags (``01`` sampled, ``00`` not): a child keeps them.
    """
    trace = trace_id or f"{_trace_rng.getrandbits(128):032x}"
    return f"00-{trace}-{_trace_rng.getrandbits(64) or 1:016x}-{flags}"


def child_traceparent(parent: str) -> str:
    """A child of ``parent`` (a traceparent this process wrote): same trace id and trace flags,
    a fresh span id; a fresh trace when ``parent`` is not one."""
    parts = parent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[3]) != 2:
        return new_traceparent()
    return new_traceparent(parts[1], parts[3])


def normalize_traceparent(value: str | None) -> str | None:
    """A caller's ``traceparent`` as version ``00`` (trace id, parent id and flags kept), or None.

    Parsed by OpenTelemetry's W3C propagator, per the spec: lowercase hex only (an uppercase
    header is refused, so a new trace starts), all-zero ids refused, version ``ff`` refused, and
    a future version (``cc-...``, extra fields allowed) read by its first four fields, keeping
    its trace id.
    """
    if not value:
        return None
    context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": value})).get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def parse_traceparent(value: str | None) -> str | None:
    """The trace id of a valid traceparent header, else None (invalid ones are replaced)."""
    normal = normalize_traceparent(value)
    return normal[3:35] if normal else None
