"""Auth helpers for the simulators: bearer/basic parsing, an OAuth2 token issuer, OAuth 1.0a.

The OAuth 1.0a code follows RFC 5849 section 3.4 (signature base string, HMAC-SHA1/SHA256). It is
the *server* side: tests check it against the RFC's and a published vendor example, never against
a client signer written from the same understanding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from aiohttp import web

TokenState = Literal["ok", "expired", "invalid"]


def bearer_token(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@dataclass
class _Token:
    subject: str
    expires_at: float


class TokenIssuer:
    """Issues opaque bearer tokens that expire ``ttl`` seconds after issue (ttl may change live)."""

    def __init__(self, prefix: str, ttl: float) -> None:
        self.prefix = prefix
        self.ttl = ttl
        self._tokens: dict[str, _Token] = {}

    def issue(self, subject: str) -> tuple[str, float]:
        """A new token for ``subject`` and its lifetime in seconds."""
        token = f"{self.prefix}{secrets.token_urlsafe(24)}"
        self._tokens[token] = _Token(subject, time.monotonic() + self.ttl)
        return token, self.ttl

    def check(self, token: str | None) -> TokenState:
        issued = self._tokens.get(token or "")
        if issued is None:
            return "invalid"
        return "ok" if time.monotonic() < issued.expires_at else "expired"

    def expire_all(self) -> None:
        for issued in self._tokens.values():
            issued.expires_at = 0.0

    def clear(self) -> None:
        self._tokens.clear()


# --- OAuth 1.0a (RFC 5849) -------------------------------------------------------------------


def oauth_escape(value: str) -> str:
    """RFC 5849 section 3.6: percent-encode everything but the unreserved characters."""
    return quote(value.encode(), safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 section 3.4.1.2: scheme and host lower-cased, default port dropped, no query."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{scheme}://{host}{port}{parts.path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1.3.2: encode, sort by name then value, join with ``=`` and ``&``."""
    encoded = sorted((oauth_escape(k), oauth_escape(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: ``METHOD&uri&params``; ``params`` excludes oauth_signature/realm."""
    return "&".join(
        (
            method.upper(),
            oauth_escape(base_string_uri(url)),
            oauth_escape(normalized_parameters(params)),
        )
    )


def hmac_signature(base_string: str, consumer_secret: str, token_secret: str, method: str) -> str:
    """RFC 5849 section 3.4.2 with SHA-1 or (NetSuite) SHA-256; the result is base64."""
    digest = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}[method]
    key = f"{oauth_escape(consumer_secret)}&{oauth_escape(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), digest).digest()).decode()


def parse_oauth_header(header: str) -> dict[str, str]:
    """The parameters of an ``Authorization: OAuth k="v", ...`` header, percent-decoded."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        return {}
    params: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            params[unquote(name.strip())] = unquote(value.strip().strip('"'))
    return params


class OAuth1Verifier:
    """Verifies OAuth 1.0a signed requests for one consumer and one access token."""

    def __init__(
        self,
        *,
        realm: str | None,
        consumer_key: str,
        consumer_secret: str,
        token: str,
        token_secret: str,
        methods: frozenset[str] = frozenset({"HMAC-SHA256"}),
        max_skew: float = 300.0,
    ) -> None:
        self.realm = realm
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.token, self.token_secret = token, token_secret
        self.methods = methods
        self.max_skew = max_skew
        self._nonces: dict[str, float] = {}

    def verify(self, method: str, url: str, header: str, body_params: list[tuple[str, str]]) -> str:
        """An empty string when the request verifies, else the reason it does not."""
        oauth = parse_oauth_header(header)
        if not oauth:
            return "missing OAuth Authorization header"
        problem = self._check_fields(oauth)
        if problem:
            return problem
        query = urlsplit(url).query
        params = [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
        params += parse_qsl(query, keep_blank_values=True) + body_params
        base = signature_base_string(method, url, params)
        expected = hmac_signature(
            base, self.consumer_secret, self.token_secret, oauth["oauth_signature_method"]
        )
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return "signature mismatch"
        return self._use_nonce(oauth["oauth_nonce"])

    def _check_fields(self, oauth: dict[str, str]) -> str:  # noqa: PLR0911 - one per check
        if self.realm is not None and oauth.get("realm", "").upper() != self.realm.upper():
            return "wrong realm"
        if oauth.get("oauth_consumer_key") != self.consumer_key:
            return "unknown consumer key"
        if oauth.get("oauth_token") != self.token:
            return "unknown token"
        if oauth.get("oauth_signature_method") not in self.methods:
            return "unsupported signature method"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return "unsupported oauth_version"
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return "bad oauth_timestamp"
        if abs(time.time() - stamp) > self.max_skew:
            return "oauth_timestamp out of range"
        if not oauth.get("oauth_nonce"):
            return "missing oauth_nonce"
        return ""

    def _use_nonce(self, nonce: str) -> str:
        now = time.time()
        if len(self._nonces) > 10_000:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < 2 * self.max_skew}
        if nonce in self._nonces:
            return "nonce already used"
        self._nonces[nonce] = now
        return ""

    def clear(self) -> None:
        self._nonces.clear()
