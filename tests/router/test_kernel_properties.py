"""Properties of the kernel's pure parts: ids, pointers, durations, codec, envelope, routing."""

from __future__ import annotations

import itertools
import math
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from router import codec
from router.config.models import RetryPolicy, RouteSpec
from router.durations import parse_duration
from router.envelope import Envelope
from router.ids import decode_id, encode_id, new_id_bytes
from router.pointer import Pointer
from router.routing import RoutingTable
from router.runtime.retry import backoff_delay, give_up_reason

FAST = settings(max_examples=100, deadline=None)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# -- ids ---------------------------------------------------------------------------------------


@FAST
@given(st.integers(min_value=2, max_value=300))
def test_new_ids_are_strictly_increasing_and_time_prefixed(count: int) -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id_bytes() for _ in range(count)]
    after = time.time_ns() // 1_000_000
    assert all(len(i) == 16 for i in ids)
    assert all(a < b for a, b in itertools.pairwise(ids))
    # The 48-bit prefix is the creation millisecond.
    assert before <= int.from_bytes(ids[0][:6], "big") <= int.from_bytes(ids[-1][:6], "big")
    assert int.from_bytes(ids[-1][:6], "big") <= after


@FAST
@given(st.binary(min_size=16, max_size=16))
def test_id_text_round_trips(raw: bytes) -> None:
    text = encode_id(raw)
    assert len(text) == 26
    assert decode_id(text) == raw
    assert decode_id(text.lower()) == raw


@FAST
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_id_text_sorts_like_the_bytes(a: bytes, b: bytes) -> None:
    assert (encode_id(a) < encode_id(b)) == (a < b)
    assert (encode_id(a) == encode_id(b)) == (a == b)


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOOKALIKES = "\u017f\ufb00\ufb01"  # long s, ligatures ff and fi: non-ASCII that upper() to ASCII


@FAST
@given(st.text(max_size=30))
@example("7" + "Z" * 25)
@example("8" + "0" * 25)  # one bit past 128
@example("0" * 25 + "U")
def test_decode_id_rejects_junk_with_value_error_only(text: str) -> None:
    try:
        raw = decode_id(text)
    except ValueError:
        return
    assert len(raw) == 16


@FAST
@given(st.text(alphabet=CROCKFORD + "abc" + LOOKALIKES, min_size=26, max_size=26))
@example("0" * 25 + "\ufb00")  # LATIN SMALL LIGATURE FF upper-cases to two letters: 'FF'
@example("0" * 25 + "\u017f")  # LATIN SMALL LETTER LONG S upper-cases to 'S'
def test_decode_id_accepts_only_the_texts_encode_id_produces(text: str) -> None:
    try:
        raw = decode_id(text)
    except ValueError:
        return
    assert encode_id(raw) == text.upper()


# -- JSON Pointer ------------------------------------------------------------------------------

pointer_keys = st.text(alphabet="ab~/01 é", max_size=6)
path_steps = st.lists(pointer_keys | st.integers(min_value=0, max_value=3), max_size=5)


def escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def nest(path: list[str | int], value: Any) -> Any:
    document = value
    for part in reversed(path):
        if isinstance(part, int):
            document = [{"filler": i} for i in range(part)] + [document]
        else:
            document = {part: document, "sibling": 0}  # keys never spell "sibling"
    return document


@FAST
@given(path_steps, json_values)
def test_pointer_resolves_what_was_put_at_its_path(path: list[str | int], value: Any) -> None:
    text = "".join("/" + escape(p) for p in path)
    pointer = Pointer(text)
    assert pointer.parts == tuple(str(p) for p in path)
    assert pointer.resolve(nest(path, value)) == value


@FAST
@given(path_steps.filter(bool), json_values)
def test_pointer_default_when_the_path_is_missing(path: list[str | int], value: Any) -> None:
    text = "".join("/" + escape(p) for p in path) + "/absent~1key"
    sentinel = object()
    expected = value.get("absent/key", sentinel) if isinstance(value, dict) else sentinel
    assert Pointer(text).resolve(nest(path, value), sentinel) is expected


