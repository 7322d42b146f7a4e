"""Hypothesis against every ingress: whatever arrives, the answer is a 4xx problem or a 2xx.

The targets are ``/webhooks/{source}`` for each verification scheme and ``/events`` in binary,
structured and batch mode, served as ``interlock run`` serves them (HardenedAppRunner) by one
server for the module. Inputs are random bytes, valid JSON with bytes flipped, cut or inserted,
validly signed junk (so that the parser, not the verifier, is what answers) and random headers,
written on raw sockets so that nothing is cleaned up on the way.

For every example: the status is below 500, an error is ``application/problem+json`` with its
status in the body, and nothing was logged at error level (structlog or aiohttp's own logger).

``INTERLOCK_FUZZ_EXAMPLES`` is the number of examples per ingress type (11 types), split evenly
between that type's strategies (240 by default: 2,640 in all); ``make fuzz`` sets 10000. Each test
fails if hypothesis returned before running its share.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import orjson
import pykka
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.support.aiohttp_logs import AiohttpErrors
from tests.support.ingress_http import PROBLEM, Header, RawResponse, build_request, exchange
from tests.support.ingress_routes import CLOUDEVENTS_SOURCE, SCHEMES
from tests.support.ingress_server import IngressServer, ingress_over_sink
from tests.support.ingress_signing import signed_headers

PER_TYPE = int(os.environ.get("INTERLOCK_FUZZ_EXAMPLES", "240"))
WEBHOOK_STRATEGIES = 4  # random bytes, mutated JSON, signed junk, random headers
EVENT_STRATEGIES = 3  # random bytes, mutated JSON, random headers
MODES = ("binary", "structured", "batch")
WEBHOOK_EXAMPLES = max(1, PER_TYPE // WEBHOOK_STRATEGIES)
EVENT_EXAMPLES = max(1, PER_TYPE // EVENT_STRATEGIES)
RAN: Counter[str] = Counter()  # examples run, per test
_Test = TypeVar("_Test", bound=Callable[..., None])


def full_share(share: int) -> Callable[[_Test], _Test]:
    """Fail a fuzz test that passed on fewer examples than its share of the budget.

    Hypothesis stops early on its own (a strategy it thinks exhausted, too many filtered
    draws); a fuzz test that quietly ran 3 examples would still pass, so each one counts the
    requests it sent and checks the count once hypothesis has returned.
    """

    def wrap(test: _Test) -> _Test:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            before = RAN.total()
            test(*args, **kwargs)
            ran = RAN.total() - before
            assert ran >= share, f"{test.__name__} ran {ran} examples; its share is {share}"

        return cast(_Test, run)

    return wrap


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no example database written into the working tree
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- the server, and what it logged ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _stop_all_actors() -> None:
    """Replaces conftest's: the module's server keeps its actors between tests, then stops them."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngressServer]:
    try:
        with ingress_over_sink(tmp_path_factory.mktemp("fuzz")) as ingress:
            yield ingress
    finally:
        pykka.ActorRegistry.stop_all()


def _settle(server: IngressServer) -> None:
    """Two round trips through the server's loop: whatever the request started has run."""
    for _ in range(2):
        server.run(asyncio.sleep(0), timeout=5)


def send(
    server: IngressServer,
    errors: AiohttpErrors,
    test: str,
    path: str,
    headers: list[Header],
    body: bytes,
) -> RawResponse:
    """One request; assert the invariants of every answer. Returns the response."""
    RAN[test] += 1
    errors.records.clear()
    with capture_logs() as logs:
        response = exchange(server.port, build_request("POST", path, headers, body), timeout=15)
        _settle(server)
    _check(response, logs, errors, f"POST {path} headers={headers!r} body={body[:300]!r}")
    return response


def _check(response: RawResponse, logs: list[Any], errors: AiohttpErrors, sent: str) -> None:
    """The invariants of every answer; ``sent`` (the request) goes into every message."""
    assert response.status < 500, (response.status, response.body[:300], sent)
    if response.status >= 400:
        assert response.content_type == PROBLEM, (response.headers, sent)
        assert response.json()["status"] == response.status, sent
    else:
        assert response.status in (200, 202), (response.status, sent)
        assert response.content_type == "application/json", sent
    logged = [e for e in logs if e.get("log_level") in ("error", "critical")]
    assert not logged, (logged, sent)
    assert not [e for e in logs if e.get("event") == "unhandled_error"], sent
    assert not errors.records, ([r.getMessage() for r in errors.records], response.status, sent)


# -- strategies ----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)
event_types = st.sampled_from(["invoice.paid", "order.created", "push", "x"]) | st.text(max_size=8)


@st.composite
def webhook_documents(draw: st.DrawFn) -> bytes:
    doc = {"id": draw(ids), "type": draw(event_types), "data": draw(json_values)}
    return orjson.dumps(doc)


