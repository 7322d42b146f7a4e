"""When a job runs: a cron expression in a time zone, or a fixed interval. Pure; no clock.

A schedule turns into *slots*: the instants (UTC epoch seconds, whole minutes for cron) at which a
run is due. The scheduler stores the last slot it claimed, so "what is due now" is every slot in
``(last, now]`` and the missed-run policy decides what to do when that is more than one.

Cron is the five-field Vixie form (minute hour day-of-month month day-of-week) with ``*``, lists,
ranges, steps, month and weekday names, and the ``@hourly``/``@daily``/``@weekly``/``@monthly``/
``@yearly`` macros. As in Vixie cron, when both day fields are restricted a day matches if either
does. Times are wall-clock times in the job's zone:

- a wall time that does not exist (the hour skipped when DST starts) has no slot that day;
- a wall time that happens twice (the hour repeated when DST ends) has one slot, the first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (  # name, low, high, names (index + low = value)
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),  # 7 is Sunday too
)
_ITEM = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")
_HORIZON_DAYS = 366 * 5  # "0 0 29 2 1" (a Monday the 29th of February) is rare, not never
UTC = dt.UTC


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as 'Europe/Paris')"
        ) from None


def _value(text: str, names: tuple[str, ...], what: str) -> int:
    if text.isdigit():
        return int(text)
    if text[:3] in names and len(text) in (3, len(names[names.index(text[:3])])):
        return names.index(text[:3]) + (1 if what == "month" else 0)
    raise ValueError(f"{what}: {text!r} is not a number" + (" or a name" if names else ""))


def _field(text: str, what: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"{what}: cannot read {item!r}")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"{what}: a step must be at least 1")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, last = span.split("-")
            start, end = _value(first, names, what), _value(last, names, what)
        else:
            start = _value(span, names, what)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"{what}: {item!r} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"{what}: the range {item!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed cron expression; :meth:`next_after` finds the next slot in ``tz``."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        expanded = _MACROS.get(text.strip().lower(), text)
        parts = expanded.split()
        if len(parts) != len(_FIELDS):
            raise ValueError(
                f"a cron expression has 5 fields (minute hour day month weekday), "
                f"{text!r} has {len(parts)}"
            )
        sets = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            text=text,
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=weekdays,
            any_day=parts[2] == "*",
            any_weekday=parts[4] == "*",
        )

    def _day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week  # Vixie cron: both restricted, either matches

    def next_after(self, after: float, tz: dt.tzinfo) -> float:
        """The first slot strictly after ``after`` (epoch seconds), as epoch seconds."""
        local = dt.datetime.fromtimestamp(after, tz)
        day = local.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        slot = _instant(day, hour, minute, tz)
                        if slot is not None and slot > after:
                            return slot
            day += dt.timedelta(days=1)
        raise ValueError(f"cron {self.text!r} has no slot in the next {_HORIZON_DAYS} days")


def _instant(day: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> float | None:
    """The epoch of a wall time in ``tz``: None when it does not exist; the first when twice."""
    wall = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)  # fold=0: the first
    instant = wall.astimezone(UTC)
    back = instant.astimezone(tz)
    if (back.hour, back.minute) != (hour, minute):  # skipped by a DST jump
        return None
    return instant.timestamp()


@dataclass(frozen=True, slots=True)
class Schedule:
    """A job's slots: ``cron`` in ``tz``, or every ``interval`` seconds from the epoch."""

    cron: Cron | None
    interval: float | None
    tz: dt.tzinfo

    def next_after(self, after: float) -> float:
        if self.cron is not None:
            return self.cron.next_after(after, self.tz)
        assert self.interval is not None
        return (after // self.interval + 1) * self.interval

    def slots_between(self, after: float, until: float, limit: int = 1000) -> list[float]:
        """The slots in ``(after, until]``, oldest first, at most ``limit`` (the newest kept)."""
        slots: list[float] = []
        slot = self.next_after(after)
        while slot <= until:
            slots.append(slot)
            if len(slots) > limit:
                slots.pop(0)
            slot = self.next_after(slot)
        return slots