def test_pointer_escapes_decode_tilde_one_before_tilde_zero() -> None:
    assert Pointer("/a~1b/~0/~01/~10").parts == ("a/b", "~", "~1", "/0")
    document = {"a/b": {"~": {"~1": {"/0": "deep"}}}}
    assert Pointer("/a~1b/~0/~01/~10").resolve(document) == "deep"
    assert Pointer("").resolve(document) is document
    assert Pointer("/").resolve({"": 1}) == 1


@pytest.mark.parametrize("text", ["a/b", "~0", "#/a"])
def test_pointer_must_start_with_a_slash(text: str) -> None:
    with pytest.raises(ValueError, match="starts with '/'"):
        Pointer(text)


@FAST
@given(st.lists(st.text(max_size=4), max_size=4), json_values)
@example(["²"], [1, 2])  # SUPERSCRIPT TWO is isdigit() but not int()-able
def test_pointer_resolve_never_raises(parts: list[str], document: Any) -> None:
    text = "".join("/" + escape(p) for p in parts)
    Pointer(text).resolve(document, None)


# -- durations ---------------------------------------------------------------------------------

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}


@FAST
@given(st.integers(min_value=0, max_value=10**15) | st.floats(min_value=0, max_value=1e15))
def test_parse_duration_passes_numbers_through(value: float) -> None:
    assert parse_duration(value) == float(value)


@FAST
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(UNITS)), st.booleans())
def test_parse_duration_reads_units(amount: int, unit: str, spaced: bool) -> None:
    text = f" {amount} {unit} " if spaced else f"{amount}{unit}"
    assert parse_duration(text) == pytest.approx(amount * UNITS[unit])


@FAST
@given(
    st.text(max_size=12)
    | st.integers(min_value=-(10**9), max_value=-1)  # huge ints: see the test below
    | st.floats(max_value=-1e-9)
    | st.booleans()
    | st.none()
    | st.lists(st.integers(), max_size=2)
)
@example("5 parsecs")
@example("-1s")
@example("1e3s")
@example("1.5.5s")
def test_parse_duration_rejects_junk_with_value_error_only(value: object) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert isinstance(value, str)
    assert seconds >= 0


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, 10**400, "9" * 400],
    ids=["nan", "inf", "huge-int", "huge-text"],
)
def test_parse_duration_rejects_non_finite_values_with_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


# -- codec -------------------------------------------------------------------------------------


@FAST
@given(json_values | st.binary(max_size=20))
def test_codec_round_trips_json_like_values(value: Any) -> None:
    assert codec.unpack(codec.pack(value)) == value


class Priced(BaseModel):
    amount: Decimal
    at: datetime
    tags: tuple[str, ...]


def test_codec_packs_models_in_json_mode_and_rejects_unknown_types() -> None:
    model = Priced(amount=Decimal("1.50"), at=datetime(2026, 1, 2, tzinfo=UTC), tags=("a",))
    assert codec.unpack(codec.pack({"m": model, "t": (1, 2)})) == {
        "m": {"amount": "1.50", "at": "2026-01-02T00:00:00Z", "tags": ["a"]},
        "t": [1, 2],
    }
    with pytest.raises(TypeError, match="cannot encode Decimal"):
        codec.pack(Decimal(1))


# -- envelope ----------------------------------------------------------------------------------

short_text = st.text(max_size=12)
envelopes = st.builds(
    Envelope,
    id=st.binary(min_size=16, max_size=16),
    source=short_text,
    type=short_text,
    idempotency_key=st.text(max_size=40),
    correlation_id=short_text,
    traceparent=short_text,
    received_at=st.floats(allow_nan=False),
    body=st.binary(max_size=64),
    routes=st.lists(st.tuples(short_text, short_text), max_size=3),
    headers=st.dictionaries(short_text, short_text, max_size=3),
)


