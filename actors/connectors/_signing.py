"""Outbound signatures: OAuth 1.0a (RFC 5849, NetSuite TBA) and Standard Webhooks.

Pure functions of their inputs (nonce and timestamp are arguments), so tests pin exact values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Literal

from yarl import URL

__all__ = [
    "oauth1_authorization",
    "oauth1_base_string",
    "oauth1_signature",
    "percent_encode",
    "standard_webhooks_headers",
    "webhook_key",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def percent_encode(value: str) -> str:
    """RFC 5849 section 3.6: UTF-8, then every byte but unreserved characters as %XX."""
    return urllib.parse.quote(value, safe="-._~")


def _base_uri(url: URL) -> str:
    scheme = url.scheme.lower()
    host = (url.raw_host or "").lower()
    port = url.explicit_port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{url.raw_path or '/'}"


def oauth1_base_string(
    method: str,
    url: URL,
    oauth_params: Mapping[str, str],
    form: Iterable[tuple[str, str]] = (),
) -> str:
    """The signature base string: method, base URI and the sorted, encoded parameters.

    Parameters are the query's, the ``oauth_*`` ones (never ``realm`` or ``oauth_signature``)
    and a form-encoded body's; each name and value is percent-encoded, then they are sorted.
    """
    query = urllib.parse.parse_qsl(url.raw_query_string, keep_blank_values=True)
    pairs = [
        (percent_encode(k), percent_encode(v))
        for k, v in [*query, *oauth_params.items(), *form]
        if k not in {"realm", "oauth_signature"}
    ]
    normalized = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    return "&".join([method.upper(), percent_encode(_base_uri(url)), percent_encode(normalized)])


def oauth1_signature(
    base_string: str,
    consumer_secret: str,
    token_secret: str,
    digest: Literal["sha1", "sha256"] = "sha256",
) -> str:
    """HMAC-SHA* of the base string under ``consumer_secret&token_secret``, base64-encoded."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    mac = hmac.new(key, base_string.encode(), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode()


def oauth1_authorization(
    method: str,
    url: URL,
    *,
    realm: str,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str,
    timestamp: int,
    form: Iterable[tuple[str, str]] = (),
) -> str:
    """The ``Authorization: OAuth ...`` header value, signed with HMAC-SHA256."""
    params = {
        "oauth_consumer_key": consumer_key,
        "oauth_token": token,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": str(timestamp),
        "oauth_nonce": nonce,
        "oauth_version": "1.0",
    }
    base = oauth1_base_string(method, url, params, form)
    params["oauth_signature"] = oauth1_signature(base, consumer_secret, token_secret)
    fields = [f'realm="{percent_encode(realm)}"'] + [
        f'{k}="{percent_encode(v)}"' for k, v in params.items()
    ]
    return "OAuth " + ", ".join(fields)


def webhook_key(secret: str) -> bytes:
    """The HMAC key in a ``whsec_<base64>`` secret; raises ValueError (never echoing it)."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError("the secret must be 'whsec_' followed by a base64 key")
    return key


def standard_webhooks_headers(
    key: bytes, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64>``."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
