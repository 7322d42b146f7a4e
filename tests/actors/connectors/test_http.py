"""The generic ``http`` connector against a real loopback server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from actors.connectors.http import HttpConnector, HttpConnectorConfig
from router.errors import PermanentError, TransientError
from tests.actors.connectors._support import Target, outbound
from tests.actors.connectors.conftest import OpenConnector


async def test_delivers_with_idempotency_and_trace_headers(
    http: HttpConnector, target: Target
) -> None:
    await http.send(outbound({"id": "o-1"}, path="/orders/a%2Fb", headers={"X-Route": "1"}))
    [call] = target.calls
    assert call.method == "POST" and call.raw_path == "/orders/a%2Fb"
    assert call.json() == {"id": "o-1"}
    assert call.headers["Idempotency-Key"] == "k" * 40
    assert call.headers["X-Correlation-ID"] == "corr-1"
    assert call.headers["traceparent"].startswith("00-")
    assert call.headers["X-Interlock-Attempt"] == "1"
    assert call.headers["X-Route"] == "1"
    assert call.headers["Content-Type"] == "application/json"


async def test_5xx_is_transient_with_retry_after_and_4xx_permanent_with_vendor_text(
    http: HttpConnector, target: Target
) -> None:
    target.answer(503, {"message": "maintenance"}, {"Retry-After": "3"})
    with pytest.raises(TransientError, match="HTTP 503 maintenance") as info:
        await http.send(outbound())
    assert info.value.retry_after == 3.0
    target.answer(400, [{"message": "Bad Name", "errorCode": "FIELD_INVALID"}])
    with pytest.raises(PermanentError, match=r"^HTTP 400 FIELD_INVALID: Bad Name$"):
        await http.send(outbound())


async def test_redirects_are_not_followed(http: HttpConnector, target: Target) -> None:
    target.answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    with pytest.raises(PermanentError, match="redirect not followed"):
        await http.send(outbound())
    assert [c.path for c in target.calls] == ["/hook"]


async def test_a_slow_target_times_out_as_transient(
    open_connector: OpenConnector, target: Target
) -> None:
    release = asyncio.Event()

    async def stall(_request: web.Request, _body: bytes) -> web.Response:
        await asyncio.wait_for(release.wait(), 5)
        return web.json_response({})

    target.on("/slow", stall)
    connector = await open_connector("http", base_url=target.url, timeout="100ms")
    try:
        with pytest.raises(TransientError, match=r"timed out after 0\.1s"):
            await connector.send(outbound(path="/slow"))
    finally:
        release.set()


async def test_a_refused_connection_is_transient(open_connector: OpenConnector) -> None:
    connector = await open_connector("http", base_url="http://127.0.0.1:9", timeout="1s")
    with pytest.raises(TransientError, match="connection error"):
        await connector.send(outbound())


async def test_loopback_is_refused_unless_the_config_allows_it(
    open_connector: OpenConnector, target: Target
) -> None:
    literal = await open_connector(
        "http", base_url=target.url, allow_private_networks=False, timeout="1s"
    )
    with pytest.raises(PermanentError, match=r"refused address 127\.0\.0\.1: a loopback address"):
        await literal.send(outbound())
    # A name resolving inward is caught at connect time, by the resolver.
    named = await open_connector(
        "http",
        base_url=f"http://localhost:{target.server.port}",
        allow_private_networks=False,
        timeout="1s",
    )
    with pytest.raises(PermanentError, match="refused localhost: it resolves to"):
        await named.send(outbound())
    assert target.calls == []


async def test_url_from_sends_to_allowed_hosts_only(
    open_connector: OpenConnector, target: Target
) -> None:
    port = target.server.port
    connector = await open_connector(
        "http",
        base_url="https://hooks.example.com",
        url_from="/subscriber/url",
        allow_hosts=[f"127.0.0.1:{port}"],
        allow_private_networks=True,
        timeout="1s",
    )
    await connector.send(outbound({"subscriber": {"url": f"{target.url}/in?x=1"}}))
    assert [c.path for c in target.calls] == ["/in"]
    for url, why in [
        ("http://evil.example.com/x", "not in allow_hosts"),
        ("http://169.254.169.254:80/latest", "not in allow_hosts"),
        ("file:///etc/passwd", "not an absolute URL"),
        (f"ftp://127.0.0.1:{port}/x", "scheme"),
        (f"http://user:pw@127.0.0.1:{port}/in", "user info"),
        ("/relative", "not an absolute URL"),
    ]:
        with pytest.raises(PermanentError, match=why):
            await connector.send(outbound({"subscriber": {"url": url}}))
    with pytest.raises(PermanentError, match="no URL string"):
        await connector.send(outbound({"subscriber": {}}))
    with pytest.raises(PermanentError, match="not JSON"):
        await connector.send(outbound(b"not json"))
    assert len(target.calls) == 1


async def test_url_from_still_checks_metadata_when_private_networks_are_allowed(
    open_connector: OpenConnector,
) -> None:
    connector = await open_connector(
        "http",
        base_url="https://hooks.example.com",
        url_from="/u",
        allow_hosts=["169.254.169.254:80"],
        allow_private_networks=True,
    )
    with pytest.raises(PermanentError, match="cloud metadata"):
        await connector.send(outbound({"u": "http://169.254.169.254/latest/meta-data"}))


async def test_the_breaker_opens_and_refuses_without_calling_the_target(
    open_connector: OpenConnector, target: Target
) -> None:
    connector = await open_connector(
        "http", base_url=target.url, breaker={"failures": 2, "open_for": "30s"}
    )
    for _ in range(2):
        target.answer(500)
        with pytest.raises(TransientError, match="HTTP 500"):
            await connector.send(outbound())
    with pytest.raises(TransientError, match="circuit open") as info:
        await connector.send(outbound())
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 30
    assert len(target.calls) == 2
    metrics = connector.client.metrics
    assert metrics.value("interlock_connector_circuit_state") == 2
    assert metrics.value("interlock_connector_outcomes_total", outcome="circuit_open") == 1


async def test_a_permanent_answer_does_not_count_towards_the_breaker(
    open_connector: OpenConnector, target: Target
) -> None:
    connector = await open_connector("http", base_url=target.url, breaker={"failures": 1})
    target.answer(422)
    with pytest.raises(PermanentError):
        await connector.send(outbound())
    await connector.send(outbound())
    assert len(target.calls) == 2


async def test_rate_limit_refuses_a_wait_beyond_the_timeout(
    open_connector: OpenConnector, target: Target
) -> None:
    connector = await open_connector(
        "http", base_url=target.url, timeout="1s", rate_limit={"rate_per_s": 0.01, "burst": 1}
    )
    await connector.send(outbound())
    with pytest.raises(TransientError, match="rate limit") as info:
        await connector.send(outbound())
    assert info.value.retry_after is not None and info.value.retry_after > 1
    assert len(target.calls) == 1


async def test_metrics_in_a_private_registry_or_the_engines(target: Target) -> None:
    config = HttpConnectorConfig(base_url=target.url)
    own = HttpConnector("own", config)
    shared_registry = CollectorRegistry()
    a = HttpConnector("a", config, registry=shared_registry)
    b = HttpConnector("b", config, registry=shared_registry)
    for connector in (own, a, b):
        await connector.start()
    try:
        await own.send(outbound(operation="notify"))
        await a.send(outbound())
        await b.send(outbound())
    finally:
        for connector in (own, a, b):
            await connector.close()
    assert a.collectors() == [] and b.collectors() == []
    engine_registry = CollectorRegistry()
    for collector in own.collectors():
        engine_registry.register(collector)
    labels = {"connector": "own", "operation": "notify"}
    assert engine_registry.get_sample_value("interlock_connector_calls_total", labels) == 1
    for name in ("a", "b"):
        outcome = {"connector": name, "outcome": "ok"}
        assert shared_registry.get_sample_value("interlock_connector_outcomes_total", outcome) == 1
    hist = shared_registry.get_sample_value(
        "interlock_connector_call_duration_seconds_count", {"connector": "a"}
    )
    assert hist == 1


async def test_no_log_lines_and_no_secret_on_success_or_failure(
    open_connector: OpenConnector, target: Target
) -> None:
    async def echo(request: web.Request, _body: bytes) -> web.Response:
        return web.json_response({"message": request.headers["Authorization"]}, status=400)

    target.on("/echo", echo)
    connector = await open_connector(
        "http", base_url=target.url, auth={"kind": "bearer", "token": "tok-SECRET-123"}
    )
    with capture_logs() as logs:
        await connector.send(outbound())
        with pytest.raises(PermanentError) as info:
            await connector.send(outbound(path="/echo"))
    assert target.calls[0].headers["Authorization"] == "Bearer tok-SECRET-123"
    assert "tok-SECRET-123" not in str(info.value)
    assert str(info.value) == "HTTP 400 Bearer [redacted]"
    assert "tok-SECRET-123" not in repr(logs)
    assert "tok-SECRET-123" not in repr(connector.config)
