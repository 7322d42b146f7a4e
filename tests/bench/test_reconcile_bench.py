"""The reconcile scenario: its pieces without a router, then ``--smoke --only reconcile`` for real.

As in test_bench_smoke.py, no timing is asserted: only the shape of the result, that every figure
is positive, and that the counts the run reported are the seeded drift.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import report
from bench.scenarios import reconcile
from simulators.datasets import Payments

REPO = Path(__file__).resolve().parents[2]


def _run(data: Payments, **change: Any) -> dict[str, Any]:
    """A finished run's detail, as GET /runs/{id} answers it, for ``data``; ``change`` alters
    the reconciliation's progress."""
    counts, handled = reconcile.expected(data)
    right = data.n - data.missing + data.extra
    recon = {
        "reconciliation": reconcile.RECON,
        "phase": "done",
        "counts": counts,
        "handled": handled,
        "sides": {"left": {"records": data.n}, "right": {"records": right}},
        **change,
    }
    return {
        "id": "payments-daily.1",
        "state": "succeeded",
        "reason": None,
        "reconciliations": [recon],
    }


def test_labels_and_the_ratio_key_name_the_sizes() -> None:
    assert reconcile.label(10_000) == "10k"
    assert reconcile.label(100_000) == "100k"
    assert reconcile.label(500) == "500"
    assert reconcile.ratio_key([10_000, 100_000]) == "reconcile_100k_vs_10k_rate"
    assert reconcile.ReconcilePlan().sizes == (10_000, 100_000)


def test_routes_are_copied_with_only_netsuites_rate_limit_raised(tmp_path: Path) -> None:
    limits = reconcile.copy_routes(tmp_path / "routes")
    assert limits == {
        "shipped": {"rate_per_s": 50, "burst": 20},
        "bench": reconcile.NETSUITE_LIMIT,
    }
    copied = yaml.safe_load((tmp_path / "routes" / "connectors.yaml").read_text())
    shipped = yaml.safe_load((REPO / "routes" / "connectors.yaml").read_text())
    assert copied["netsuite"]["rate_limit"] == reconcile.NETSUITE_LIMIT
    copied["netsuite"]["rate_limit"] = shipped["netsuite"]["rate_limit"]
    assert copied == shipped  # nothing else changed
    assert {p.name for p in (tmp_path / "routes").iterdir()} == {
        p.name for p in (REPO / "routes").iterdir()
    }


def test_the_run_must_report_exactly_the_seeded_drift() -> None:
    data = Payments(n=300, missing=3, mismatched=2, extra=1)
    assert reconcile.check_run(_run(data), data)["counts"]["matched"] == 295
    wrong = {"matched": 296, "missing_left": 1, "missing_right": 2, "mismatched": 2}
    with pytest.raises(reconcile.DriftMismatchError, match="counts"):
        reconcile.check_run(_run(data, counts=wrong), data)
    with pytest.raises(reconcile.DriftMismatchError, match="handled"):
        reconcile.check_run(_run(data, handled={"missing_left:parked": 1}), data)
    failed = {**_run(data), "state": "failed", "reason": "timed out after 3600s"}
    with pytest.raises(reconcile.DriftMismatchError, match="timed out"):
        reconcile.check_run(failed, data)


def test_the_status_fields_of_this_process_are_read() -> None:
    found = reconcile.status_kib(os.getpid())
    assert found["VmRSS"] > 0
    assert found["VmHWM"] >= found["VmRSS"]
    assert reconcile.status_kib(2**22 + 12345) == {}


def test_a_failed_scenario_prints_its_reason_and_no_ratio() -> None:
    result = {"reconcile": {"status": "error", "reason": "DriftMismatchError: counts differ"}}
    assert "DriftMismatchError: counts differ" in "\n".join(report._reconcile(result))
    assert not any(k.startswith("reconcile_") for k in report.ratios(result))


@pytest.mark.timeout(180)
def test_smoke_reconcile_writes_its_figures(tmp_path: Path) -> None:
    argv = ["-m", "bench", "--smoke", "--only", "reconcile", "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=170,  # about 7 s on a quiet 2-core machine
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "6. Reconciliation" in done.stdout
    result = json.loads((tmp_path / "smoke-latest.json").read_text())
    rec = result["reconcile"]
    assert rec["status"] == "ok", rec
    plan = reconcile.SMOKE_PLAN
    assert set(rec["sizes"]) == {str(n) for n in plan.sizes}
    for n, size in rec["sizes"].items():
        assert size["exit_code"] == 0
        assert size["counts_equal_drift"] is True
        d = size["drift"]
        assert size["counts"]["missing_right"] == d["missing"]
        assert size["counts"]["mismatched"] == d["mismatched"]
        assert size["counts"]["missing_left"] == d["extra"]
        assert size["records"] == 2 * int(n) - d["missing"] + d["extra"]
        assert size["journal_messages"] == size["repairs"] == d["missing"] + d["mismatched"]
        for key in ("records_per_s", "run_s", "rss_at_start_kib", "peak_rss_kib", "hwm_kib"):
            assert size[key] > 0, (n, key, size[key])
        assert size["rss_samples"] > 0
    assert rec["rate_ratio"] > 0
    assert result["ratios"][rec["ratio_key"]] == rec["rate_ratio"]
    assert rec["ratio_key"] == reconcile.ratio_key(list(plan.sizes))
