"""The generic outbound HTTP connector (``kind: http``).

Calls run on the engine's event loop through one keep-alive ``ClientSession`` per connector.
Redirects are never followed and the environment's proxy settings are ignored (``trust_env`` off),
so a target cannot bounce a delivery somewhere the config did not name.
"""

from __future__ import annotations

import email.utils
import time

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from router.connector import OutboundRequest
from router.durations import Duration
from router.errors import PermanentError, TransientError
from router.registry import register_connector

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ERROR_SNIPPET = 300


class HttpConnectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        pattern=r"^https?://", description="Scheme, host and port; paths come from routes"
    )
    timeout: Duration = Field(default=10.0, description="Per call, connect to last byte")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent on every call (auth ...)"
    )
    concurrency: int = Field(default=64, ge=1, le=1024, description="Calls in flight at once")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse Retry-After as delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def classify(status: int, retry_after: str | None, body: str) -> None:
    """Raise the DeliveryError a response status means; return for 2xx."""
    if 200 <= status < 300:
        return
    snippet = body[:ERROR_SNIPPET]
    if status in TRANSIENT_STATUS or status >= 502:
        raise TransientError(
            f"HTTP {status}: {snippet}", retry_after=retry_after_seconds(retry_after)
        )
    if 300 <= status < 400:
        raise PermanentError(f"HTTP {status}: redirect not followed")
    raise PermanentError(f"HTTP {status}: {snippet}")


class HttpConnector:
    def __init__(self, name: str, config: HttpConnectorConfig) -> None:
        self.name = name
        self.config = config
        self.timeout_s = config.timeout
        self.concurrency = config.concurrency
        self.base_url = config.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers=self.config.headers,
        )

    async def send(self, request: OutboundRequest) -> None:
        assert self._session is not None, "start() was not called"
        headers = {
            "Content-Type": request.content_type,
            "Idempotency-Key": request.idempotency_key,
            "X-Correlation-ID": request.correlation_id,
            "traceparent": request.traceparent,
            "X-Interlock-Message-Id": request.message_id,
            "X-Interlock-Attempt": str(request.attempt),
            **request.headers,
        }
        try:
            async with self._session.request(
                request.method,
                self.base_url + request.path,
                data=request.body,
                headers=headers,
                allow_redirects=False,
            ) as response:
                text = await response.text(errors="replace")
                classify(response.status, response.headers.get("Retry-After"), text)
        except aiohttp.ClientError as exc:
            raise TransientError(f"connection error: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


register_connector("http", HttpConnectorConfig, HttpConnector)