@FAST
@given(envelopes)
def test_envelope_record_round_trips(envelope: Envelope) -> None:
    assert Envelope.from_record(envelope.id, envelope.to_record()) == envelope


def test_envelope_record_of_an_unknown_version_is_refused() -> None:
    record = codec.pack({"v": 99})
    with pytest.raises(ValueError, match="unknown journal record version 99"):
        Envelope.from_record(b"\0" * 16, record)


# -- retry -------------------------------------------------------------------------------------

seconds = st.floats(min_value=0, max_value=3600)
policies = st.builds(
    lambda backoff, initial, extra, jitter: RetryPolicy(
        backoff=backoff, initial=initial, max=initial + extra, jitter=jitter
    ),
    st.sampled_from(["exponential", "fixed"]),
    seconds,
    seconds,
    st.sampled_from(["full", "none"]),
)


@FAST
@given(
    policies,
    st.integers(min_value=0, max_value=1000),
    st.none() | st.floats(min_value=0, max_value=10_000),
    st.integers(),
)
def test_backoff_delay_is_bounded_and_honours_retry_after(
    policy: RetryPolicy, attempts: int, retry_after: float | None, seed: int
) -> None:
    delay = backoff_delay(policy, attempts, retry_after, random.Random(seed))
    assert 0 <= delay <= policy.max
    if retry_after is not None:
        assert delay >= min(retry_after, policy.max)


@FAST
@given(policies.filter(lambda p: p.backoff == "exponential"), st.integers(0, 60))
def test_exponential_backoff_without_jitter_doubles_up_to_max(
    policy: RetryPolicy, attempts: int
) -> None:
    policy = policy.model_copy(update={"jitter": "none"})
    rng = random.Random(0)
    delay = backoff_delay(policy, attempts, None, rng)
    assert delay == min(policy.max, policy.initial * 2 ** max(0, attempts - 1))
    assert backoff_delay(policy, attempts + 1, None, rng) >= delay


def test_initial_above_max_is_refused() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        RetryPolicy(initial=30.0, max=5.0)


def test_fixed_backoff_is_capped_at_max() -> None:
    # Route files cannot say this (initial > max is refused), but a constructed policy still caps.
    policy = RetryPolicy.model_construct(
        backoff="fixed", initial=30.0, max=5.0, jitter="none", max_attempts=8, max_age=60.0
    )
    assert backoff_delay(policy, 3, None, random.Random(0)) <= policy.max


def test_give_up_reasons() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=100.0)
    assert give_up_reason(policy, 2, age_s=10, delay=5) is None
    assert give_up_reason(policy, 3, age_s=10, delay=5) == "gave up after 3 attempts"
    reason = give_up_reason(policy, 1, age_s=90, delay=20)
    assert reason == "gave up: next attempt would exceed max_age 100s"


# -- routing -----------------------------------------------------------------------------------


def route(
    ident: str,
    source: str = "shop",
    types: str | list[str] = "order.created",
    when: list[dict[str, Any]] | None = None,
    key: str | None = None,
) -> RouteSpec:
    data: dict[str, Any] = {
        "id": ident,
        "from": {"source": source, "type": types, "when": when or []},
        "steps": [{"to": {"connector": "sink"}}],
    }
    if key is not None:
        data["key"] = key
    return RouteSpec.model_validate(data)


def test_routing_matches_by_source_and_type_and_fans_out_in_order() -> None:
    table = RoutingTable(
        [
            route("orders", types=["order.created", "order.updated"], key="/customer"),
            route("audit", types="*"),
            route("crm-orders", source="crm", types="order.created"),
        ]
    )
    payload = {"customer": "c1"}
    assert table.match("shop", "order.created", payload, "m1") == [
        ("orders", "c1"),
        ("audit", "m1"),
    ]
    assert table.match("shop", "order.updated", payload, "m1") == [
        ("orders", "c1"),
        ("audit", "m1"),
    ]
    assert table.match("shop", "refund.created", payload, "m1") == [("audit", "m1")]
    assert table.match("crm", "order.created", payload, "m1") == [("crm-orders", "m1")]
    assert table.match("crm", "order.updated", payload, "m1") == []
    assert table.match("nobody", "order.created", payload, "m1") == []


