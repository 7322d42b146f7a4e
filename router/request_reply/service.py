"""Request/reply routes: ``POST /api/{route}`` answers now, within the route's timeout.

Some steps cannot wait for an asynchronous delivery ("is this in stock?" before an order is
committed). A request/reply route runs its transforms, calls one connector on the event loop with
the same pool, limits and breaker as deliveries use, optionally maps the answer, and replies. An
optional short cache serves repeated questions, and may serve an expired answer (marked stale)
when the target times out or fails. Nothing is journaled: the caller is waiting and retries itself.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from router.envelope import Envelope
from router.errors import (
    BadRequestError,
    DeadlineError,
    PermanentError,
    UpstreamError,
    UpstreamTimeoutError,
)
from router.ids import new_id_bytes, new_traceparent
from router.metrics import Metrics
from router.pointer import Pointer
from router.registry import TransformSpec
from router.request_reply.kind import RequestReplySpec
from router.runtime.outlet import Outlet
from router.runtime.request_builder import build_request, run_chain, to_json_bytes

MAX_CACHED = 10_000


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
        self._key = Pointer(spec.cache.key) if spec.cache and spec.cache.key else None
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def _cache_key(self, body: bytes, payload: Any) -> str:
        if self._key is None:
            return hashlib.sha256(body).hexdigest()
        return orjson.dumps(self._key.resolve(payload)).decode()

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

    async def answer(self, body: bytes, correlation_id: str) -> Answer:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._answer(body, correlation_id)
            outcome = result.cache
            return result
        finally:
            self.metrics.sync_requests.labels(route=self.spec.id, outcome=outcome).inc()
            self.metrics.sync_seconds.labels(route=self.spec.id).observe(
                time.perf_counter() - started
            )

    async def _answer(self, body: bytes, correlation_id: str) -> Answer:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequestError(f"body is not valid JSON: {exc}") from None
        cache = self.spec.cache
        key = self._cache_key(body, payload) if cache else ""
        if cache and (hit := self._cached(key, cache.ttl)) is not None:
            return Answer(hit, "hit")
        envelope = Envelope(
            id=new_id_bytes(),
            source="api",
            type=self.spec.id,
            idempotency_key=key or hashlib.sha256(body).hexdigest(),
            correlation_id=correlation_id,
            traceparent=new_traceparent(),
            received_at=time.time(),
            body=body,
        )
        envelope._payload = payload
        try:
            request = build_request(self.spec, self.chain, envelope, attempt=1)
        except PermanentError as exc:
            raise BadRequestError(str(exc)) from None
        result = await self.outlet.call(request, self.spec.timeout)
        if isinstance(result.error, DeadlineError):
            return self._fallback(key, UpstreamTimeoutError(str(result.error)))
        if result.error is not None:
            return self._fallback(key, UpstreamError(f"the target failed: {result.error}"))
        answer = self._map_reply(result.body or b"null")
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

    def _fallback(self, key: str, error: UpstreamError) -> Answer:
        cache = self.spec.cache
        if cache and cache.stale_for > 0:
            stale = self._cached(key, cache.ttl + cache.stale_for)
            if stale is not None:
                return Answer(stale, "stale")
        raise error
