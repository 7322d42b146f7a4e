"""The auth helpers against published vectors (not against a signer written alongside them)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from simulators._auth import (
    OAuth1Verifier,
    TokenIssuer,
    base_string_uri,
    hmac_signature,
    parse_oauth_header,
    signature_base_string,
)

# RFC 5849 section 3.4.1.1: the example request and its signature base string.
RFC_BASE = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D"
    "%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_"
    "signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
)
# Twitter's published "Creating a signature" walk-through (HMAC-SHA1).
TWITTER_URL = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
TWITTER_PARAMS = [
    ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
    ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
    ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "1318622958"),
    ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
    ("oauth_version", "1.0"),
]
TWITTER_CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
TWITTER_TOKEN_SECRET = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
TWITTER_SIGNATURE = "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_rfc5849_base_string_example() -> None:
    url = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
    params = [
        *parse_qsl("b5=%3D%253D&a3=a&c%40=&a2=r%20b", keep_blank_values=True),
        *parse_qsl("c2&a3=2+q", keep_blank_values=True),  # the form body
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]
    assert signature_base_string("POST", url, params) == RFC_BASE


def test_twitter_published_signature() -> None:
    params = [*TWITTER_PARAMS, *parse_qsl("include_entities=true")]
    base = signature_base_string("post", TWITTER_URL, params)
    signature = hmac_signature(base, TWITTER_CONSUMER_SECRET, TWITTER_TOKEN_SECRET, "HMAC-SHA1")
    assert signature == TWITTER_SIGNATURE


def test_verifier_accepts_the_published_request_and_refuses_tampering() -> None:
    now = time.time()
    verifier = OAuth1Verifier(
        realm=None,
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret=TWITTER_CONSUMER_SECRET,
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret=TWITTER_TOKEN_SECRET,
        methods=frozenset({"HMAC-SHA1"}),
        max_skew=now,  # the example is from 2011
    )
    oauth = dict(TWITTER_PARAMS[1:])
    header = "OAuth " + ", ".join(f'{k}="{v}"' for k, v in oauth.items())
    body = [TWITTER_PARAMS[0]]
    signed = f'{header}, oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"'
    assert verifier.verify("POST", TWITTER_URL, signed, body) == ""
    assert verifier.verify("POST", TWITTER_URL, signed, body) == "nonce already used"
    verifier.clear()
    tampered = signed.replace("hCtS", "hCtT")
    assert verifier.verify("POST", TWITTER_URL, tampered, body) == "signature mismatch"
    other_body = [("status", "Hello Ladies")]
    assert verifier.verify("POST", TWITTER_URL, signed, other_body) == "signature mismatch"


def test_base_string_uri_normalises_scheme_host_and_default_port() -> None:
    assert base_string_uri("HTTP://Example.COM:80/r%20v/X?id=123") == "http://example.com/r%20v/X"
    assert base_string_uri("https://www.example.net:8080/?q=1") == "https://www.example.net:8080/"


def test_parse_oauth_header_decodes_values() -> None:
    parsed = parse_oauth_header('OAuth realm="R", oauth_signature="a%2Bb%3D", oauth_nonce="n"')
    assert parsed == {"realm": "R", "oauth_signature": "a+b=", "oauth_nonce": "n"}
    assert parse_oauth_header("Bearer x") == {}


def test_token_issuer_expires_tokens() -> None:
    issuer = TokenIssuer("t_", ttl=60)
    token, ttl = issuer.issue("client")
    assert token.startswith("t_") and ttl == 60
    assert issuer.check(token) == "ok"
    assert issuer.check("t_unknown") == "invalid" and issuer.check(None) == "invalid"
    issuer.expire_all()
    assert issuer.check(token) == "expired"
