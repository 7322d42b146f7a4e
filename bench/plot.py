"""A PNG of throughput and p99 against offered load, from one run's recorded steps.

``python -m bench`` calls :func:`plot` after a run; ``python -m bench.plot [RESULT.json [OUT.png]]``
redraws one from a saved result (default ``bench/results/latest.json``). One row per scenario that
recorded open-loop steps (HTTP ingest, end to end), one line per target (Interlock and every
baseline): answered 2xx/s and p99 latency (from the intended send time, log scale) against the
offered rate. Steps that were run again because the machine was busy are left out, as in the
table. matplotlib is optional (the ``bench`` extra): without it nothing is drawn and the reason
is returned.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from bench import report

SCENARIOS = (("ingest", "HTTP durable ingest"), ("end_to_end", "End to end (webhook → sink)"))
COLOURS = {  # one colour per target in every panel
    "interlock": "tab:green",
    "bare": "tab:blue",
    "limit": "tab:cyan",
    "forwarder": "tab:orange",
    "nodered": "tab:red",
    "celery": "tab:purple",
}
UNAVAILABLE = "matplotlib is not installed: no plot (pip install -e '.[bench]')"


def series(scenario: dict[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """Per target: (offered rate, answered 2xx/s, p99 ms) of each kept step, by offered rate."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name, target in scenario.get("targets", {}).items():
        points = [
            (float(s["offered_rate"]), float(s["throughput"]), float(s["latency_ms"]["p99"]))
            for s in target.get("steps", [])
            if s.get("offered_rate") and not s.get("superseded")
        ]
        if points:
            out[name] = sorted(points)
    return out


def plot(result: dict[str, Any], path: Path) -> tuple[Path | None, str]:
    """Draw ``result``'s step results to ``path``; (path or None, what happened)."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, UNAVAILABLE
    rows = [
        (title, series(result[key]), result[key].get("plan", {}).get("p99_bound_ms"))
        for key, title in SCENARIOS
        if result.get(key, {}).get("status") == "ok"
    ]
    rows = [row for row in rows if row[1]]
    if not rows:
        return None, "no open-loop steps in this result: no plot"
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 4.2 * len(rows)), squeeze=False)
    for (title, lines, bound), (ax_rate, ax_p99) in zip(rows, axes, strict=True):
        top = max(p[0] for pts in lines.values() for p in pts)
        ax_rate.plot([0, top], [0, top], color="0.75", linestyle=":", label="answered = offered")
        for name, pts in lines.items():
            width = 2.5 if name == "interlock" else 1.5
            colour = COLOURS.get(name, "tab:gray")
            xs = [p[0] for p in pts]
            for ax, ys in ((ax_rate, [p[1] for p in pts]), (ax_p99, [p[2] for p in pts])):
                ax.plot(xs, ys, marker="o", label=name, linewidth=width, color=colour)
        if bound:
            ax_p99.axhline(bound, color="crimson", linestyle="--", linewidth=1, label="pass bound")
        ax_rate.set(
            title=f"{title}: throughput",
            xlabel="offered load (req/s)",
            ylabel="answered 2xx (req/s)",
        )
        ax_p99.set(
            title=f"{title}: p99 latency",
            xlabel="offered load (req/s)",
            ylabel="p99 from intended send (ms, log)",
            yscale="log",
        )
        for ax in (ax_rate, ax_p99):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
    machine = result.get("machine", {})
    fig.suptitle(
        f"Interlock benchmark {result.get('started_at', '')}, commit "
        f"{str(machine.get('git_commit', '?'))[:12]}, {machine.get('cores', '?')} cores"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, f"wrote {path}"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else report.RESULTS / "latest.json"
    target = Path(argv[1]) if len(argv) > 1 else source.with_suffix(".png")
    path, message = plot(orjson.loads(source.read_bytes()), target)
    print(message)
    return 0 if path is not None or message == UNAVAILABLE else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
