"""The simulator base: fault injection, rate limiting, the request log and the ``/_sim/`` API.

Every request except ``/_sim/*`` passes, in order: the request log, the downtime window, the rate
limit (429 + ``Retry-After``), added latency, the timeout hold, the 5xx rate, the vendor's auth
check and finally the vendor handler. Each vendor subclass renders errors in its own shape.

Each simulator has a :class:`~simulators._store.Clock` (real time until a test moves it, in
process with ``sim.clock.advance(seconds)`` or over ``POST /_sim/clock``): the vendor's time, by
which it forgets idempotency keys (``idempotency_window``, e.g. Stripe's 24 h) and stamps records.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators._auth import TokenIssuer
from simulators._store import (
    Clock,
    IdempotencyCache,
    Record,
    RecordStore,
    RequestLog,
    SeedRow,
    StoredReply,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 4 * 1024 * 1024
"""The largest request body a vendor endpoint takes."""
MAX_SEED_BODY = 256 * 1024 * 1024
"""The largest ``POST /_sim/seed`` body: room for a few hundred thousand small records."""


class Faults(BaseModel):
    """The run-time knobs of one simulator; ``POST /_sim/faults`` merges a partial update."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency: float = Field(0.0, ge=0, description="seconds added before every answer")
    error_rate: float = Field(0.0, ge=0, le=1, description="share of requests answered 5xx")
    error_status: int = Field(500, ge=500, le=599, description="status of an injected 5xx")
    fail_next: int = Field(0, ge=0, description="answer the next N requests with a 5xx")
    timeout_rate: float = Field(0.0, ge=0, le=1, description="share of requests held")
    timeout_hold: float = Field(300.0, ge=0, description="seconds a held request waits (then 504)")
    seed: int | None = Field(None, description="seed of the RNG behind error_rate/timeout_rate")
    match: str | None = Field(
        None,
        description="apply latency/5xx/timeouts only to paths containing this; "
        "`POST /v1/customers`: only to that method on such paths",
    )
    down_for: float = Field(0.0, ge=0, description="start a downtime window of N seconds")
    down_mode: Literal["503", "drop"] = Field("503", description="503, or close the connection")
    broken: tuple[str, ...] = Field((), description="external ids that always fail validation")
    rate_limit: float | None = Field(None, gt=0, description="requests per second, then 429")
    token_ttl: float | None = Field(None, gt=0, description="lifetime of new OAuth2 tokens")


