"""Request/reply routes: ``POST /api/{route}`` answers now, within the route's timeout.

Some steps cannot wait for an asynchronous delivery ("is this in stock?" before an order is
committed). A request/reply route runs its transforms, calls one connector on the event loop with
the same pool, limits and breaker as deliveries use, optionally maps the answer, and replies. An
optional short cache serves repeated questions, and may serve an expired answer (marked stale)
when the target times out or fails. Nothing is journaled: the caller is waiting and retries itself.

The caller's trace and correlation context is read as a webhook's is (router/source_handler.py):
a valid ``traceparent`` continues the caller's trace and its printable ``tracestate`` reaches the
target unchanged, a safe ``X-Correlation-ID`` or ``X-Request-ID`` is kept, and what is missing is
made here, so the target always gets both.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router import codec
from router.connector import OutboundRequest
from router.envelope import Envelope
from router.errors import (
    BadRequestError,
    DeadlineError,
    NotFoundError,
    PermanentError,
    UpstreamError,
    UpstreamTimeoutError,
)
from router.ids import encode_id, new_id_bytes, new_traceparent, normalize_traceparent
from router.metrics import Metrics
from router.pointer import Pointer
from router.registry import TransformSpec
from router.request_reply.kind import RequestReplySpec
from router.runtime.outlet import Outlet
from router.runtime.request_builder import build_request, run_chain, to_json_bytes
from router.source_handler import CORRELATION_HEADERS

MAX_CACHED = 10_000
MAX_QUESTION_IN_DETAIL = 200  # a 404's detail quotes the question, not a megabyte of it
_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # as a webhook's correlation id must be


@dataclass(frozen=True, slots=True)
class Caller:
    """The context of one ``/api`` request: its message id, correlation id, traceparent and
    ``tracestate`` (forwarded unchanged; only with the caller's valid traceparent)."""

    message_id: bytes
    correlation_id: str
    traceparent: str
    tracestate: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Caller:
        """Read as a webhook's envelope is (``SourceHandler._envelope``), so both paths agree:
        the first safe correlation header, else the message id; the caller's traceparent when
        valid (the outbound call then carries its trace id with a span of its own), else a new
        trace."""
        message_id = new_id_bytes()
        correlation = next(
            (v for h in CORRELATION_HEADERS if (v := headers.get(h)) and _SAFE_ID.match(v)), None
        )
        caller_trace = normalize_traceparent(headers.get("traceparent"))
        state = headers.get("tracestate")
        return cls(
            message_id=message_id,
            correlation_id=correlation or encode_id(message_id),
            traceparent=caller_trace or new_traceparent(),
            # W3C: carried unchanged, and dropped with an invalid traceparent (as on a webhook)
            tracestate=state
            if caller_trace and state and state.isascii() and state.isprintable()
            else None,
        )


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    cache: str  # miss | hit | stale


class RequestReply:
    def __init__(
        self,
        spec: RequestReplySpec,
        chain: list[TransformSpec],
        reply: list[TransformSpec],
        outlet: Outlet,
        metrics: Metrics,
    ) -> None:
        self.spec = spec
        self.chain = chain
        self.reply = reply
        self.outlet = outlet
        self.metrics = metrics
        self._keys = [Pointer(k) for k in spec.cache.key] if spec.cache and spec.cache.key else None
        self._found = Pointer(spec.found) if spec.found else None
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def _cache_key(self, payload: Any, request: OutboundRequest) -> str:
        """A digest of what the answer depends on: by default the call itself (method, rendered
        path, and the body as canonical JSON, so key order and spacing do not split entries);
        with ``cache.key``, only the values its pointers name in the caller's question."""
        if self._keys is not None:
            named = [pointer.resolve(payload) for pointer in self._keys]
            return hashlib.sha256(orjson.dumps(named, option=orjson.OPT_SORT_KEYS)).hexdigest()
        digest = hashlib.sha256(f"{request.method}\x00{request.path}\x00".encode())
        try:
            digest.update(orjson.dumps(orjson.loads(request.body), option=orjson.OPT_SORT_KEYS))
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # not JSON (a transform may
            # emit text), or nested past what orjson writes: its bytes, then
            digest.update(request.body)
        return digest.hexdigest()

    def _cached(self, key: str, max_age: float) -> bytes | None:
        entry = self._cache.get(key)
        if entry is None or time.monotonic() - entry[0] > max_age:
            return None
        return entry[1]

    def _store(self, key: str, body: bytes) -> None:
        self._cache[key] = (time.monotonic(), body)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)

    async def answer(self, body: bytes, caller: Caller) -> Answer:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._answer(body, caller)
            outcome = result.cache
            return result
        finally:
            self.metrics.sync_requests.labels(route=self.spec.id, outcome=outcome).inc()
            self.metrics.sync_seconds.labels(route=self.spec.id).observe(
                time.perf_counter() - started
            )

    async def _answer(self, body: bytes, caller: Caller) -> Answer:
        try:
            payload = codec.loads(body)
        except codec.JsonError as exc:
            raise BadRequestError(str(exc)) from None
        envelope = Envelope(
            id=caller.message_id,
            source="api",
            type=self.spec.id,
            idempotency_key=hashlib.sha256(body).hexdigest(),
            correlation_id=caller.correlation_id,
            traceparent=caller.traceparent,
            received_at=time.time(),
            body=body,
            headers={"tracestate": caller.tracestate} if caller.tracestate else {},
        )
        envelope._payload = payload
        try:
            # Before the cache: the key is the transformed question (and a bad question is a
            # 400 even when a valid one with the same SKU is cached).
            request = build_request(self.spec, self.chain, envelope, attempt=1)
        except PermanentError as exc:
            raise BadRequestError(str(exc)) from None
        cache = self.spec.cache
        key = self._cache_key(payload, request) if cache else ""
        if cache and (hit := self._cached(key, cache.ttl)) is not None:
            return Answer(hit, "hit")
        result = await self.outlet.call(request, self.spec.timeout)
        if isinstance(result.error, DeadlineError):
            return self._fallback(key, UpstreamTimeoutError(str(result.error)))
        if result.error is not None:
            return self._fallback(key, UpstreamError(f"the target failed: {result.error}"))
        answer = self._map_reply(result.body or b"null")
        self._check_found(answer, payload)  # raises before the store: a 404 is never cached
        if cache:
            self._store(key, answer)
        return Answer(answer, "miss")

    def _map_reply(self, response: bytes) -> bytes:
        if not self.reply:
            return response
        try:
            return to_json_bytes(run_chain(self.reply, orjson.loads(response)))
        except (orjson.JSONDecodeError, PermanentError) as exc:
            raise UpstreamError(f"the target's answer could not be mapped: {exc}") from None

    def _check_found(self, answer: bytes, question: Any) -> None:
        """A 404 when ``found`` names nothing in the answer: the target answered, but knows
        nothing of what was asked (Dynamics has no stock row for the SKU)."""
        if self._found is None:
            return
        try:
            document = orjson.loads(answer)
        except orjson.JSONDecodeError:
            raise UpstreamError("the target's answer is not JSON") from None
        if self._found.resolve(document) is None:
            quoted = orjson.dumps(question, option=orjson.OPT_SORT_KEYS).decode()
            if len(quoted) > MAX_QUESTION_IN_DETAIL:
                quoted = quoted[:MAX_QUESTION_IN_DETAIL] + "..."
            raise NotFoundError(f"{self.spec.id} found nothing for {quoted}")

    def _fallback(self, key: str, error: UpstreamError) -> Answer:
        cache = self.spec.cache
        if cache and cache.stale_for > 0:
            stale = self._cached(key, cache.ttl + cache.stale_for)
            if stale is not None:
                return Answer(stale, "stale")
        raise error
