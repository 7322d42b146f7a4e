"""Schedules: cron fields, names, steps, Vixie day semantics, DST gaps and repeats, intervals."""

from __future__ import annotations

import datetime as dt

import pytest

from router.jobs.cron import Cron, Schedule, zone

PARIS = zone("Europe/Paris")
UTC = dt.UTC


def at(text: str, tz: dt.tzinfo = UTC) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(epoch: float, tz: dt.tzinfo = UTC) -> str:
    return dt.datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M %Z")


def nexts(expr: str, start: str, n: int, tz: dt.tzinfo = UTC) -> list[str]:
    cron, out, t = Cron.parse(expr), [], at(start, tz)
    for _ in range(n):
        t = cron.next_after(t, tz)
        out.append(local(t, tz))
    return out


def test_every_quarter_hour_from_a_point_in_between() -> None:
    assert nexts("*/15 * * * *", "2026-12-03 10:07", 3) == [
        "2026-12-03 10:15 UTC",
        "2026-12-03 10:30 UTC",
        "2026-12-03 10:45 UTC",
    ]


def test_a_slot_is_strictly_after_the_given_time() -> None:
    cron = Cron.parse("0 6 * * *")
    six = at("2026-12-03 06:00")
    assert local(cron.next_after(six, UTC)) == "2026-12-04 06:00 UTC"


def test_names_ranges_and_lists() -> None:
    assert nexts("30 9 * jan,dec mon-fri", "2026-12-31 10:00", 2) == [
        "2027-01-01 09:30 UTC",  # a Friday
        "2027-01-04 09:30 UTC",  # the next Monday
    ]


def test_both_day_fields_restricted_match_either_as_vixie_cron_does() -> None:
    # the 13th, or any Friday
    assert nexts("0 0 13 * fri", "2026-11-01 00:00", 3) == [
        "2026-11-06 00:00 UTC",
        "2026-11-13 00:00 UTC",
        "2026-11-20 00:00 UTC",
    ]


def test_sunday_is_0_and_7_and_macros_expand() -> None:
    assert nexts("0 0 * * 7", "2026-12-01 00:00", 1) == nexts("0 0 * * 0", "2026-12-01 00:00", 1)
    assert nexts("@daily", "2026-12-03 10:00", 1) == ["2026-12-04 00:00 UTC"]
    assert nexts("@hourly", "2026-12-03 10:00", 1) == ["2026-12-03 11:00 UTC"]


def test_a_wall_time_skipped_by_dst_has_no_slot_that_day() -> None:
    # Europe/Paris jumps from 02:00 to 03:00 on 2026-03-29
    assert nexts("30 2 * * *", "2026-03-28 03:00", 2, PARIS) == [
        "2026-03-30 02:30 CEST",
        "2026-03-31 02:30 CEST",
    ]


def test_a_wall_time_repeated_by_dst_has_one_slot_the_first() -> None:
    # Europe/Paris repeats 02:00-03:00 on 2026-10-25: 02:30 CEST, then 02:30 CET
    slots = Schedule(Cron.parse("30 2 * * *"), None, PARIS).slots_between(
        at("2026-10-24 12:00", PARIS), at("2026-10-26 12:00", PARIS)
    )
    assert [local(s, PARIS) for s in slots] == ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]


def test_a_daily_job_in_a_zone_runs_at_its_local_time_across_the_dst_change() -> None:
    hours_utc = [n.split()[1] for n in nexts("0 6 * * *", "2026-03-27 12:00", 3, PARIS)]
    assert hours_utc == ["06:00", "06:00", "06:00"]  # local time stays 06:00
    utc = [
        local(Cron.parse("0 6 * * *").next_after(at(d, PARIS), PARIS))
        for d in ("2026-03-28 12:00", "2026-03-29 12:00")
    ]
    assert utc == ["2026-03-29 04:00 UTC", "2026-03-30 04:00 UTC"]


def test_an_interval_counts_from_the_epoch() -> None:
    schedule = Schedule(None, 3600.0, UTC)
    assert local(schedule.next_after(at("2026-12-03 10:59"))) == "2026-12-03 11:00 UTC"
    slots = schedule.slots_between(at("2026-12-03 10:00"), at("2026-12-03 13:30"))
    assert [local(s) for s in slots] == [
        "2026-12-03 11:00 UTC",
        "2026-12-03 12:00 UTC",
        "2026-12-03 13:00 UTC",
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "has 4"),
        ("61 * * * *", "outside 0-59"),
        ("* 24 * * *", "outside 0-23"),
        ("* * 0 * *", "outside 1-31"),
        ("* * * foo *", "not a number or a name"),
        ("*/0 * * * *", "at least 1"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "cannot read"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cron.parse(expr)


def test_an_impossible_date_is_refused_rather_than_searched_forever() -> None:
    with pytest.raises(ValueError, match="no slot"):
        Cron.parse("0 0 31 2 *").next_after(at("2026-01-01 00:00"), UTC)


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")