def test_ordering_key_falls_back_to_the_message_key() -> None:
    table = RoutingTable([route("orders", key="/customer/id")])
    assert table.match("shop", "order.created", {"customer": {"id": 7}}, "m") == [("orders", "7")]
    assert table.match("shop", "order.created", {"customer": {}}, "m") == [("orders", "m")]
    assert table.match("shop", "order.created", {"customer": {"id": None}}, "m") == [
        ("orders", "m")
    ]


PREDICATE_CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"pointer": "/status", "equals": "paid"}, {"status": "paid"}, True),
    ({"pointer": "/status", "equals": "paid"}, {"status": "open"}, False),
    ({"pointer": "/status", "equals": "paid"}, {}, False),
    ({"pointer": "/status", "equals": None}, {"status": None}, True),
    ({"pointer": "/status", "equals": None}, {}, False),
    ({"pointer": "/n", "equals": {"a": [1]}}, {"n": {"a": [1]}}, True),
    ({"pointer": "/status", "in": ["paid", "refunded"]}, {"status": "refunded"}, True),
    ({"pointer": "/status", "in": ["paid", "refunded"]}, {"status": "open"}, False),
    ({"pointer": "/status", "in": [None]}, {}, False),
    ({"pointer": "/a/0", "exists": True}, {"a": [0]}, True),
    ({"pointer": "/a/0", "exists": True}, {"a": []}, False),
    ({"pointer": "/a/0", "exists": False}, {"a": []}, True),
    ({"pointer": "/a", "exists": False}, {"a": None}, False),
]


@pytest.mark.parametrize(("predicate", "payload", "matches"), PREDICATE_CASES)
def test_routing_predicates(predicate: dict[str, Any], payload: Any, matches: bool) -> None:
    table = RoutingTable([route("r", when=[predicate])])
    assert (table.match("shop", "order.created", payload, "m") == [("r", "m")]) is matches


def test_all_predicates_must_hold() -> None:
    when = [{"pointer": "/a", "equals": 1}, {"pointer": "/b", "exists": True}]
    table = RoutingTable([route("r", when=when)])
    assert table.match("shop", "order.created", {"a": 1, "b": 0}, "m") == [("r", "m")]
    assert table.match("shop", "order.created", {"a": 1}, "m") == []
    assert table.match("shop", "order.created", {"a": 2, "b": 0}, "m") == []


@pytest.mark.parametrize(
    "predicate",
    [
        {"pointer": "/a"},
        {"pointer": "/a", "equals": 1, "exists": True},
        {"pointer": "/a", "in": [1], "equals": 1},
    ],
)
def test_a_predicate_takes_exactly_one_test(predicate: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        route("r", when=[predicate])


@FAST
@given(
    st.lists(st.sampled_from(["a", "b", "c", "*"]), min_size=1, max_size=3),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["shop", "crm"]),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2),
    st.integers(0, 2),
)
def test_routing_agrees_with_the_documented_rules(
    types: list[str], event_type: str, source: str, payload: dict[str, int], wanted: int
) -> None:
    when: list[dict[str, Any]] = [
        {"pointer": "/x", "in": [wanted]},
        {"pointer": "/y", "exists": False},
    ]
    table = RoutingTable([route("r", source="shop", types=types, when=when)])
    expected = (
        source == "shop"
        and ("*" in types or event_type in types)
        and payload.get("x") == wanted
        and "y" not in payload
    )
    assert (table.match(source, event_type, payload, "m") == [("r", "m")]) is expected