@st.composite
def cloudevent_documents(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(ids),
        "source": draw(st.sampled_from(["/billing", "urn:x:y", "https://a.example/b"])),
        "type": draw(event_types),
    }
    if draw(st.booleans()):
        event["time"] = draw(st.sampled_from(["2026-01-02T03:04:05Z", "2026-13-01T00:00:00Z"]))
    if draw(st.booleans()):
        event["datacontenttype"] = draw(st.sampled_from(["application/json", "text/plain", "x"]))
    if draw(st.booleans()):
        event["data"] = draw(json_values)
    elif draw(st.booleans()):
        event["data_base64"] = draw(st.sampled_from(["aGVsbG8=", "not base64!", ""]))
    extension = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=22))
    if draw(st.booleans()):
        event[extension] = draw(json_values)
    return event


# Fragments that have broken JSON parsers: nesting, surrogates, NaN, huge numbers, BOM, NUL.
SPICE = (
    b"[" * 2000,
    b'"\\ud800"',
    b"NaN",
    b"-Infinity",
    b"1e999999",
    b"123456789012345678901234567890",
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xc3\x28",
    b'"\\u0000"',
    b"{}" * 10,
)


@st.composite
def mutated(draw: st.DrawFn, document: bytes) -> bytes:
    """``document`` with 1-4 byte-level mutations: flips, cuts, insertions, deletions, copies."""
    data = bytearray(document)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(SPICE))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


junk_bodies = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(SPICE),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(SPICE), max_size=6).map(b"".join),
)

