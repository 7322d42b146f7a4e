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


def test_smoke_run_writes_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
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
    assert set(ingest["targets"]) == {"bare", "interlock"}, ingest.get("interlock_unavailable")
    for target in ingest["targets"].values():
        assert target["steps"], target
        step = target["steps"][0]
        assert step["mode"] == "open"
        assert step["ok"] > 0
        _positive(step["latency_ms"], "p50", "p99", "p999")
        closed = target["closed_loop"]
        assert closed["mode"] == "closed"
        _positive(closed, "throughput", "ok")
    assert ingest["ratio_closed_loop"] > 0

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

    recovery = result["recovery"]
    assert recovery["status"] == "ok", recovery
    assert recovery["build_sync"] is False
    _positive(recovery, "messages", "pending", "journal_file_bytes", "start_to_ready_s")
    assert recovery["pending"] == recovery["expected_pending"] == recovery["messages"] // 10
    assert recovery["recovered"] == recovery["pending"]

    drawn = result["plot"]
    assert drawn["status"] in {"ok", "skipped"}, drawn
    if drawn["status"] == "ok":
        assert drawn["bytes"] > 0
        assert (tmp_path / "smoke-latest.png").stat().st_size > 0
    else:
        assert "matplotlib" in drawn["message"]
