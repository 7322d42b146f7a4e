"""Outbound authentication: the ``auth: {kind: ...}`` union and what each kind adds to a call.

Kinds: ``none``, ``bearer``, ``basic``, ``api-key``, ``oauth2-client-credentials`` (token cached
until shortly before ``expires_in``, fetched again once after a 401), ``netsuite-tba`` (OAuth 1.0a
HMAC-SHA256, a fresh nonce and timestamp per call) and ``standard-webhooks`` (outbound signing).
Every secret is a :data:`~actors.connectors._secrets.Secret`; :meth:`Authenticator.secret_values`
lists them (the current access token included) so the client can scrub them from every reason.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from yarl import URL

from actors.connectors._classify import classify_response
from actors.connectors._secrets import Secret
from actors.connectors._signing import (
    oauth1_authorization,
    standard_webhooks_headers,
    webhook_key,
)
from router.plugin import DeliveryError, Duration, PermanentError, TransientError

__all__ = [
    "ApiKeyAuth",
    "AuthConfig",
    "Authenticator",
    "BasicAuth",
    "BearerAuth",
    "NetSuiteTbaAuth",
    "NoAuth",
    "OAuth2ClientCredentialsAuth",
    "Outgoing",
    "StandardWebhooksAuth",
    "TokenFetch",
    "build_authenticator",
]

FORM = "application/x-www-form-urlencoded"


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class NoAuth(_Auth):
    kind: Literal["none"] = "none"


class BearerAuth(_Auth):
    kind: Literal["bearer"]
    token: Secret = Field(description="Sent as `Authorization: Bearer <token>`")


class BasicAuth(_Auth):
    kind: Literal["basic"]
    username: str = Field(min_length=1)
    password: Secret


class ApiKeyAuth(_Auth):
    kind: Literal["api-key"]
    header: str = Field(default="X-API-Key", pattern=r"^[A-Za-z0-9-]+$", description="Header name")
    value: Secret
    prefix: str = Field(default="", description="Written before the key, e.g. `Token `")


class OAuth2ClientCredentialsAuth(_Auth):
    kind: Literal["oauth2-client-credentials"]
    token_url: str = Field(pattern=r"^https?://", description="Its host:port is allowed too")
    client_id: str = Field(min_length=1)
    client_secret: Secret
    scope: str | None = Field(
        default=None, description="e.g. `https://org.crm.dynamics.com/.default`"
    )
    resource: str | None = Field(default=None, description="Azure AD v1 / ADFS `resource`")
    audience: str | None = Field(default=None, description="Auth0-style `audience`")
    client_auth: Literal["body", "basic"] = Field(
        default="body", description="Client id and secret in the form body, or HTTP Basic"
    )
    refresh_margin: Duration = Field(default=60.0, description="Refresh this long before expiry")


class NetSuiteTbaAuth(_Auth):
    kind: Literal["netsuite-tba"]
    account_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]+$", description="The realm, e.g. `1234567_SB1`"
    )
    consumer_key: Secret
    consumer_secret: Secret
    token_id: Secret
    token_secret: Secret


class StandardWebhooksAuth(_Auth):
    kind: Literal["standard-webhooks"]
    secret: Secret = Field(description="`whsec_<base64 key>`")

    @field_validator("secret")
    @classmethod
    def _base64_key(cls, value: object) -> object:
        webhook_key(getattr(value, "get_secret_value", str)())
        return value


AuthConfig = Annotated[
    NoAuth
    | BearerAuth
    | BasicAuth
    | ApiKeyAuth
    | OAuth2ClientCredentialsAuth
    | NetSuiteTbaAuth
    | StandardWebhooksAuth,
    Field(discriminator="kind"),
]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What an authenticator may look at to sign one call."""

    method: str
    url: URL
    body: bytes
    content_type: str | None
    idempotency_key: str


TokenFetch = Callable[[str, dict[str, str], dict[str, str]], Awaitable[tuple[int, bytes]]]
"""``fetch(url, form, headers) -> (status, body)``: a form POST through the guarded client."""


class Authenticator(Protocol):
    refreshable: bool

    async def headers(self, call: Outgoing) -> dict[str, str]:
        """The headers that authenticate ``call``."""

    async def refresh(self, used: Mapping[str, str]) -> None:
        """After a 401: drop the credential ``used`` and get a fresh one (refreshable kinds)."""

    def secret_values(self) -> list[str]:
        """Every secret string that must never appear in a log line or a reason."""


class _Static:
    refreshable = False

    def __init__(self, headers: dict[str, str], secret_values: list[str]) -> None:
        self._headers = headers
        self._secrets = secret_values

    async def headers(self, call: Outgoing) -> dict[str, str]:  # noqa: ARG002 - same for every call
        return self._headers

    async def refresh(self, used: Mapping[str, str]) -> None:  # noqa: ARG002 - nothing to renew
        return None

    def secret_values(self) -> list[str]:
        return self._secrets


