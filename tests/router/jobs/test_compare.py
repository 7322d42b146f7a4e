"""Reconciliation's pure parts: rules, keys, the sorted merge."""

from __future__ import annotations

import datetime as dt

import pytest

from router.jobs.compare import UNREADABLE, SideReader, differences, merge, normalise
from router.jobs.cron import zone
from router.jobs.spec import FieldSpec, SideSpec

UTC = dt.UTC


def test_money_in_minor_and_major_units_agree_exactly() -> None:
    cents = FieldSpec(pointer="/a", money="minor", currency="/cur")
    dollars = FieldSpec(pointer="/a", money="major", currency="USD")
    assert normalise(1999, "money", cents, {"cur": "usd"}, UTC) == "USD 1999"
    assert normalise("19.99", "money", dollars, {}, UTC) == "USD 1999"
    assert normalise(19.99, "money", dollars, {}, UTC) == "USD 1999"
    # yen have no minor unit; a NetSuite reference names its currency
    yen = FieldSpec(pointer="/a", money="major", currency="/currency")
    assert (
        normalise(500, "money", yen, {"currency": {"id": "4", "refName": "JPY"}}, UTC) == "JPY 500"
    )


def test_money_that_is_not_whole_minor_units_is_unreadable_and_always_differs() -> None:
    dollars = FieldSpec(pointer="/a", money="major", currency="USD")
    value = normalise("19.991", "money", dollars, {}, UTC)
    assert isinstance(value, str) and value.startswith(UNREADABLE)
    assert differences({"a": value}, {"a": value}, ["a"]) == ["a"]


def test_dates_compare_by_day_in_the_zone() -> None:
    spec = FieldSpec(pointer="/d")
    paris = zone("Europe/Paris")
    late = dt.datetime(2026, 12, 3, 23, 30, tzinfo=UTC).timestamp()
    assert normalise(late, "date", spec, {}, UTC) == "2026-12-03"
    assert normalise(late, "date", spec, {}, paris) == "2026-12-04"
    assert normalise("2026-12-04", "date", spec, {}, paris) == "2026-12-04"
    assert normalise("2026-12-03T23:30:00Z", "date", spec, {}, paris) == "2026-12-04"
    assert str(normalise("yesterday", "date", spec, {}, UTC)).startswith(UNREADABLE)


def test_strings_ignore_case_width_and_spacing() -> None:
    spec = FieldSpec(pointer="/s")
    assert normalise("  ACME   Corp ", "string", spec, {}, UTC) == "acme corp"
    full_width = "\uff21\uff23\uff2d\uff25 Corp"  # "ACME" in full-width letters
    assert normalise(full_width, "string", spec, {}, UTC) == "acme corp"


def test_exact_compares_json_values() -> None:
    spec = FieldSpec(pointer="/x")
    assert normalise({"b": 1, "a": 2}, "exact", spec, {}, UTC) == normalise(
        {"a": 2, "b": 1}, "exact", spec, {}, UTC
    )
    assert normalise(1, "exact", spec, {}, UTC) != normalise("1", "exact", spec, {}, UTC)


def test_a_key_template_and_a_where_filter() -> None:
    spec = SideSpec.model_validate(
        {
            "connector": "c",
            "operation": "o",
            "key": "stripe-{{ /id }}-payment",
            "where": {"/status": "paid"},
            "fields": {"amount": {"pointer": "/amount", "money": "minor", "currency": "USD"}},
        }
    )
    reader = SideReader(spec, {"amount": "money"}, UTC)
    reduced = reader.reduce({"id": "in_1", "status": "paid", "amount": 500})
    assert not isinstance(reduced, str) and reduced is not None
    assert reduced.key == "stripe-in_1-payment"
    assert reduced.values == {"amount": "USD 500"}
    assert reader.reduce({"id": "in_2", "status": "open"}) == "skip"
    assert reader.reduce({"status": "paid"}) is None  # no key: counted as unkeyed


def test_a_key_is_a_pointer_or_a_template() -> None:
    with pytest.raises(ValueError, match="JSON Pointer or a template"):
        SideSpec.model_validate({"connector": "c", "operation": "o", "key": "id"})


def test_merge_walks_two_sorted_streams_once() -> None:
    left = iter([(b"a", b"1"), (b"b", b"2"), (b"d", b"4")])
    right = iter([(b"b", b"x"), (b"c", b"y"), (b"d", b"z"), (b"e", b"w")])
    assert list(merge(left, right)) == [
        (b"a", b"1", None),
        (b"b", b"2", b"x"),
        (b"c", None, b"y"),
        (b"d", b"4", b"z"),
        (b"e", None, b"w"),
    ]
    assert list(merge(iter([]), iter([]))) == []
