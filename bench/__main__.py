"""``python -m bench [--smoke | --full] [--output-dir DIR] [--only NAME]``.

Runs every scenario, prints the table and writes ``latest.json`` plus a timestamped copy, and a
PNG of throughput and p99 against offered load next to them (when matplotlib is installed). A
scenario that cannot run (the engine is not importable, ``interlock run`` does not start) is
recorded with its status and reason; the other scenarios still run.

Three sizes: ``--smoke`` (seconds, CI), the default (``make bench``: a 60 s overload at 2x, the
reconciliation job over 10,000 and 100,000 records per side) and ``--full`` (or ``BENCH_FULL=1``:
also a 1,000,000-message recovery). ``--only plot`` runs nothing
and redraws the PNG of the output dir's ``latest.json``. After the scenarios,
``bench.report.summarise`` adds the ratios between the targets and the goals table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import importlib
import os
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, plot, report
from bench.scenarios import (
    cluster,
    end_to_end,
    ingest,
    overload,
    parts,
    pipeline,
    reconcile,
    recovery,
)
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
    overload: overload.OverloadPlan = dataclasses.field(default_factory=overload.OverloadPlan)
    recovery: recovery.RecoveryPlan = dataclasses.field(default_factory=recovery.RecoveryPlan)
    reconcile: reconcile.ReconcilePlan = dataclasses.field(default_factory=reconcile.ReconcilePlan)
    cluster: cluster.ClusterPlan = dataclasses.field(default_factory=cluster.ClusterPlan)


# The default (``make bench``); LONG is ``--full``.
FULL = Sizes(
    20_000, 2_000, 20_000, 5_000, ingest.IngestPlan(), end_to_end.PLAN, end_to_end.ALL_TARGETS
)
LONG = dataclasses.replace(
    FULL,
    overload=overload.FULL_PLAN,
    recovery=recovery.FULL_PLAN,
    reconcile=reconcile.FULL_PLAN,
)
# The smoke run never needs Celery or Node-RED: Interlock and the forwarder only.
SMOKE = Sizes(
    300,
    50,
    300,
    50,
    ingest.SMOKE_PLAN,
    end_to_end.SMOKE_PLAN,
    ("interlock", "forwarder"),
    overload.SMOKE_PLAN,
    recovery.SMOKE_PLAN,
    reconcile.SMOKE_PLAN,
    cluster.SMOKE_PLAN,
)
ONLY = ("pipeline", "ingest", "e2e", "overload", "recovery", "reconcile", "cluster", "plot")


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


def _draw(result: dict[str, Any], png: Path, latest: Path) -> dict[str, Any]:
    """The PNG of the recorded steps (``plot.plot``), copied to ``latest``; what happened."""
    path, message = plot.plot(result, png)
    if path is None:
        return {"status": "skipped", "message": message}
    shutil.copyfile(path, latest)
    return {"status": "ok", "message": message, "path": str(path), "bytes": path.stat().st_size}


def run(
    sizes: Sizes, only: str | None, smoke: bool, png: tuple[Path, Path] | None = None
) -> dict[str, Any]:
    """Run the scenarios; ``png``: (timestamped, latest) paths of the plot, drawn once the
    ingest and end-to-end steps are in (meanwhile the last scenarios run, in smoke mode)."""
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
    sustained = overload.sustained_from(result)
    late: dict[str, Callable[[], dict[str, Any]]] = {
        "overload": lambda: overload.run(sizes.overload, sustained),
        "recovery": lambda: recovery.run(sizes.recovery),
        "reconcile": lambda: reconcile.run(sizes.reconcile),
        "cluster": lambda: cluster.run(sizes.cluster),
    }
    late = {name: fn for name, fn in late.items() if only in (None, name)}
    if png is not None:
        snapshot = dict(result)  # the plot only reads the ingest and end-to-end steps
        late["plot"] = lambda: _draw(snapshot, *png)
    if smoke:  # side by side: the smoke run checks shapes, never figures, and must stay short
        print(f"{', '.join(late)} (side by side) ...", flush=True)
        with concurrent.futures.ThreadPoolExecutor(len(late) or 1) as pool:
            futures = {name: pool.submit(_guarded, fn) for name, fn in late.items()}
        result.update({name: future.result() for name, future in futures.items()})
    for name, fn in late.items() if not smoke else ():
        print(f"{name} ...", flush=True)
        result[name] = _guarded(fn)
    report.summarise(result)
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Interlock benchmarks")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny counts, a few seconds (CI)")
    size.add_argument("--full", action="store_true", help="1M-message recovery (or BENCH_FULL=1)")
    parser.add_argument("--output-dir", type=Path, default=report.RESULTS)
    parser.add_argument("--only", choices=ONLY, default=None)
    args = parser.parse_args(argv)
    prefix = "smoke-" if args.smoke else ""
    if args.only == "plot":
        return _replot(args.output_dir / f"{prefix}latest.json")
    full = args.full or os.environ.get("BENCH_FULL", "") not in ("", "0")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    png = (args.output_dir / f"{prefix}{stamp}.png", args.output_dir / f"{prefix}latest.png")
    sizes = SMOKE if args.smoke else (LONG if full else FULL)
    result = run(sizes, args.only, args.smoke, png)
    result["full"] = bool(full and not args.smoke)
    print()
    print(report.render(result))
    for path in report.write(result, args.output_dir, smoke=args.smoke, stamp=stamp):
        print(f"wrote {path}")
    drawn = result.get("plot", {})
    print(drawn.get("message") or f"plot {drawn.get('status')}: {drawn.get('reason')}")
    return 0


def _replot(source: Path) -> int:
    """``--only plot``: redraw the PNG of a saved result next to it."""
    if not source.is_file():
        print(f"{source}: no result to plot")
        return 1
    return plot.main([str(source)])


if __name__ == "__main__":
    raise SystemExit(main())
