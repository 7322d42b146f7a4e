"""A structure-aware fuzz of every ingress: JSON that parses, shaped to hurt, validly signed.

Where tests/router/test_ingress_fuzz.py mutates bytes, this one writes JSON documents of its own
(so it can write what encoders refuse to): nesting up to and past ``router.codec.MAX_DEPTH``,
integers far past 64 bits, odd keys (empty, NUL, lone surrogates, unicode, 10,000 characters,
the same key twice, ``id`` and ``type`` twice at the top), every scalar JSON has. Each document is
signed with ``router.testing.sign``, so the parser and what follows it answer, not the verifier:

* ``/webhooks/{scheme}`` for every verification scheme, and ``/events`` (structured mode);
* every webhook source of the shipped ``routes/sources.yaml``, with its default secrets;
* every request/reply route of the shipped routes (``/api/{id}``), its target a stub that
  answers like the real one.

Every answer is below 500; an error is ``application/problem+json``; nothing is logged at error
level. ``INTERLOCK_FUZZ_EXAMPLES`` (per target kind) sets the count: 40 by default, so ``make
test`` runs a few hundred in all; ``make fuzz`` sets 10000.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pykka
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from router.codec import MAX_DEPTH
from router.config._yaml import read_yaml
from router.testing import sign
from tests.router.test_ingress_fuzz import full_share, fuzz, send
from tests.support.aiohttp_logs import AiohttpErrors
from tests.support.ingress_http import Header
from tests.support.ingress_routes import CLOUDEVENTS_SOURCE, SCHEMES
from tests.support.ingress_server import IngressServer, ingress_over_sink
from tests.support.ingress_signing import signed_headers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("INTERLOCK_FUZZ_EXAMPLES", "40"))

# -- JSON written by hand: duplicate keys, huge integers and any nesting are all expressible ----


class Obj(list[tuple[str, Any]]):
    """A JSON object as its members in order; a key may repeat."""


class Nest:
    """``leaf`` under ``depth`` levels of arrays, objects or both in turn, written without
    recursion (20,000 levels are one string)."""

    def __init__(self, depth: int, shape: str, leaf: Any) -> None:
        self.depth, self.shape, self.leaf = depth, shape, leaf

    def encode(self) -> str:
        opens = {"array": ("[", "]"), "object": ('{"a":', "}")}
        shapes = ["array", "object"] if self.shape == "mixed" else [self.shape]
        levels = [opens[shapes[i % len(shapes)]] for i in range(self.depth)]
        head = "".join(o for o, _ in levels)
        tail = "".join(c for _, c in reversed(levels))
        return head + encode(self.leaf) + tail


def encode(value: Any) -> str:  # noqa: PLR0911 (one return per JSON type)
    if isinstance(value, Nest):
        return value.encode()
    if isinstance(value, Obj):
        return "{" + ",".join(f"{_string(k)}:{encode(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)  # any size: Python's int
    return repr(float(value)) if abs(value) != float("inf") else "1e999"


def _string(text: str) -> str:
    # json.dumps escapes a lone surrogate as \udXXX, which is what a sender would write.
    return json.dumps(text, ensure_ascii=True)


ODD_KEYS = st.one_of(
    st.sampled_from(["", "\x00", "\ud800", "\udfff", "é", "🦆", "id", "type", "$", "/", "~1", " "]),
    st.just("k" * 10_000),
    st.text(max_size=12),
)
HUGE_INTS = st.one_of(
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400, -(10**4000), 0]),
    st.integers(min_value=-(10**60), max_value=10**60),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    HUGE_INTS,
    st.floats(allow_nan=False),
    st.text(max_size=16),
    st.sampled_from(["\ud800", "\x00", "x" * 5000]),
)


@st.composite
def objects(draw: st.DrawFn, inner: st.SearchStrategy[Any]) -> Obj:
    members: list[tuple[str, Any]] = draw(st.lists(st.tuples(ODD_KEYS, inner), max_size=5))
    twice: bool = draw(st.booleans())
    if members and twice:  # the same key twice, its value changed
        key, _ = draw(st.sampled_from(members))
        members.append((key, draw(inner)))
    return Obj(members)


values = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | objects(inner), max_leaves=16
)
DEPTHS = st.one_of(
    st.sampled_from(
        [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 5 * MAX_DEPTH, 20_000]
    ),
    st.integers(1, MAX_DEPTH + 10),
)


nested = st.builds(Nest, DEPTHS, st.sampled_from(["array", "object", "mixed"]), SCALARS)


data_values = st.one_of(values, nested)
ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)
types = st.one_of(
    st.sampled_from(["order.created", "invoice.paid", "Account", "x"]), st.text(max_size=8)
)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """Mostly an event (``id``, ``type``, ``data`` and odd members); sometimes any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return encode(draw(data_values)).encode()
    members: list[tuple[str, Any]] = [("id", draw(ids | HUGE_INTS)), ("type", draw(types))]
    members.append(("data", draw(data_values)))
    members += draw(st.lists(st.tuples(ODD_KEYS, values), max_size=3))
    if draw(st.booleans()):  # a second id or type: which one keys the message?
        members.append((draw(st.sampled_from(["id", "type"])), draw(ids | SCALARS)))
    order = draw(st.permutations(range(len(members))))
    return encode(Obj([members[i] for i in order])).encode()


# -- servers -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _stop_all_actors() -> None:
    """Replaces conftest's: the module's servers keep their actors between tests."""


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngressServer]:
    with ingress_over_sink(tmp_path_factory.mktemp("structured")) as server:
        yield server


