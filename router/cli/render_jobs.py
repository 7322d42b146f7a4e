"""Tables for ``interlock jobs`` and ``interlock reconcile``, from the admin API's JSON."""

from __future__ import annotations

from typing import Any

from router.cli.render import _cut, _ts, table


def render_jobs(data: dict[str, Any]) -> str:
    rows = [
        [
            j["id"],
            j["schedule"],
            j["timezone"],
            j["missed"],
            _ts(j["next_slot"]),
            j["running"] or "-",
            _last(j["last_run"]),
        ]
        for j in data["jobs"]
    ]
    head = ["JOB", "SCHEDULE", "ZONE", "MISSED", "NEXT", "RUNNING", "LAST RUN"]
    return table(head, rows) if rows else "no jobs"


def _last(run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    return f"{run['id']} {run['state']} {_ts(run['finished_at'] or run['started_at'])}"


def render_runs(data: dict[str, Any]) -> str:
    rows = [
        [
            r["id"],
            r["trigger"] + (f" ({r['missed']} slots)" if r["missed"] > 1 else ""),
            r["state"],
            _ts(r["slot"]),
            _ts(r["started_at"]),
            f"{r['seconds']:.1f}s",
            _cut(r["reason"] or "-"),
        ]
        for r in data["runs"]
    ]
    head = ["RUN", "TRIGGER", "STATE", "SLOT", "STARTED", "TOOK", "REASON"]
    return table(head, rows) if rows else "no runs yet"


def render_run(data: dict[str, Any]) -> str:
    lines = [
        f"run       {data['id']} ({data['trigger']}) {data['state']}",
        f"started   {_ts(data['started_at'])}, took {data['seconds']:.1f}s"
        + (f", resumed {data['resumed']}x" if data["resumed"] else ""),
    ]
    if data["reason"]:
        lines.append(f"reason    {data['reason']}")
    for recon in data["reconciliations"]:
        lines.append("")
        lines.append(f"{recon['reconciliation']}  ({recon['phase']})")
        lines.append(_counts(recon["counts"]))
        sides = [
            [name, str(s["pages"]), str(s["records"]), str(s["unkeyed"]), str(s["dupes"])]
            for name, s in recon["sides"].items()
        ]
        lines.append(table(["SIDE", "PAGES", "RECORDS", "UNKEYED", "DUPLICATE KEYS"], sides))
        if recon["handled"]:
            handled = [
                [k.split(":")[0], k.split(":")[1], str(n)] for k, n in recon["handled"].items()
            ]
            lines.append(table(["CLASS", "OUTCOME", "COUNT"], handled))
        lines.extend(f"alert failed: {e}" for e in recon["alert_errors"])
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    order = ("matched", "missing_left", "missing_right", "mismatched")
    return "  ".join(f"{k} {counts.get(k, 0)}" for k in order)


def _values(side: dict[str, Any] | None) -> str:
    return "-" if side is None else " ".join(f"{k}={v}" for k, v in side.items())


def render_report(data: dict[str, Any]) -> str:
    head = f"{data['run']} {data['reconciliation']}: {_counts(data['counts'])}"
    rows = [
        [
            r["class"],
            r["key"],
            ",".join(r["fields"]) or "-",
            _cut(_values(r["left"]), 40),
            _cut(_values(r["right"]), 40),
            r["handling"],
            r["outcome"] or "-",
        ]
        for r in data["rows"]
    ]
    if not rows:
        return head + "\nno exceptions: both sides agree"
    body = table(["CLASS", "KEY", "FIELDS", "LEFT", "RIGHT", "HANDLING", "OUTCOME"], rows)
    more = f"\n(next page: --offset {data['next_offset']})" if data["next_offset"] else ""
    return f"{head}\n{body}{more}"


def render_parked(data: dict[str, Any]) -> str:
    rows = [
        [r["class"], r["key"], _cut(_values(r["left"]), 50), _cut(_values(r["right"]), 50)]
        for r in data["items"]
    ]
    if not rows:
        return f"{data['reconciliation']}: nothing parked"
    return table(["CLASS", "KEY", "LEFT", "RIGHT"], rows)
