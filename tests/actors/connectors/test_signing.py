"""OAuth 1.0a (RFC 5849) and Standard Webhooks signatures, checked against outside references."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from yarl import URL

from actors.connectors._signing import (
    oauth1_authorization,
    oauth1_base_string,
    oauth1_signature,
    percent_encode,
    standard_webhooks_headers,
    webhook_key,
)

# RFC 5849 section 3.4.1.1, verbatim: the request and the base string it must produce.
RFC_URL = URL("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", encoded=True)
RFC_OAUTH = {
    "oauth_consumer_key": "9djdj82h48djs9d2",
    "oauth_token": "kkk9d7dh3k39sjv7",
    "oauth_signature_method": "HMAC-SHA1",
    "oauth_timestamp": "137131201",
    "oauth_nonce": "7d8f3e4a",
    "realm": "Example",
    "oauth_signature": "ignored",
}
RFC_BASE = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25"
    "253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26"
    "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k"
    "39sjv7"
)


def test_rfc5849_signature_base_string() -> None:
    form = urllib.parse.parse_qsl("c2&a3=2+q", keep_blank_values=True)
    assert oauth1_base_string("post", RFC_URL, RFC_OAUTH, form) == RFC_BASE


def test_percent_encoding_and_default_ports() -> None:
    assert percent_encode("a b+c/~é") == "a%20b%2Bc%2F~%C3%A9"
    base = oauth1_base_string("GET", URL("HTTPS://Example.COM:443/a%20b"), {})
    assert base == "GET&https%3A%2F%2Fexample.com%2Fa%2520b&"
    assert "%3A8080" in oauth1_base_string("GET", URL("http://example.com:8080/"), {})


def test_hmac_sha256_signature_is_keyed_by_both_secrets() -> None:
    one = oauth1_signature("base", "cs", "ts")
    assert one != oauth1_signature("base", "cs", "other")
    assert len(one) == 44  # base64 of 32 bytes


def test_netsuite_tba_header_verifies_with_the_simulators_independent_verifier() -> None:
    verifier_module = pytest.importorskip("simulators._auth")
    verifier = verifier_module.OAuth1Verifier(
        realm="1234567_SB1",
        consumer_key="ck",
        consumer_secret="cs&1",
        token="tok",
        token_secret="ts 2",
    )
    url = URL("http://127.0.0.1:8080/services/rest/record/v1/customer/eid:C%201?q=a%20b")
    header = oauth1_authorization(
        "PUT",
        url,
        realm="1234567_SB1",
        consumer_key="ck",
        consumer_secret="cs&1",
        token="tok",
        token_secret="ts 2",
        nonce="n1",
        timestamp=int(time.time()),
    )
    assert header.startswith('OAuth realm="1234567_SB1", oauth_consumer_key="ck"')
    assert 'oauth_signature_method="HMAC-SHA256"' in header
    assert verifier.verify("PUT", str(url), header, []) == ""
    assert verifier.verify("PUT", str(url), header, []) != ""  # the nonce cannot be replayed


def test_standard_webhooks_signature_verifies_with_the_reference_library() -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks")
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"invoice.paid","id":"evt_1"}'
    headers = standard_webhooks_headers(webhook_key(secret), "key-1", int(time.time()), body)
    assert headers["webhook-id"] == "key-1"
    assert headers["webhook-signature"].startswith("v1,")
    verified = standardwebhooks.Webhook(secret).verify(body, headers)
    assert verified == {"type": "invoice.paid", "id": "evt_1"}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body + b" ", headers)


def test_webhook_key_refuses_a_bad_secret_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="whsec_") as info:
        webhook_key("whsec_!!not-base64!!")
    assert "not-base64" not in str(info.value)