class _Upstream(BaseHTTPRequestHandler):
    """Every shipped connector's target: a token for a token request, else an empty OData list."""

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
        body = json.dumps(token if "token" in self.path else {"value": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngressServer]:
    """The shipped routes folder, its connectors' URLs (``${X_URL:-...}``) pointed at a stub."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{upstream.server_address[1]}"
    names = ["ORDERS", "D365", "NETSUITE", "STRIPE_API", "SALESFORCE", "ZENDESK"]
    names += ["ENTITLEMENTS", "THREEPL", "OPS_ALERTS"]
    env = {f"{n}_URL": url for n in names} | {
        "D365_TOKEN_URL": f"{url}/token",
        "SALESFORCE_TOKEN_URL": f"{url}/token",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    base = tmp_path_factory.mktemp("shipped")
    try:
        server = IngressServer(ROOT / "routes", base / "data", body_timeout_s=2.0).start()
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
    try:
        yield server
    finally:
        server.stop()
        upstream.shutdown()
        upstream.server_close()
        pykka.ActorRegistry.stop_all()


def _shipped_sources() -> dict[str, dict[str, Any]]:
    data, _ = read_yaml(ROOT / "routes" / "sources.yaml", {})
    assert isinstance(data, dict)
    return {name: spec for name, spec in data.items() if spec.get("format", "webhook") == "webhook"}


SHIPPED_SOURCES = sorted(_shipped_sources())


def _request_reply_routes() -> list[str]:
    out = []
    for file in sorted((ROOT / "routes").glob("*.yaml")):
        doc = yaml.safe_load(file.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "request-reply":
            out.append(str(doc["id"]))
    return out


REQUEST_REPLY = _request_reply_routes()


def _shipped_headers(source: str, body: bytes, delivery: str) -> list[Header]:
    verify = _shipped_sources()[source].get("verify") or {"scheme": "none"}
    secret = (verify.get("secrets") or verify.get("tokens") or [""])[0]
    headers = sign(verify["scheme"], secret, body, delivery=delivery, verify=verify)
    spec = _shipped_sources()[source]
    for field in ("type", "idempotency_key"):  # a header-borne type or key: send one
        ref = spec.get(field)
        if isinstance(ref, str) and ref.startswith("header:"):
            headers.setdefault(ref.removeprefix("header:"), "fuzz.event")
    return list(headers.items())


# -- the tests ---------------------------------------------------------------------------------


def test_the_shapes_encode_as_json_python_reads() -> None:
    doc = Obj([("id", 10**400), ("id", "x"), ("", Obj([("\ud800", [[[]]])]))])
    text = encode(doc)
    assert json.loads(text) == {"id": "x", "": {"\ud800": [[[]]]}}  # the last duplicate wins
    assert encode(Nest(3, "mixed", 1)) == '[{"a":[1]}]'
    assert len(encode(Nest(20_000, "array", None))) == 40_004
    assert SCHEMES and SHIPPED_SOURCES and REQUEST_REPLY


@pytest.mark.parametrize("scheme", SCHEMES)
@full_share(EXAMPLES)
@fuzz(EXAMPLES)
@given(body=documents(), delivery=ids)
def test_every_scheme_signed_structured_json(
    ingress: IngressServer, aiohttp_errors: AiohttpErrors, scheme: str, body: bytes, delivery: str
) -> None:
    headers: list[Header] = list(signed_headers(scheme, body, delivery=delivery).items())
    response = send(
        ingress, aiohttp_errors, f"structured-{scheme}", f"/webhooks/{scheme}", headers, body
    )
    assert response.status != 401, "signed: the body decides"


@full_share(EXAMPLES)
@fuzz(EXAMPLES)
@given(data=data_values, event_id=ids, extra=st.lists(st.tuples(ODD_KEYS, values), max_size=3))
def test_cloudevents_structured(
    ingress: IngressServer,
    aiohttp_errors: AiohttpErrors,
    data: Any,
    event_id: str,
    extra: list[Any],
) -> None:
    event = Obj(
        [("specversion", "1.0"), ("id", event_id), ("source", "/fuzz"), ("type", "fuzz.event")]
    )
    event += [("data", data), *extra]
    headers: list[Header] = [("Content-Type", "application/cloudevents+json")]
    path = f"/events/{CLOUDEVENTS_SOURCE}"
    send(ingress, aiohttp_errors, "structured-cloudevents", path, headers, encode(event).encode())


@pytest.mark.parametrize("source", SHIPPED_SOURCES)
@full_share(EXAMPLES)
@fuzz(EXAMPLES)
@given(body=documents(), delivery=ids)
def test_every_shipped_webhook_source(
    shipped: IngressServer, aiohttp_errors: AiohttpErrors, source: str, body: bytes, delivery: str
) -> None:
    headers = _shipped_headers(source, body, delivery)
    response = send(
        shipped, aiohttp_errors, f"shipped-{source}", f"/webhooks/{source}", headers, body
    )
    assert response.status != 401, "signed: the body decides"


def _question(sku: Any, warehouse: Any, extra: list[tuple[str, Any]]) -> bytes:
    return encode(Obj([("sku", sku), ("warehouse", warehouse), *extra])).encode()


@pytest.mark.parametrize("route", REQUEST_REPLY)
@full_share(EXAMPLES)
@fuzz(EXAMPLES)
@given(
    body=st.one_of(
        documents(),
        st.builds(
            _question,
            st.text(max_size=12) | SCALARS,
            st.none() | st.text(max_size=8) | HUGE_INTS,
            st.lists(st.tuples(ODD_KEYS, data_values), max_size=2),
        ),
    )
)
def test_every_shipped_request_reply_route(
    shipped: IngressServer, aiohttp_errors: AiohttpErrors, route: str, body: bytes
) -> None:
    headers: list[Header] = [("Content-Type", "application/json")]
    send(shipped, aiohttp_errors, f"shipped-api-{route}", f"/api/{route}", headers, body)