# Names the framing depends on stay ours: a random Content-Length would only make the server
# wait for a body that never comes.
FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "upgrade", "host"})
token_names = st.text(
    st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+.^_`|~-"
    ),
    min_size=1,
    max_size=24,
).filter(lambda n: n.lower() not in FRAMING)
# Any byte but CR and LF: obs-text, NUL and other controls included.
header_values = st.one_of(
    st.binary(max_size=64).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from(
        [b"", b" ", b"\xff", b"\xc3\xa9", b"x" * 9000, b"1.0", b"t=1,v1=", b"v1,", b"sha256="]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.encode),
    # obs-text: bytes that are not UTF-8 reach the application as lone surrogates.
    st.binary(min_size=1, max_size=8).map(lambda b: bytes(x | 0x80 for x in b)),
)
KNOWN_NAMES = (
    "Content-Type",
    "Content-Encoding",
    "Stripe-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
    "X-GitHub-Event",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Topic",
    "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp",
    "X-Acme-Signature",
    "X-Acme-Timestamp",
    "X-Acme-Delivery",
    "Authorization",
    "traceparent",
    "X-Correlation-Id",
    "X-Request-Id",
    "User-Agent",
    "ce-specversion",
    "ce-id",
    "ce-source",
    "ce-type",
    "ce-time",
    "ce-subject",
    "ce-datacontenttype",
    "ce-traceparent",
    "WebHook-Request-Origin",
)
header_names = st.one_of(
    st.sampled_from(KNOWN_NAMES),
    st.sampled_from(KNOWN_NAMES).map(str.swapcase),
    token_names,
    token_names.map(lambda n: "ce-" + n),
)
random_headers = st.lists(st.tuples(header_names, header_values), max_size=12)
content_encodings = st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "gzip, br"])


def _headers(values: dict[str, str]) -> list[Header]:
    return list(values.items())


# -- webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@full_share(WEBHOOK_EXAMPLES)
@fuzz(WEBHOOK_EXAMPLES)
@given(body=junk_bodies, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_webhook_random_bytes(
    server: IngressServer,
    aiohttp_errors: AiohttpErrors,
    scheme: str,
    body: bytes,
    content_type: str,
) -> None:
    headers: list[Header] = [("Content-Type", content_type)] if content_type else []
    send(server, aiohttp_errors, f"bytes-{scheme}", f"/webhooks/{scheme}", headers, body)


@pytest.mark.parametrize("scheme", SCHEMES)
@full_share(WEBHOOK_EXAMPLES)
@fuzz(WEBHOOK_EXAMPLES)
@given(data=st.data())
def test_webhook_mutated_json_signed(
    server: IngressServer, aiohttp_errors: AiohttpErrors, scheme: str, data: st.DataObject
) -> None:
    body = data.draw(webhook_documents().flatmap(mutated))
    headers = signed_headers(scheme, body, delivery=data.draw(ids))
    send(
        server, aiohttp_errors, f"mutated-{scheme}", f"/webhooks/{scheme}", _headers(headers), body
    )


@pytest.mark.parametrize("scheme", SCHEMES)
@full_share(WEBHOOK_EXAMPLES)
@fuzz(WEBHOOK_EXAMPLES)
@given(body=junk_bodies, delivery=ids, secret=st.sampled_from([0, 1]))
def test_webhook_signed_junk_reaches_the_parser(
    server: IngressServer,
    aiohttp_errors: AiohttpErrors,
    scheme: str,
    body: bytes,
    delivery: str,
    secret: int,
) -> None:
    headers = signed_headers(scheme, body, delivery=delivery, secret=secret)
    response = send(
        server, aiohttp_errors, f"signed-{scheme}", f"/webhooks/{scheme}", _headers(headers), body
    )
    assert response.status != 401  # the signature is valid: the body decides
    if response.status >= 400:
        assert response.status in (400, 409)


@pytest.mark.parametrize("scheme", SCHEMES)
@full_share(WEBHOOK_EXAMPLES)
@fuzz(WEBHOOK_EXAMPLES)
@given(
    document=webhook_documents(),
    extra=random_headers,
    drop=st.sets(st.integers(0, 8)),
    encoding=st.none() | content_encodings,
)
def test_webhook_random_headers(
    server: IngressServer,
    aiohttp_errors: AiohttpErrors,
    scheme: str,
    document: bytes,
    extra: list[tuple[str, bytes]],
    drop: set[int],
    encoding: str | None,
) -> None:
    signed = _headers(signed_headers(scheme, document))
    headers = [h for i, h in enumerate(signed) if i not in drop] + list(extra)
    if encoding is not None:
        headers.append(("Content-Encoding", encoding))
    send(server, aiohttp_errors, f"headers-{scheme}", f"/webhooks/{scheme}", headers, document)


# -- CloudEvents ---------------------------------------------------------------------------------

CE_TYPES = {
    "structured": "application/cloudevents+json",
    "batch": "application/cloudevents-batch+json",
}
BINARY_REQUIRED = (
    ("ce-specversion", "1.0"),
    ("ce-id", "evt-1"),
    ("ce-source", "/fuzz"),
    ("ce-type", "fuzz.event"),
)
EVENTS_PATHS = st.sampled_from(["/events", f"/events/{CLOUDEVENTS_SOURCE}"])


def _mode_headers(mode: str, content_type: str = "application/json") -> list[Header]:
    if mode == "binary":
        return [*BINARY_REQUIRED, ("Content-Type", content_type)]
    return [("Content-Type", CE_TYPES[mode])]


@st.composite
def event_bodies(draw: st.DrawFn, mode: str) -> bytes:
    if mode == "binary":
        return orjson.dumps(draw(json_values))
    if mode == "structured":
        return orjson.dumps(draw(cloudevent_documents()))
    batch = draw(st.lists(cloudevent_documents() | json_values, max_size=4))
    return orjson.dumps(batch)


@pytest.mark.parametrize("mode", MODES)
@full_share(EVENT_EXAMPLES)
@fuzz(EVENT_EXAMPLES)
@given(
    body=junk_bodies,
    path=EVENTS_PATHS,
    binary_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream", ""]),
)
def test_events_random_bytes(
    server: IngressServer,
    aiohttp_errors: AiohttpErrors,
    mode: str,
    body: bytes,
    path: str,
    binary_type: str,
) -> None:
    headers = _mode_headers(mode, binary_type)
    send(server, aiohttp_errors, f"events-bytes-{mode}", path, headers, body)


@pytest.mark.parametrize("mode", MODES)
@full_share(EVENT_EXAMPLES)
@fuzz(EVENT_EXAMPLES)
@given(data=st.data(), path=EVENTS_PATHS)
def test_events_mutated_json(
    server: IngressServer, aiohttp_errors: AiohttpErrors, mode: str, data: st.DataObject, path: str
) -> None:
    body = data.draw(event_bodies(mode).flatmap(mutated))
    send(server, aiohttp_errors, f"events-mutated-{mode}", path, _mode_headers(mode), body)


# The attributes binary mode reads from headers, and the headers every mode looks at.
CE_HEADER_NAMES = (
    "ce-specversion",
    "ce-id",
    "ce-source",
    "ce-type",
    "ce-time",
    "ce-subject",
    "ce-dataschema",
    "ce-traceparent",
    "traceparent",
    "Content-Type",
)


@pytest.mark.parametrize("mode", MODES)
@full_share(EVENT_EXAMPLES)
@fuzz(EVENT_EXAMPLES)
@given(
    data=st.data(),
    replaced=st.dictionaries(st.sampled_from(CE_HEADER_NAMES), header_values, max_size=4),
    extra=st.lists(st.tuples(header_names, header_values), max_size=4),
    path=EVENTS_PATHS,
)
def test_events_random_headers(
    server: IngressServer,
    aiohttp_errors: AiohttpErrors,
    mode: str,
    data: st.DataObject,
    replaced: dict[str, bytes],
    extra: list[tuple[str, bytes]],
    path: str,
) -> None:
    body = data.draw(event_bodies(mode))
    names = {name.lower() for name in replaced}
    kept = [h for h in _mode_headers(mode) if str(h[0]).lower() not in names]
    headers = [*kept, *replaced.items(), *extra]
    send(server, aiohttp_errors, f"events-headers-{mode}", path, headers, body)


def test_the_fuzz_server_is_still_healthy(server: IngressServer) -> None:
    response = exchange(server.port, build_request("GET", "/livez"))
    assert response.status == 200
    assert server.engine.is_ready
