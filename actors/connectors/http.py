"""The generic outbound HTTP connector (``kind: http``).

Built on :class:`~actors.connectors._client.ResilientClient`: auth, rate limit, circuit breaker,
timeout, SSRF guards and error classification come with it. The URL is ``base_url`` + the route's
rendered ``path``; or, with ``url_from: /pointer``, a full URL read from the message body (webhook
fan-out), which must then name a host in ``allow_hosts`` and pass the connect-time address check.

Key window: a generic target's idempotency contract is unknown, so it is configured:
``key_window`` (default 24 h) is how long the target deduplicates a ``POST`` or ``PATCH`` resent
with the same ``Idempotency-Key``; ``null`` says it keeps keys for good (or upserts), ``0`` that it
keeps none. ``GET``, ``HEAD``, ``OPTIONS``, ``PUT`` and ``DELETE`` are idempotent by HTTP
semantics (RFC 9110) and safe at any age.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from pydantic import Field, field_validator
from yarl import URL

from actors.connectors._client import ClientConfig, ClientConnector, OutboundCall
from actors.connectors._windows import DAY, IDEMPOTENT_METHODS, plain_label
from router.plugin import Duration, OutboundRequest, PermanentError, Pointer, register

_URL_SAFE = "/%:@!$&'()*+,;=-._~?#[]"  # already-encoded path text passes through unchanged

__all__ = ["HTTP_WINDOWS", "HttpConnector", "HttpConnectorConfig", "tracing_headers"]

MAX_URL = 2048


class HttpConnectorConfig(ClientConfig):
    url_from: str | None = Field(
        default=None,
        description="JSON Pointer to a full target URL in the message (webhook fan-out); "
        "its host:port must be in allow_hosts. The route's path is then ignored",
    )
    key_window: Duration | None = Field(
        default=DAY,
        description="How long the target deduplicates a POST or PATCH resent with the same "
        "Idempotency-Key; older retries and replays are refused. A generic target's contract "
        "is unknown: the default, 86400 (24h), is the most common published window (Stripe's). "
        "Set the target's documented window, `null` when it keeps keys for good or upserts, `0` "
        "when it keeps none. GET, HEAD, OPTIONS, PUT, DELETE: no limit",
    )

    @field_validator("url_from")
    @classmethod
    def _pointer(cls, value: str | None) -> str | None:
        return None if value is None else Pointer(value).text


def tracing_headers(request: OutboundRequest) -> dict[str, str]:
    """The headers every connector sends: idempotency key, correlation and trace ids, attempt."""
    return {
        "Idempotency-Key": request.idempotency_key,
        "X-Correlation-ID": request.correlation_id,
        "traceparent": request.traceparent,
        "X-Interlock-Message-Id": request.message_id,
        "X-Interlock-Attempt": str(request.attempt),
    }


def url_from_message(body: bytes, pointer: Pointer) -> URL:
    """The target URL at ``pointer`` in a JSON body; a permanent error when absent or not a URL."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PermanentError("url_from: the message body is not JSON") from None
    value = pointer.resolve(document)
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise PermanentError(f"url_from: no URL string at {pointer.text}")
    try:
        url = URL(value)
    except (ValueError, TypeError):
        raise PermanentError(f"url_from: the value at {pointer.text} is not a URL") from None
    if not url.is_absolute():
        raise PermanentError(f"url_from: the value at {pointer.text} is not an absolute URL")
    return url.with_fragment(None)


class HttpConnector(ClientConnector):
    """POSTs (or any method) the message body to ``base_url + path`` or to a URL from it."""

    def __init__(
        self, name: str, config: HttpConnectorConfig, registry: CollectorRegistry | None = None
    ) -> None:
        super().__init__(name, config, registry)
        self.config = config
        self._url_from = Pointer(config.url_from) if config.url_from else None

    def target(self, request: OutboundRequest) -> URL:
        if self._url_from is not None:
            return url_from_message(request.body, self._url_from)
        try:
            # Encoded as it is: yarl would decode a data part's %2E and then drop it as a dot
            # segment (render_path encodes them so a message cannot move the request up a level).
            path = urllib.parse.quote(request.path, safe=_URL_SAFE)
            return URL(self.base_url + path, encoded=True)
        except ValueError:
            raise PermanentError("the rendered path does not make a valid URL") from None

    def key_window(self, request: OutboundRequest) -> float | None:
        """The configured window for a POST or PATCH; None for the idempotent methods."""
        if request.method.upper() in IDEMPOTENT_METHODS:
            return None
        return self.config.key_window

    async def send(self, request: OutboundRequest) -> bytes | None:
        response = await self.client.call(
            OutboundCall(
                method=request.method,
                url=self.target(request),
                body=request.body,
                operation=request.operation or request.method.lower(),
                idempotency_key=request.idempotency_key,
                content_type=request.content_type,
                headers={**tracing_headers(request), **request.headers},
                scrub=tuple(request.headers.values()),
            )
        )
        return response.body


HTTP_WINDOWS = {
    plain_label("POST, PATCH"): "the `key_window` field (default 24h: a generic target's "
    "contract is unknown; `null`: permanent, `0`: none)",
    plain_label(", ".join(IDEMPOTENT_METHODS)): "permanent (idempotent by HTTP semantics)",
}
register("connector", "http", HttpConnectorConfig, HttpConnector, key_windows=HTTP_WINDOWS)
