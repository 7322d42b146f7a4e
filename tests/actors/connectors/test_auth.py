"""Auth kinds on the wire, OAuth 2.0 token caching and refresh, and secrets kept out of reasons."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
import standardwebhooks
from aiohttp import web
from structlog.testing import capture_logs
from yarl import URL

from actors.connectors._client import ClientConfig, OutboundCall, ResilientClient
from router.errors import DeliveryError, PermanentError, TransientError
from tests.actors.connectors._support import FakeClock, Target, outbound
from tests.actors.connectors.conftest import OpenConnector

SECRET = "client-SECRET-value"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class TokenServer:
    """An OAuth 2.0 token endpoint and an API that accepts only the tokens it says are valid."""

    def __init__(self, target: Target, expires_in: int = 3600) -> None:
        self.target = target
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.token_status = 200
        target.on("/token", self.token)
        target.on("/api", self.api)

    async def token(self, request: web.Request, body: bytes) -> web.Response:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.update(client_id=client_id, client_secret=urllib.parse.unquote(secret))
        if self.token_status != 200:
            return web.json_response({"error": "temporarily_unavailable"}, status=self.token_status)
        if form.get("client_secret") != SECRET or form.get("grant_type") != "client_credentials":
            detail = {"error": "invalid_client", "error_description": f"bad {form}"}
            return web.json_response(detail, status=401)
        token = f"at-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def api(self, request: web.Request, _body: bytes) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid:
            return web.json_response({"error": {"code": "401", "message": "token"}}, status=401)
        return web.json_response({"ok": True})

    def api_tokens(self) -> list[str]:
        return [c.headers["Authorization"] for c in self.target.hits("/api")]


def oauth(target: Target, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "oauth2-client-credentials",
        "token_url": f"{target.url}/token",
        "client_id": "cid",
        "client_secret": SECRET,
        **extra,
    }


@pytest.fixture
async def clocked(target: Target) -> AsyncIterator[tuple[ResilientClient, FakeClock]]:
    clock = FakeClock()
    config = ClientConfig.model_validate({"base_url": target.url, "auth": oauth(target)})
    client = ResilientClient("erp", config, clock=clock)
    await client.start()
    yield client, clock
    await client.close()


def api_call(target: Target) -> OutboundCall:
    return OutboundCall("POST", URL(f"{target.url}/api"), b"{}", "op", "key-1")


def assert_clean(logs: list[MutableMapping[str, Any]], *texts: str) -> None:
    for text in (SECRET, *texts):
        assert text not in repr(logs)


async def test_token_is_fetched_once_and_reused_until_shortly_before_expiry(
    target: Target, clocked: tuple[ResilientClient, FakeClock]
) -> None:
    server = TokenServer(target, expires_in=120)
    client, clock = clocked
    with capture_logs() as logs:
        for _ in range(3):
            await client.call(api_call(target))
        clock.advance(59)
        await client.call(api_call(target))
        clock.advance(2)  # past expires_in - refresh_margin (60 s)
        await client.call(api_call(target))
    assert server.issued == ["at-1", "at-2"]
    assert server.api_tokens() == ["Bearer at-1"] * 4 + ["Bearer at-2"]
    assert client.metrics.value("interlock_connector_token_refreshes_total") == 2
    assert_clean(logs, "at-1", "at-2")


async def test_a_401_refreshes_the_token_once_and_retries(
    target: Target, clocked: tuple[ResilientClient, FakeClock]
) -> None:
    server = TokenServer(target)
    client, _ = clocked
    await client.call(api_call(target))
    server.valid.clear()  # the vendor revoked it early
    with capture_logs() as logs:
        await client.call(api_call(target))
    assert server.api_tokens() == ["Bearer at-1", "Bearer at-1", "Bearer at-2"]
    assert_clean(logs, "at-1", "at-2")


async def test_a_second_401_is_permanent_and_names_no_secret(
    target: Target, clocked: tuple[ResilientClient, FakeClock]
) -> None:
    server = TokenServer(target)
    client, _ = clocked

    async def always_401(request: web.Request, _body: bytes) -> web.Response:
        token = request.headers["Authorization"]
        return web.json_response({"message": f"rejected {token}"}, status=401)

    target.on("/api", always_401)
    with capture_logs() as logs, pytest.raises(PermanentError) as info:
        await client.call(api_call(target))
    assert "again after a fresh access token" in str(info.value)
    assert "at-2" not in str(info.value) and "[redacted]" in str(info.value)
    assert len(target.hits("/api")) == 2 and server.issued == ["at-1", "at-2"]
    assert_clean(logs, "at-1", "at-2")


async def test_token_endpoint_errors_are_classified_and_scrubbed(
    open_connector: OpenConnector, target: Target
) -> None:
    server = TokenServer(target)
    bad = await open_connector(
        "http", base_url=target.url, auth=oauth(target, client_secret="wrong-SECRET-x")
    )
    with capture_logs() as logs, pytest.raises(PermanentError) as info:
        await bad.send(outbound(path="/api"))
    assert str(info.value).startswith("token endpoint HTTP 401 invalid_client: bad")
    assert "wrong-SECRET-x" not in str(info.value)
    server.token_status = 503
    good = await open_connector("http", base_url=target.url, auth=oauth(target))
    with pytest.raises(TransientError, match="token endpoint HTTP 503"):
        await good.send(outbound(path="/api"))
    assert target.hits("/api") == []
    assert_clean(logs, "wrong-SECRET-x")


async def test_client_credentials_in_basic_auth(
    open_connector: OpenConnector, target: Target
) -> None:
    server = TokenServer(target)
    connector = await open_connector(
        "http", base_url=target.url, auth=oauth(target, client_auth="basic", scope="api/.default")
    )
    await connector.send(outbound(path="/api"))
    [fetch] = target.hits("/token")
    assert fetch.headers["Authorization"].startswith("Basic ")
    assert urllib.parse.parse_qs(fetch.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["api/.default"],
    }
    assert server.issued == ["at-1"]


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"kind": "bearer", "token": "b-SECRET"}, "Authorization", "Bearer b-SECRET"),
        (
            {"kind": "basic", "username": "u", "password": "p-SECRET"},
            "Authorization",
            "Basic " + base64.b64encode(b"u:p-SECRET").decode(),
        ),
        (
            {"kind": "api-key", "header": "X-Shopify-Access-Token", "value": "k-SECRET"},
            "X-Shopify-Access-Token",
            "k-SECRET",
        ),
    ],
)
async def test_static_auth_headers_and_their_secrets_stay_out_of_reasons(
    open_connector: OpenConnector,
    target: Target,
    auth: dict[str, str],
    header: str,
    value: str,
) -> None:
    async def echo(request: web.Request, _body: bytes) -> web.Response:
        return web.Response(status=500, text=f"saw {request.headers.get(header)}")

    target.on("/echo", echo)
    connector = await open_connector("http", base_url=target.url, auth=auth)
    with capture_logs() as logs:
        await connector.send(outbound())
        with pytest.raises(DeliveryError) as info:
            await connector.send(outbound(path="/echo"))
    assert target.calls[0].headers[header] == value
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(logs)
    assert "SECRET" not in repr(connector.config)


async def test_standard_webhooks_signing_verifies_at_the_receiver(
    open_connector: OpenConnector, target: Target
) -> None:
    connector = await open_connector(
        "http", base_url=target.url, auth={"kind": "standard-webhooks", "secret": WHSEC}
    )
    await connector.send(outbound({"event": "paid"}, key="idem-42"))
    [call] = target.calls
    assert call.headers["webhook-id"] == "idem-42"
    payload = standardwebhooks.Webhook(WHSEC).verify(call.body, call.headers)
    assert payload == {"event": "paid"}


def test_auth_configs_refuse_bad_values_without_echoing_secrets() -> None:
    with pytest.raises(ValueError, match="whsec_") as info:
        ClientConfig.model_validate(
            {
                "base_url": "https://x.example",
                "auth": {"kind": "standard-webhooks", "secret": "zz!"},
            }
        )
    assert "zz!" not in str(info.value)
    with pytest.raises(ValueError, match="kind"):
        ClientConfig.model_validate({"base_url": "https://x.example", "auth": {"kind": "magic"}})