class Simulator:
    """One simulated SaaS system. Subclasses set ``name``, ``defaults`` and the vendor parts."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, str]] = {}
    """Demo credentials, overridable by keyword arguments to the constructor."""
    token_prefix: ClassVar[str] = "tok_"  # noqa: S105 - a prefix, not a secret
    idempotency_window: ClassVar[float | None] = None
    """How long the vendor keeps an idempotency key after its first use (None: until reset)."""

    def __init__(
        self,
        *,
        faults: Faults | dict[str, Any] | None = None,
        token_ttl: float = 3600.0,
        **creds: str,
    ) -> None:
        unknown = set(creds) - set(self.defaults)
        if unknown:
            raise TypeError(f"{self.name}: unknown settings {sorted(unknown)}")
        self.credentials: dict[str, str] = {**self.defaults, **creds}
        self.initial_faults = Faults.model_validate(faults or {})
        self.initial_token_ttl = token_ttl
        self.clock = Clock()
        self.store = RecordStore(self.new_id, self.clock.time)
        self.log = RequestLog(clock=self.clock.time)
        self.idempotency = IdempotencyCache(self.idempotency_window, self.clock.time)
        self.tokens = TokenIssuer(self.token_prefix, token_ttl)
        self.faults = Faults()
        self._rng = random.Random()  # noqa: S311 - fault injection, not cryptography
        self._down_until = 0.0
        self._hits: deque[float] = deque()
        self._release = asyncio.Event()
        self.set_faults(self.initial_faults.model_dump(exclude_defaults=True))
        self.seed_defaults()

    # --- vendor hooks ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The vendor endpoints."""
        raise NotImplementedError

    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        """An error in the vendor's documented shape."""
        raise NotImplementedError

    async def authenticate(self, request: web.Request) -> web.Response | None:
        """None when the request may proceed, else the vendor's 401/403 answer."""
        del request
        return None

    def new_id(self, type_: str, n: int) -> str:
        """A vendor-shaped id for the ``n``-th record this simulator creates."""
        del type_
        return str(1000 + n)

    def seed_defaults(self) -> None:
        """Preload reference data the vendor always has (currencies, prices); after reset too."""

    def config(self, base_url: str) -> dict[str, str]:
        """What a connector needs to talk to this simulator: base URL plus credentials."""
        return {"base_url": base_url, **self.credentials}

    # --- control --------------------------------------------------------------------------------

    def set_faults(self, patch: dict[str, Any]) -> Faults:
        """Merge ``patch`` into the current faults; ``down_for`` starts a window from now."""
        faults = Faults.model_validate({**self.faults.model_dump(), **patch})
        if "seed" in patch or "error_rate" in patch or "timeout_rate" in patch:
            self._rng.seed(faults.seed)
        if "down_for" in patch:
            self._down_until = time.monotonic() + faults.down_for
        if faults.token_ttl is not None:
            self.tokens.ttl = faults.token_ttl
        self.faults = faults.model_copy(update={"down_for": 0.0})
        return self.faults

    def is_broken(self, external_id: object) -> bool:
        return external_id is not None and str(external_id) in self.faults.broken

    def reset(self) -> None:
        """Forget records, requests, idempotent replies and tokens; restore the start faults and
        real time."""
        self.clock.reset()
        self.store.clear()
        self.log.clear()
        self.idempotency.clear()
        self.tokens.clear()
        self.tokens.ttl = self.initial_token_ttl
        self._hits.clear()
        self._down_until = 0.0
        self.faults = Faults()
        self.release_held()
        self.set_faults(self.initial_faults.model_dump(exclude_defaults=True))
        self.seed_defaults()

    def release_held(self) -> None:
        """Let every request held by the timeout fault finish now (with a 504)."""
        self._release.set()
        self._release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.add_routes(self._sim_routes())
        app.add_routes(self.routes())
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, _app: web.Application) -> None:
        self.release_held()

    # --- the pipeline ---------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        body = await request.read()
        headers = {str(k): v for k, v in request.headers.items()}
        entry = self.log.add(request.method, request.path, request.query_string, headers, body)
        response = await self._answer(request, handler)
        entry.status = response.status if response is not None else None
        if response is None:  # the "drop" downtime mode: no answer at all
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=503)
        return response

    async def _answer(  # noqa: PLR0911 - one early answer per pipeline stage
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse | None:
        faults, now = self.faults, time.monotonic()
        if now < self._down_until:
            if faults.down_mode == "drop":
                return None
            response = self.error(503, "service_unavailable", "Service temporarily unavailable")
            response.headers["Retry-After"] = str(math.ceil(self._down_until - now))
            return response
        limited = self._rate_limited(now)
        if limited is not None:
            return limited
        if _matches(faults.match, request):
            injected = await self._inject(faults)
            if injected is not None:
                return injected
        denied = await self.authenticate(request)
        if denied is not None:
            return denied
        try:
            return await handler(request)
        except web.HTTPException as exc:  # routing misses: answer them in the vendor's shape
            if exc.status < 400:
                raise
            return self.error(exc.status, "not_found", f"{exc.reason}: {request.path}")

    def _rate_limited(self, now: float) -> web.Response | None:
        limit = self.faults.rate_limit
        if limit is None:
            return None
        while self._hits and now - self._hits[0] >= 1.0:
            self._hits.popleft()
        if len(self._hits) >= limit:
            wait = max(1, math.ceil(1.0 - (now - self._hits[0])))
            response = self.error(429, "rate_limited", "Too many requests; slow down")
            response.headers["Retry-After"] = str(wait)
            return response
        self._hits.append(now)
        return None

    async def _inject(self, faults: Faults) -> web.Response | None:
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.timeout_rate and self._rng.random() < faults.timeout_rate:
            release = self._release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), faults.timeout_hold)
            return self.error(504, "timeout", "The request timed out")
        fail = faults.fail_next > 0
        if fail:
            self.faults = faults.model_copy(update={"fail_next": faults.fail_next - 1})
        if fail or (faults.error_rate and self._rng.random() < faults.error_rate):
            return self.error(faults.error_status, "server_error", "An unexpected error occurred")
        return None

    # --- idempotency ----------------------------------------------------------------------------

    async def idempotent(
        self, key: str | None, fingerprint: str, run: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        """Run ``run`` once per key: replay its 2xx reply, refuse a key reused with other params."""
        if not key:
            return await run()
        stored = self.idempotency.get(key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return self.error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                )
            replay = web.Response(
                status=stored.status, body=stored.body, headers=dict(stored.headers)
            )
            if stored.content_type:
                replay.content_type = stored.content_type
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        if not self.idempotency.begin(key):
            return self.error(
                409, "idempotency_key_in_use", "A request with this key is still in progress"
            )
        reply = None
        try:
            response = await run()
            if 200 <= response.status < 300:
                body = response.body if isinstance(response.body, bytes) else b""
                headers = {k: v for k, v in response.headers.items() if k.lower() == "location"}
                reply = StoredReply(
                    fingerprint, response.status, body, response.content_type, headers
                )
            return response
        finally:
            self.idempotency.finish(key, reply)

    # --- the inspection API ---------------------------------------------------------------------

    def _sim_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sim/requests", self._sim_requests),
            web.get("/_sim/state", self._sim_state),
            web.get("/_sim/faults", self._sim_get_faults),
            web.post("/_sim/faults", self._sim_faults),
            web.post("/_sim/reset", self._sim_reset),
            web.post("/_sim/seed", self._sim_seed),
            web.post("/_sim/expire-tokens", self._sim_expire_tokens),
            web.post("/_sim/release", self._sim_release),
            web.get("/_sim/clock", self._sim_get_clock),
            web.post("/_sim/clock", self._sim_clock),
        ]

    async def _sim_requests(self, request: web.Request) -> web.Response:
        path = request.query.get("path")
        entries = [e.as_json() for e in self.log.entries() if path is None or path in e.path]
        return json_response({"requests": entries})

    async def _sim_state(self, _request: web.Request) -> web.Response:
        return json_response({"simulator": self.name, "records": self.store.snapshot()})

    async def _sim_get_faults(self, _request: web.Request) -> web.Response:
        down = max(0.0, self._down_until - time.monotonic())
        return json_response({**self.faults.model_dump(), "down_remaining": down})

    async def _sim_faults(self, request: web.Request) -> web.Response:
        try:
            patch = orjson.loads(await request.read() or b"{}")
            faults = self.set_faults(patch)
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(faults.model_dump())

    async def _sim_reset(self, _request: web.Request) -> web.Response:
        self.reset()
        return json_response({"reset": True})

    async def _sim_seed(self, request: web.Request) -> web.Response:
        """Preload records: ``{"records": [{"type", "external_id"?, "data", "id"?}]}``.

        Each record is upserted by external id (or by ``id``). ``id`` fixes the record's own id,
        for records the vendor keys by id alone (a Salesforce Account that a deal names by
        ``AccountId``); without it the simulator makes one up. Runs of one type go through
        :meth:`seed_many`, and only this route takes bodies up to ``MAX_SEED_BODY``.
        """
        # The app-wide limit protects the vendor endpoints; a seed of 100,000 records is bigger.
        large = request.clone(client_max_size=MAX_SEED_BODY)
        try:
            items = orjson.loads(await large.read())["records"]
            created: list[Record] = []
            for type_, run in itertools.groupby(items, key=lambda item: str(item["type"])):
                created += self.seed_many(type_, (self._seed_row(item) for item in run))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return json_response({"error": f"bad seed: {exc!r}"}, status=400)
        return json_response({"records": [r.as_json() for r in created]})

    @staticmethod
    def _seed_row(item: dict[str, Any]) -> SeedRow:
        external_id = item.get("external_id")
        data = dict(item.get("data", {}))
        return None if external_id is None else str(external_id), data, str(item.get("id") or "")

    def seed_many(self, type_: str, rows: Iterable[SeedRow]) -> list[Record]:
        """Bulk-load records of ``type_``: ``(external_id, data, id)`` rows, ``id`` "" for new.

        The fast path for large data sets (100,000 records in well under a second): rows are
        upserted like ``POST /_sim/seed`` items, and new ones get vendor-shaped ids from
        :meth:`new_id`. Call it on the simulator's event loop (``SimulatorThread.call``).
        """
        return self.store.create_many(type_, rows)

    async def _sim_expire_tokens(self, _request: web.Request) -> web.Response:
        self.tokens.expire_all()
        return json_response({"expired": True})

    async def _sim_release(self, _request: web.Request) -> web.Response:
        self.release_held()
        return json_response({"released": True})

    def _clock_json(self) -> dict[str, float]:
        return {"now": self.clock.time(), "offset": self.clock.offset}

    async def _sim_get_clock(self, _request: web.Request) -> web.Response:
        return json_response(self._clock_json())

    async def _sim_clock(self, request: web.Request) -> web.Response:
        """``{"advance": seconds}`` moves the clock forward; ``{"now": epoch}`` sets it."""
        body = await read_json(request)
        if not isinstance(body, dict) or len(body) != 1 or not body.keys() <= {"advance", "now"}:
            return json_response(
                {"error": 'send one of {"advance": seconds} or {"now": epoch seconds}'},
                status=400,
            )
        ((name, value),) = body.items()
        if isinstance(value, bool) or not isinstance(value, int | float):
            return json_response({"error": f"{name} must be a number"}, status=400)
        try:
            if name == "advance":
                self.clock.advance(value)
            else:
                self.clock.set(value)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(self._clock_json())


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _matches(match: str | None, request: web.Request) -> bool:
    """Whether a fault's ``match`` covers ``request``: none (every request), a path part, or a
    method and a path part (``POST /v1/customers``: a create, not the search beside it)."""
    if match is None:
        return True
    method, _, part = match.partition(" ")
    if part and method in _METHODS:
        return request.method == method and part in request.path_qs
    return match in request.path_qs


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer serialised with orjson."""
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or None when it is empty or not JSON."""
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
