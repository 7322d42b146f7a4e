"""``python -m bench [--smoke] [--output-dir DIR] [--only pipeline|ingest|e2e]``.

Runs every scenario, prints the table and writes ``latest.json`` plus a timestamped copy. A
scenario that cannot run (the engine is not importable, ``interlock run`` does not start) is
recorded with its status and reason; the other scenarios still run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.scenarios import end_to_end, ingest, parts, pipeline
from bench.scenarios.ingest import IngestPlan


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    pipeline_messages: int
    pipeline_warmup: int
    parts_messages: int
    mapping_messages: int
    ingest: ingest.IngestPlan
    e2e: IngestPlan
    e2e_targets: tuple[str, ...]


FULL = Sizes(
    20_000, 2_000, 20_000, 5_000, ingest.IngestPlan(), end_to_end.PLAN, end_to_end.ALL_TARGETS
)
# The smoke run never needs Celery or Node-RED: Interlock and the forwarder only.
SMOKE = Sizes(
    300, 50, 300, 50, ingest.SMOKE_PLAN, end_to_end.SMOKE_PLAN, ("interlock", "forwarder")
)


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one scenario; a failure becomes ``status: error`` instead of ending the run."""
    try:
        out = fn()
    except pipeline.EngineUnavailableError as exc:
        return {"status": "unavailable", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not lose the others
        return {
            "status": "error",
            "reason": f"{type(exc).__name__}: {exc}"[-2000:],
            "trace": (traceback.format_exc()[-4000:]),
        }
    return {"status": "ok", **out}


def _mapping_cost(n: int) -> dict[str, Any]:
    """The figures of ``bench/mapping_cost.py`` (another module, optional) for ``n`` messages."""
    try:
        module = importlib.import_module("bench.mapping_cost")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.mapping_cost":
            raise
        return {"status": "absent", "reason": "bench/mapping_cost.py not present"}
    figures: dict[str, float] = module.run(n)
    return {"status": "ok", "messages": n, "figures": figures}


def run(sizes: Sizes, only: str | None, smoke: bool) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {
        "schema": 1,
        "smoke": smoke,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
    }
    if only in (None, "pipeline"):
        print("pipeline ...", flush=True)
        result["pipeline"] = _guarded(
            lambda: pipeline.run(sizes.pipeline_messages, sizes.pipeline_warmup)
        )
        print("sum of parts ...", flush=True)
        result["parts"] = _guarded(lambda: parts.measure(sizes.parts_messages))
        pipe, prt = result["pipeline"], result["parts"]
        if pipe["status"] == "ok" and prt["status"] == "ok":
            result["cost_ratio"] = round(pipe["us_per_msg"] / prt["sum_us"], 2)
        result["mapping_cost"] = _guarded(lambda: _mapping_cost(sizes.mapping_messages))
    if only in (None, "ingest"):
        print("HTTP ingest ...", flush=True)
        result["ingest"] = _guarded(lambda: ingest.run(sizes.ingest))
    if only in (None, "e2e"):
        print("end to end ...", flush=True)
        result["end_to_end"] = _guarded(
            lambda: end_to_end.run(
                sizes.e2e, sizes.e2e_targets, 0.0 if smoke else end_to_end.WARM_S
            )
        )
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Interlock benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny counts, a few seconds (CI)")
    parser.add_argument("--output-dir", type=Path, default=report.RESULTS)
    parser.add_argument("--only", choices=("pipeline", "ingest", "e2e"), default=None)
    args = parser.parse_args(argv)
    result = run(SMOKE if args.smoke else FULL, args.only, args.smoke)
    print()
    print(report.render(result))
    for path in report.write(result, args.output_dir, smoke=args.smoke):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