class _OAuth2:
    refreshable = True

    def __init__(
        self,
        config: OAuth2ClientCredentialsAuth,
        fetch: TokenFetch,
        on_refresh: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fetch = fetch
        self._on_refresh = on_refresh
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at

    async def headers(self, call: Outgoing) -> dict[str, str]:  # noqa: ARG002 - same for every call
        if not self._valid():
            async with self._lock:
                if not self._valid():
                    await self._get_token()
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self, used: Mapping[str, str]) -> None:
        async with self._lock:
            if used.get("Authorization") == f"Bearer {self._token}" or not self._valid():
                self._token = None
                await self._get_token()

    async def _get_token(self) -> None:
        c = self.config
        secret = c.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        form.update(
            {
                k: v
                for k, v in [("scope", c.scope), ("resource", c.resource), ("audience", c.audience)]
                if v
            }
        )
        headers = {"Accept": "application/json"}
        if c.client_auth == "basic":
            pair = f"{urllib.parse.quote(c.client_id)}:{urllib.parse.quote(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=c.client_id, client_secret=secret)
        status, body = await self._fetch(c.token_url, form, headers)
        error = classify_response(status, body)
        if error is not None:
            raise _prefixed(error, "token endpoint ")
        try:
            doc = orjson.loads(body)
            token = doc["access_token"]
            expires_in = float(doc.get("expires_in", 300))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise TransientError("token endpoint answered without an access_token") from None
        if not isinstance(token, str) or not token:
            raise TransientError("token endpoint answered without an access_token")
        margin = min(c.refresh_margin, expires_in / 2)
        self._token = token
        self._expires_at = self._clock() + max(0.0, expires_in - margin)
        self._on_refresh()

    def secret_values(self) -> list[str]:
        found = [self.config.client_secret.get_secret_value()]
        return [*found, self._token] if self._token else found


class _NetSuiteTba:
    refreshable = False

    def __init__(self, config: NetSuiteTbaAuth) -> None:
        self.config = config

    async def headers(self, call: Outgoing) -> dict[str, str]:
        c = self.config
        form: list[tuple[str, str]] = []
        if call.content_type and call.content_type.startswith(FORM):
            form = urllib.parse.parse_qsl(
                call.body.decode("utf-8", "replace"), keep_blank_values=True
            )
        header = oauth1_authorization(
            call.method,
            call.url,
            realm=c.account_id.upper().replace("-", "_"),
            consumer_key=c.consumer_key.get_secret_value(),
            consumer_secret=c.consumer_secret.get_secret_value(),
            token=c.token_id.get_secret_value(),
            token_secret=c.token_secret.get_secret_value(),
            nonce=secrets.token_hex(16),
            timestamp=int(time.time()),
            form=form,
        )
        return {"Authorization": header}

    async def refresh(self, used: Mapping[str, str]) -> None:  # noqa: ARG002 - nothing to renew
        return None

    def secret_values(self) -> list[str]:
        c = self.config
        return [s.get_secret_value() for s in (c.consumer_secret, c.token_secret, c.token_id)]


class _WebhookSigner:
    refreshable = False

    def __init__(self, config: StandardWebhooksAuth) -> None:
        self._secret = config.secret.get_secret_value()
        self._key = webhook_key(self._secret)

    async def headers(self, call: Outgoing) -> dict[str, str]:
        return standard_webhooks_headers(
            self._key, call.idempotency_key, int(time.time()), call.body
        )

    async def refresh(self, used: Mapping[str, str]) -> None:  # noqa: ARG002 - nothing to renew
        return None

    def secret_values(self) -> list[str]:
        return [self._secret, self._secret.removeprefix("whsec_")]


def _prefixed(error: DeliveryError, prefix: str) -> DeliveryError:
    if isinstance(error, TransientError):
        return TransientError(prefix + str(error), retry_after=error.retry_after)
    return PermanentError(prefix + str(error))


def build_authenticator(  # noqa: PLR0911 - one return per auth kind
    config: AuthConfig,
    fetch: TokenFetch,
    on_refresh: Callable[[], None],
    clock: Callable[[], float] = time.monotonic,
) -> Authenticator:
    """The runtime authenticator for an ``auth:`` config."""
    match config:
        case BearerAuth(token=token):
            value = token.get_secret_value()
            return _Static({"Authorization": f"Bearer {value}"}, [value])
        case BasicAuth(username=user, password=password):
            raw = f"{user}:{password.get_secret_value()}".encode()
            encoded = base64.b64encode(raw).decode()
            return _Static(
                {"Authorization": f"Basic {encoded}"}, [password.get_secret_value(), encoded]
            )
        case ApiKeyAuth(header=header, value=value, prefix=prefix):
            key = value.get_secret_value()
            return _Static({header: prefix + key}, [key])
        case OAuth2ClientCredentialsAuth():
            return _OAuth2(config, fetch, on_refresh, clock)
        case NetSuiteTbaAuth():
            return _NetSuiteTba(config)
        case StandardWebhooksAuth():
            return _WebhookSigner(config)
        case _:
            return _Static({}, [])
