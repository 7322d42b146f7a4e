"""Fixtures: one simulator on a loopback port plus a client session, and per-vendor signers."""

from __future__ import annotations

import secrets
import time
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

import simulators  # noqa: F401 - registers the package until actors/__init__ imports it
from simulators import Simulator, SimulatorSet, start
from simulators._auth import hmac_signature, oauth_escape, signature_base_string


@dataclass
class Harness:
    """One running simulator, a client session and the ``/_sim/`` inspection API."""

    sims: SimulatorSet
    name: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.sims.url(self.name)

    @property
    def config(self) -> dict[str, str]:
        return self.sims.config(self.name)

    @property
    def sim(self) -> Simulator:
        return self.sims.simulator(self.name)

    async def state(self) -> dict[str, list[dict[str, Any]]]:
        async with self.http.get(f"{self.url}/_sim/state") as r:
            assert r.status == 200
            records: dict[str, list[dict[str, Any]]] = (await r.json())["records"]
            return records

    async def requests(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/_sim/requests") as r:
            assert r.status == 200
            entries: list[dict[str, Any]] = (await r.json())["requests"]
            return entries

    async def faults(self, **patch: Any) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/_sim/faults", json=patch) as r:
            assert r.status == 200, await r.text()
            current: dict[str, Any] = await r.json()
            return current

    async def reset(self) -> None:
        async with self.http.post(f"{self.url}/_sim/reset") as r:
            assert r.status == 200


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness() -> AsyncIterator[HarnessFactory]:
    """``await harness("stripe", api_key=...)`` starts one simulator with those settings."""
    started: list[tuple[SimulatorSet, aiohttp.ClientSession]] = []

    async def factory(name: str, **settings: Any) -> Harness:
        sims = await start([name], settings={name: settings})
        http = aiohttp.ClientSession()
        started.append((sims, http))
        return Harness(sims, name, http)

    yield factory
    for sims, http in started:
        await http.close()
        await sims.close()


def netsuite_auth(
    method: str,
    url: str,
    config: dict[str, str],
    *,
    token_secret: str | None = None,
    nonce: str | None = None,
    timestamp: int | None = None,
    signature_method: str = "HMAC-SHA256",
) -> str:
    """An ``Authorization: OAuth`` header as NetSuite TBA clients send it (RFC 5849)."""
    oauth = {
        "oauth_consumer_key": config["consumer_key"],
        "oauth_token": config["token_id"],
        "oauth_signature_method": signature_method,
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_nonce": nonce or secrets.token_hex(10),
        "oauth_version": "1.0",
    }
    params = [*oauth.items(), *parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    base = signature_base_string(method, url, params)
    secret = config["token_secret"] if token_secret is None else token_secret
    signature = hmac_signature(base, config["consumer_secret"], secret, signature_method)
    fields = {"realm": config["account_id"], **oauth, "oauth_signature": signature}
    return "OAuth " + ", ".join(f'{k}="{oauth_escape(v)}"' for k, v in fields.items())


async def oauth2_token(h: Harness, path: str, **form: str) -> aiohttp.ClientResponse:
    """POST a client-credentials token request; the caller reads and releases the response."""
    config = h.config
    data = {
        "grant_type": "client_credentials",
        "client_id": config["client_id"],
        "client_secret": config["client_secret"],
        **form,
    }
    return await h.http.post(f"{h.url}{path}", data=data)


Reply = tuple[int, Any, dict[str, str]]
Call = Callable[[], Awaitable[Reply]]


async def reply(response: aiohttp.ClientResponse) -> Reply:
    async with response:
        body = await response.read()
        try:
            parsed: Any = await response.json(content_type=None) if body else None
        except ValueError:
            parsed = body.decode()
        return response.status, parsed, dict(response.headers)


async def valid_call(h: Harness) -> Call:
    """A closure making one authenticated, valid write to ``h``'s simulator (auth fetched now)."""
    c, url, http = h.config, h.url, h.http
    if h.name == "netsuite":
        target = f"{url}/services/rest/record/v1/customer/eid:C-1"

        async def netsuite() -> Reply:
            auth = netsuite_auth("PUT", target, c)
            return await reply(
                await http.put(target, json={"companyName": "A"}, headers={"Authorization": auth})
            )

        return netsuite
    if h.name == "dynamics":
        _, token, _ = await reply(await oauth2_token(h, f"/{c['tenant_id']}/oauth2/v2.0/token"))
        bearer = {"Authorization": f"Bearer {token['access_token']}"}

        async def dynamics() -> Reply:
            target = f"{c['api_url']}/accounts(ilk_externalid='C-1')"
            return await reply(await http.patch(target, json={"name": "A"}, headers=bearer))

        return dynamics
    if h.name == "salesforce":
        _, token, _ = await reply(await oauth2_token(h, "/services/oauth2/token"))
        bearer = {"Authorization": f"Bearer {token['access_token']}"}

        async def salesforce() -> Reply:
            target = f"{url}/services/data/v60.0/sobjects/Account/Interlock_External_Id__c/C-1"
            return await reply(await http.patch(target, json={"Name": "A"}, headers=bearer))

        return salesforce
    simple: dict[str, tuple[str, str, dict[str, str], dict[str, Any]]] = {
        "stripe": ("POST", "/v1/customers", {"Authorization": f"Bearer {c.get('api_key')}"}, {}),
        "zendesk": (
            "POST",
            "/api/v2/organizations/create_or_update.json",
            {
                "Authorization": "Basic "
                + b64encode(f"{c.get('email')}/token:{c.get('api_token')}".encode()).decode()
            },
            {"json": {"organization": {"name": "A", "external_id": "C-1"}}},
        ),
        "shopify": (
            "POST",
            "/admin/api/2024-10/inventory_levels/set.json",
            {"X-Shopify-Access-Token": c.get("access_token", "")},
            {"json": {"location_id": 1, "inventory_item_id": 2, "available": 3}},
        ),
        "webhook": ("POST", "/entitlements", {}, {"json": {"id": "E-1"}}),
    }
    method, path, headers, kwargs = simple[h.name]
    if h.name == "stripe":
        kwargs = {"data": {"email": "a@example.com"}}

    async def plain() -> Reply:
        return await reply(await http.request(method, url + path, headers=headers, **kwargs))

    return plain


def error_shape_ok(name: str, status: int, body: Any) -> bool:
    """True when ``body`` is ``name``'s documented error shape."""
    return bool(_shape(name, status, body))


def _shape(name: str, status: int, body: Any) -> Any:  # noqa: PLR0911
    match name:
        case "netsuite":
            detail = body["o:errorDetails"][0]
            return (
                body["status"] == status
                and {"detail", "o:errorCode"} <= detail.keys()
                and ({"type", "title"} <= body.keys())
            )
        case "dynamics":
            return {"code", "message"} <= body["error"].keys()
        case "stripe":
            return {"type", "code", "message", "param"} <= body["error"].keys()
        case "salesforce":
            return isinstance(body, list) and {"message", "errorCode", "fields"} <= body[0].keys()
        case "zendesk":
            return isinstance(body["error"], str) and ("description" in body or status == 401)
        case "shopify":
            return "errors" in body
        case _:
            return {"code", "message"} <= body["error"].keys()
