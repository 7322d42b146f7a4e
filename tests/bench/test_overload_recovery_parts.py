"""The pieces of the overload, recovery and plot scenarios that need no running router."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import plot, report
from bench.scenarios import overload, recovery


def _step(rate: float, p99: float, *, superseded: bool = False) -> dict[str, Any]:
    step: dict[str, Any] = {"offered_rate": rate, "throughput": rate, "latency_ms": {"p99": p99}}
    if superseded:
        step["superseded"] = True
    return step


def test_make_bench_overloads_at_twice_the_rate_for_60_s() -> None:
    assert overload.OverloadPlan().duration_s == 60.0
    assert overload.OverloadPlan().factor == 2.0


def test_sustained_rate_comes_from_this_runs_ingest_only_when_it_passed() -> None:
    ok = {"ingest": {"status": "ok", "targets": {"interlock": {"sustained_rate": 900}}}}
    assert overload.sustained_from(ok) == 900.0
    assert overload.sustained_from({}) is None
    assert overload.sustained_from({"ingest": {"status": "error"}}) is None
    zero = {"ingest": {"status": "ok", "targets": {"interlock": {"sustained_rate": 0}}}}
    assert overload.sustained_from(zero) is None


def test_rss_of_this_process_is_read_and_a_missing_pid_gives_none() -> None:
    found = overload.rss_kib(os.getpid())
    assert found is not None
    assert found > 0
    assert overload.rss_kib(2**22 + 12345) is None


def test_drained_at_is_the_first_empty_sample_after_the_load() -> None:
    sampler = overload.Sampler(os.getpid())
    sampler.pending = [(1.0, 0), (2.0, 5), (3.0, 0), (4.0, 0)]
    assert sampler.drained_at(1.5) == 3.0
    assert sampler.drained_at(4.5) is None
    assert sampler.max_pending() == 5


def test_recovery_build_leaves_one_in_ten_pending(tmp_path: Path) -> None:
    built = recovery.build(tmp_path / "journal", 55)
    assert built["messages"] == 55
    assert built["pending"] == built["expected_pending"] == 6  # i = 0, 10, ..., 50
    assert built["journal_file_bytes"] > 0


def test_plot_series_leaves_out_superseded_steps_and_sorts_by_rate() -> None:
    scenario = {
        "targets": {
            "interlock": {"steps": [_step(1000, 9.0), _step(500, 4.0, superseded=True)]},
            "bare": {"steps": [_step(2000, 2.0), _step(500, 1.0)]},
            "empty": {"steps": []},
        }
    }
    assert plot.series(scenario) == {
        "interlock": [(1000.0, 1000.0, 9.0)],
        "bare": [(500.0, 500.0, 1.0), (2000.0, 2000.0, 2.0)],
    }


def test_plot_without_steps_draws_nothing(tmp_path: Path) -> None:
    path, message = plot.plot({"ingest": {"status": "error"}}, tmp_path / "x.png")
    assert path is None
    assert message
    assert not (tmp_path / "x.png").exists()


def test_plot_draws_a_png_when_matplotlib_is_there(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = {
        "ingest": {
            "status": "ok",
            "plan": {"p99_bound_ms": 50.0},
            "targets": {"interlock": {"steps": [_step(500, 4.0), _step(1000, 60.0)]}},
        }
    }
    path, _ = plot.plot(result, tmp_path / "x.png")
    assert path is not None
    assert path.read_bytes().startswith(b"\x89PNG")


def test_report_renders_the_new_sections_and_their_failures() -> None:
    ovl = {
        "status": "ok",
        "offered_rate": 2800,
        "duration_s": 20.0,
        "sustained_rate": 1400.0,
        "sustained_from": "constant",
        "plan": {"connections": 512},
        "other": {},
        "accepted": 10,
        "accepted_per_s": 0.5,
        "shed": 3,
        "latency_ms": {"p99": 1.0},
        "accepted_latency_ms": {"p50": 2.0, "p99": 30.0},
        "shed_latency_ms": None,
        "p99_bound_ms": 50.0,
        "loadgen_limited": False,
        "peak_rss_kib": 2048,
        "rss_at_start_kib": 1024,
        "max_pending": 4,
        "journal_messages": 10,
        "journal_pending": 0,
        "no_loss": True,
        "lost": 0,
        "drain_s": 0.5,
    }
    rec = {
        "status": "ok",
        "messages": 100,
        "pending": 10,
        "journal_file_bytes": 2**20,
        "build_s": 0.1,
        "start_to_ready_s": 1.5,
        "recovered": 10,
        "empty_start_to_ready_s": 1.0,
    }
    text = "\n".join(report._overload({"overload": ovl}) + report._recovery({"recovery": rec}))
    assert "shed (503) 3" in text
    assert "accepted p50/p99 2.0/30.0 ms, shed p50/p99 -" in text
    assert "nothing accepted lost" in text
    assert "start to ready 1.50 s" in text
    failed = report._overload({"overload": {"status": "error", "reason": "boom"}})
    assert failed[-1].strip() == "error: boom"
    assert report._recovery({}) == []
