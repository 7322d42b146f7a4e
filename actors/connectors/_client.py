"""The resilient HTTP client every outbound connector is built on.

One call goes through, in order: the SSRF allowlist (permanent on refusal), the rate limit (async
wait), the circuit breaker (no call while open), authentication, the HTTP call itself (its own
timeout, no redirects, no proxy from the environment, connect-time address checks), one retry with
a fresh token after a 401 when the auth kind can refresh, then classification. Every error message
is scrubbed of the connector's secrets before it leaves, so reasons and logs never hold them.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from multidict import CIMultiDictProxy
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, field_validator
from yarl import URL

from actors.connectors._auth import (
    AuthConfig,
    Authenticator,
    NoAuth,
    OAuth2ClientCredentialsAuth,
    Outgoing,
    build_authenticator,
)
from actors.connectors._breaker import CircuitBreaker
from actors.connectors._classify import classify_exception, classify_response
from actors.connectors._limits import TokenBucket
from actors.connectors._metrics import ConnectorMetrics, Outcome
from actors.connectors._ssrf import (
    AddressPolicy,
    Allowlist,
    HostPattern,
    is_loopback_host,
)
from router.plugin import DeliveryError, Duration, PermanentError, TransientError

if TYPE_CHECKING:  # aiohttp loads when a client starts: `interlock check` never needs it
    import aiohttp

__all__ = [
    "BreakerConfig",
    "ClientConfig",
    "OutboundCall",
    "RateLimitConfig",
    "ResilientClient",
    "Response",
]

MAX_BODY = 256 * 1024  # bytes of a response read at most (only error text is ever used)
MAX_PAGE = 32 * 1024 * 1024  # a batch read's page: its records are the point
# A static header value this long or longer is scrubbed from error text; shorter ones (`1`, `gzip`)
# would blank ordinary words of a reason.
MIN_SCRUBBED_HEADER = 8


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class RateLimitConfig(_Frozen):
    rate_per_s: float = Field(gt=0, description="Sustained calls per second")
    burst: int = Field(default=1, ge=1, description="Calls allowed at once after a quiet spell")


class BreakerConfig(_Frozen):
    failures: int = Field(default=5, ge=1, description="Consecutive transient failures to open")
    open_for: Duration = Field(default=30.0, description="Open this long, then one probe call")


class ClientConfig(_Frozen):
    """Fields every HTTP connector kind shares."""

    base_url: str = Field(pattern=r"^https?://[^/?#]+", description="Scheme, host and port")
    timeout: Duration = Field(default=10.0, description="Per HTTP call, connect to last byte")
    concurrency: int = Field(default=64, ge=1, le=1024, description="Calls in flight at once")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent on every call")
    auth: AuthConfig = Field(default_factory=NoAuth, description="How calls authenticate")
    rate_limit: RateLimitConfig | None = Field(default=None, description="Token bucket; none: off")
    breaker: BreakerConfig | None = Field(
        default_factory=BreakerConfig, description="Circuit breaker; `null` turns it off"
    )
    allow_hosts: list[str] = Field(
        default_factory=list, description="More `host:port` entries it may call (`*.x.com:443`)"
    )
    allow_private_networks: bool | None = Field(
        default=None,
        description="Allow private/loopback addresses; unset: loopback only when base_url is",
    )

    @field_validator("allow_hosts")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        for entry in value:
            HostPattern.parse(entry)
        return value

    def allowlist(self) -> Allowlist:
        base = URL(self.base_url)
        patterns = [HostPattern.of(base), *(HostPattern.parse(h) for h in self.allow_hosts)]
        if isinstance(self.auth, OAuth2ClientCredentialsAuth):
            patterns.append(HostPattern.of(URL(self.auth.token_url)))
        if self.allow_private_networks is None:
            policy = AddressPolicy(allow_loopback=is_loopback_host(base.host or ""))
        else:
            policy = AddressPolicy(allow_private=self.allow_private_networks)
        return Allowlist(patterns, policy)


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """One HTTP call a connector wants made (the URL already encoded)."""

    method: str
    url: URL
    body: bytes
    operation: str
    idempotency_key: str = ""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    max_body: int = MAX_BODY  # a longer answer is cut here (a page allows MAX_PAGE)
    # Static header values this call sends (a route's `to.headers`): scrubbed from its errors,
    # as the connector's own `headers:` are, so a target that echoes them leaks nothing.
    scrub: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class ResilientClient:
    """Guarded, rate-limited, circuit-broken, authenticated HTTP calls for one connector."""

    def __init__(
        self,
        name: str,
        config: ClientConfig,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self.metrics = ConnectorMetrics(name, registry)
        self.allowlist = config.allowlist()
        self.auth: Authenticator = build_authenticator(
            config.auth, self._fetch_token, self.metrics.token_refreshed, clock
        )
        limit = config.rate_limit
        self.bucket = TokenBucket(limit.rate_per_s, limit.burst, clock) if limit else None
        b = config.breaker
        self.breaker = (
            CircuitBreaker(b.failures, b.open_for, clock=clock, on_change=self.metrics.circuit)
            if b
            else None
        )
        self.call_timeout = config.timeout
        self._static = [v for v in config.headers.values() if len(v) >= MIN_SCRUBBED_HEADER]
        # The actor's deadline for a whole send: a token fetch, the call, one 401 retry.
        self.timeout_s = config.timeout * 3 + 1.0
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        import aiohttp  # noqa: PLC0415 - see the TYPE_CHECKING import

        from actors.connectors._resolver import GuardedResolver  # noqa: PLC0415 - likewise

        connector = aiohttp.TCPConnector(
            limit=self.config.concurrency,
            keepalive_timeout=30,
            resolver=GuardedResolver(self.allowlist.policy),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=self.call_timeout),
            headers=self.config.headers,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def collectors(self) -> list[Collector]:
        return self.metrics.collectors()

    async def call(self, call: OutboundCall) -> Response:
        """Make ``call``; return the 2xx response or raise a scrubbed DeliveryError."""
        try:
            return await self._call(call)
        except DeliveryError as exc:
            raise self._scrub(exc, call.scrub) from None

    async def _call(self, call: OutboundCall) -> Response:
        try:
            self.allowlist.check(call.url)
        except PermanentError:
            self.metrics.outcome("refused")
            raise
        if self.bucket is not None:
            try:
                await self.bucket.acquire(max_wait=self.call_timeout)
            except TransientError:
                self.metrics.outcome("throttled")
                raise
        if self.breaker is not None:
            try:
                self.breaker.acquire()
            except TransientError:
                self.metrics.outcome("circuit_open")
                raise
        outcome: Outcome = "transient"
        try:
            response = await self._authenticated(call)
            error = classify_response(
                response.status, response.body, response.headers.get("Retry-After")
            )
            if error is not None:
                raise error
        except PermanentError:
            outcome = "permanent"
            raise
        else:
            outcome = "ok"
            return response
        finally:
            # Any other exit (transient error, cancellation by the actor's deadline) is a failure.
            if self.breaker is not None and outcome == "transient":
                self.breaker.failure()
            elif self.breaker is not None:
                self.breaker.success()
            self.metrics.outcome(outcome)

    async def _authenticated(self, call: OutboundCall) -> Response:
        out = Outgoing(call.method, call.url, call.body, call.content_type, call.idempotency_key)
        auth_headers = await self.auth.headers(out)
        response = await self._request(call, auth_headers)
        if response.status == 401 and self.auth.refreshable:
            await self.auth.refresh(auth_headers)
            response = await self._request(call, await self.auth.headers(out))
            if response.status == 401:
                detail = classify_response(401, response.body)
                raise PermanentError(f"{detail} (again after a fresh access token)")
        return response

    async def _request(self, call: OutboundCall, auth_headers: dict[str, str]) -> Response:
        headers = {**call.headers, **auth_headers}
        if call.content_type and call.body:
            headers["Content-Type"] = call.content_type
        return await self._send(
            call.method, call.url, call.body or None, headers, call.operation, call.max_body
        )

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        headers: dict[str, str],
        operation: str,
        max_body: int = MAX_BODY,
    ) -> Response:
        import aiohttp  # noqa: PLC0415 - loaded by start(): a dictionary lookup here

        assert self._session is not None, "start() was not called"
        started = time.perf_counter()
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response:
                content = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    content += chunk
                    if len(content) > max_body:
                        if max_body != MAX_BODY:  # a page cut short would lose records
                            raise PermanentError(
                                f"{operation}: the answer is over {max_body} bytes; "
                                "ask for smaller pages (params.page_size)"
                            )
                        break
                return Response(response.status, response.headers, bytes(content[:max_body]))
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise classify_exception(exc, self.call_timeout) from None
        finally:
            self.metrics.call(operation, time.perf_counter() - started)

    async def _fetch_token(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes]:
        target = URL(url)
        self.allowlist.check(target)
        body = urllib.parse.urlencode(form).encode()
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        response = await self._send("POST", target, body, headers, "token")
        return response.status, response.body

    def _scrub(self, error: DeliveryError, static: tuple[str, ...] = ()) -> DeliveryError:
        """``error`` with every auth secret (4+ characters) and every static header value
        (:data:`MIN_SCRUBBED_HEADER`+: the connector's ``headers:``, the route's
        ``to.headers``) replaced by ``[redacted]``, longest first."""
        message = str(error)
        values = [s for s in self.auth.secret_values() if len(s) >= 4]
        values += self._static
        values += [v for v in static if len(v) >= MIN_SCRUBBED_HEADER]
        for value in sorted(set(values), key=len, reverse=True):
            message = message.replace(value, "[redacted]")
        if message == str(error):
            return error
        if isinstance(error, TransientError):
            return TransientError(message, retry_after=error.retry_after)
        return PermanentError(message)


class ClientConnector:
    """What every HTTP connector shares: its resilient client, limits and lifecycle."""

    def __init__(
        self, name: str, config: ClientConfig, registry: CollectorRegistry | None = None
    ) -> None:
        self.name = name
        self.client = ResilientClient(name, config, registry=registry)
        self.timeout_s = self.client.timeout_s
        self.concurrency = config.concurrency
        self.base_url = config.base_url.rstrip("/")

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def collectors(self) -> list[Collector]:
        """Metric collectors for the engine's registry (empty when it was given one)."""
        return self.client.collectors()
