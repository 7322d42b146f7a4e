"""Reconciliation's pure parts: a side's record as compared values, the rules, the sorted merge.

A record is reduced once, when its page is read, to its match key and its compared fields, each
already normalised by its rule, so the comparison is plain equality and the index holds small
values:

- ``money``: ``"USD 1999"``, the amount exactly in the currency's minor units (NetSuite's 19.99
  and Stripe's 1999 cents agree; 19.991 USD is not a whole number of cents and stays unequal);
- ``date``: ``"2026-12-03"``, the day in the reconciliation's zone (an epoch, an ISO date or an ISO
  date-time with an offset);
- ``string``: Unicode NFKC, case-folded, spaces trimmed and collapsed;
- ``exact``: the JSON value itself (canonical JSON text).

A value that cannot be read by its rule is kept as ``"!unreadable: <why>"``: it mismatches, and
the report says why, rather than the run failing on one bad record.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from canonical.money import minor_exponent, to_decimal
from router.errors import TemplateError
from router.jobs.spec import FieldSpec, Rule, SideSpec
from router.pointer import Pointer
from router.template import render

_SPACES = re.compile(r"\s+")
UNREADABLE = "!unreadable: "


@dataclass(frozen=True, slots=True)
class Reduced:
    """One record of a side as the index keeps it: key, compared values, the record itself."""

    key: str
    values: dict[str, Any]
    record: Any


class SideReader:
    """Reduces one side's records (compiled once per run)."""

    def __init__(self, side: SideSpec, rules: dict[str, Rule], tz: dt.tzinfo) -> None:
        self.side = side
        self.tz = tz
        self.key_pointer = Pointer(side.key) if side.key.startswith("/") else None
        self.where = [(Pointer(p), v) for p, v in side.where.items()]
        self.fields = [
            (name, rules.get(name, "exact"), spec, Pointer(spec.pointer))
            for name, spec in side.fields.items()
        ]

    def key(self, record: Any) -> str | None:
        """The match key, or None when the record has none (it is counted as unkeyed)."""
        if self.key_pointer is not None:
            value = self.key_pointer.resolve(record)
        else:
            try:
                value = render(self.side.key, record)
            except TemplateError:
                return None
        if value is None or isinstance(value, dict | list | bool) or str(value) == "":
            return None
        return str(value)

    def reduce(self, record: Any) -> Reduced | str | None:
        """The record reduced; ``"skip"`` when ``where`` leaves it out; None when it has no key."""
        if any(pointer.resolve(record) != wanted for pointer, wanted in self.where):
            return "skip"
        key = self.key(record)
        if key is None:
            return None
        values = {
            name: normalise(pointer.resolve(record), rule, spec, record, self.tz)
            for name, rule, spec, pointer in self.fields
        }
        return Reduced(key, values, record)


def normalise(value: Any, rule: Rule, spec: FieldSpec, record: Any, tz: dt.tzinfo) -> Any:
    """``value`` as its rule compares it (see the module docstring)."""
    if value is None:
        return None
    try:
        if rule == "money" or spec.money is not None:
            return _money(value, spec, record)
        if rule == "date":
            return _day(value, tz)
        if rule == "string":
            return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip().casefold()
    except (ValueError, ArithmeticError, OverflowError) as exc:
        return f"{UNREADABLE}{exc}"
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _money(value: Any, spec: FieldSpec, record: Any) -> str:
    currency_ref = spec.currency or ""
    currency = (
        Pointer(currency_ref).resolve(record) if currency_ref.startswith("/") else currency_ref
    )
    if isinstance(currency, dict):  # NetSuite references: {"id": "1", "refName": "USD"}
        currency = currency.get("refName") or currency.get("externalId") or currency.get("id")
    if not isinstance(currency, str) or not currency:
        raise ValueError(f"no currency at {currency_ref!r}")
    code = currency.strip().upper()
    exponent = minor_exponent(code)
    amount = to_decimal(value)
    minor = amount if spec.money == "minor" else amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {code} is not a whole number of minor units")
    return f"{code} {int(minor)}"


def _day(value: Any, tz: dt.tzinfo) -> str:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")  # noqa: TRY004 - a bad value, kept as such
    if isinstance(value, int | float | Decimal):
        return dt.datetime.fromtimestamp(float(value), tz).date().isoformat()
    text = str(value).strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text).isoformat()
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.date().isoformat()


def differences(left: dict[str, Any], right: dict[str, Any], fields: list[str]) -> list[str]:
    """The compared fields whose values differ (an unreadable value always differs)."""
    return [
        name
        for name in fields
        if left.get(name) != right.get(name)
        or str(left.get(name, "")).startswith(UNREADABLE)
        or str(right.get(name, "")).startswith(UNREADABLE)
    ]


Pair = tuple[bytes, bytes | None, bytes | None]


def merge(
    left: Iterator[tuple[bytes, bytes]], right: Iterator[tuple[bytes, bytes]]
) -> Iterator[Pair]:
    """Two key-sorted streams as ``(key, left or None, right or None)``, in key order.

    Both sides come from the run's LMDB index (keys sorted as bytes), so memory stays one record
    per side whatever the number of records.
    """
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield a[0], a[1], None
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(right, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(left, None), next(right, None)
