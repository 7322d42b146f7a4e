"""The admin CLI's output: plain aligned tables (no dependency) from the API's JSON shapes.

Identifiers (message and instance ids, keys, routes, steps) are never cut, so any of them can be
copied into the next command. Free text (reasons, errors, details) is cut to fit the terminal
(``COLUMNS`` honoured) only when the output is a terminal: piped output is always whole.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer


def _ts(value: float | None) -> str:
    if not value:
        return "-"
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _screen() -> int | None:
    """The terminal's width (``COLUMNS`` first), or None when the output is not a terminal."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def _cut(text: str, width: int = 60) -> str:
    """Free text on one line, cut to ``width`` on a terminal only."""
    text = " ".join(str(text).split())
    if _screen() is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"


def _safe(text: str) -> str:
    """Senders choose types, ids and errors: never print their control characters (ANSI escapes)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain aligned columns, two spaces apart."""
    rows = [[_safe(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines
    )


def emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else render(data))


def _page_footer(data: dict[str, Any]) -> str:
    n = len(data["items"])
    more = f"; next page: --cursor {data['next_cursor']}" if data.get("next_cursor") else ""
    return f"({n} shown{more})"


def render_messages(data: dict[str, Any]) -> str:
    rows = [
        [
            m["id"],
            _ts(m["received_at"]),
            m["source"],
            m["type"],
            m["correlation_id"] or "-",
            "unrouted" if m["unrouted"] else " ".join(f"{r}={s}" for r, s in m["routes"].items()),
        ]
        for m in data["items"]
    ]
    head = ["ID", "RECEIVED", "SOURCE", "TYPE", "CORRELATION", "STATUS"]
    return table(head, rows) + "\n" + _page_footer(data)


def render_trace(d: dict[str, Any]) -> str:
    fields = [
        ("id", d["id"]),
        ("source", d["source"]),
        ("type", d["type"]),
        ("received", _ts(d["received_at"])),
        ("correlation id", d["correlation_id"] or "-"),
        ("trace id", d["trace_id"] or "-"),
        ("idempotency key", d["idempotency_key"]),
        ("body", f"{d['body_size']} bytes{' JSON' if d['body_is_json'] else ''}"),
    ]
    out = [f"{k + ':':<17}{_safe(v)}" for k, v in fields]
    if d["unrouted"]:
        out.append(f"{'routes:':<17}none matched (unrouted)")
    if d["deliveries"]:
        rows = [
            [
                x["route"],
                x["status"]
                + (" (dead letter)" if x["dead_letter"] else "")
                + (f" (held behind {x['held_by']})" if x.get("held_by") else ""),
                str(x["attempts"]),
                _ts(x["next_at"]) if x["status"] == "retry" else "-",
                _cut(x["last_error"]) or "-",
            ]
            for x in d["deliveries"]
        ]
        out += ["", table(["ROUTE", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR"], rows)]
    rows = [
        [_ts(e["at"]), e["kind"], e["route"] or "-", str(e["attempt"] or "-"), _cut(e["detail"])]
        for e in d["timeline"]
    ]
    out += ["", table(["AT", "EVENT", "ROUTE", "ATTEMPT", "DETAIL"], rows)]
    return "\n".join(out)


def render_dead(data: dict[str, Any], *, whole: bool = False) -> str:
    """Dead letters; ``whole`` (one message's, ``dlq show``) prints each reason in full."""
    rows = [
        [
            d["id"],
            d["route"] + (" (holds key)" if d.get("holds_key") else ""),
            _ts(d["at"]),
            str(d["attempts"]),
            d["source"] or "-",
            d["type"] or "-",
            " ".join(d["reason"].split()) if whole else _cut(d["reason"], 50),
        ]
        for d in data["items"]
    ]
    head = ["ID", "ROUTE", "DEAD AT", "ATTEMPTS", "SOURCE", "TYPE", "REASON"]
    text = table(head, rows)
    return text + "\n" + _page_footer(data) if "next_cursor" in data else text


# -- workflows -----------------------------------------------------------------------------------

_STATES = ["running", "parked", "compensating", "completed", "compensated", "cancelled"]
_RARE = ["handed_back"]  # cluster mode only: a column once some workflow has one


def _secs(value: float | None) -> str:
    """A duration, compact: 12ms, 1.23s, 4m05s, 2h03m, 3d04h."""
    if value is None:
        return "-"
    value = max(0.0, value)  # another host's clock may be a little behind
    if value < 0.9995:
        return f"{value * 1000:.0f}ms"
    if value < 59.95:
        return f"{value:.3g}s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fit(headers: list[str], rows: list[list[str]]) -> str:
    """:func:`table` in the terminal's width: only the last column (free text) is cut, down to
    8 characters at least; not on a terminal, nothing is cut."""
    rows = [[" ".join(_safe(c).split()) for c in r] for r in rows]
    screen = _screen()
    if screen is None:
        return table(headers, rows)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    flexible = {len(headers) - 1}
    excess = sum(widths) + 2 * (len(widths) - 1) - screen
    while excess > 0:
        widest = max(flexible, key=lambda i: widths[i])
        if widths[widest] <= max(8, len(headers[widest])):
            break  # nothing left to cut: wider than the screen rather than unreadable
        widths[widest] -= 1
        excess -= 1
    cut = [[_cut(c, widths[i]) if i in flexible else c for i, c in enumerate(r)] for r in rows]
    return table(headers, cut)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _why(instance: dict[str, Any]) -> str:
    # The STEP column already says which step failed: keep the room for why.
    reason: str = instance["reason"] or "-"
    return reason.removeprefix(f"step {instance['failed_step']} failed: ")


def render_instances(data: dict[str, Any]) -> str:
    now = datetime.now(UTC).timestamp()
    rows = [
        [
            i["id"],
            i["workflow"],
            i["key"],
            i["state"],
            i["failed_step"] or i["current_step"] or "-",
            _secs(now - i["updated_at"]) + " ago",
            _why(i),
        ]
        for i in data["instances"]
    ]
    head = ["ID", "WORKFLOW", "KEY", "STATE", "STEP", "UPDATED", "REASON"]
    return fit(head, rows) + f"\n({len(rows)} shown)"


def _where(d: dict[str, Any]) -> str:
    state, step = d["state"], d["failed_step"] or d["current_step"]
    return f"{state} at step {step}" if state in ("running", "parked") and step else state


def _duplicates(found: list[dict[str, Any]]) -> str:
    """Later triggers for the same key: how many, and the message ids (recorded, not started)."""
    return f"{len(found)} (message {', '.join(x['message_id'] for x in found)})" if found else ""


def render_instance(d: dict[str, Any]) -> str:
    """One instance: its fields, a steps table and the timeline (times after the trigger)."""
    start, finished = d["received_at"], d["finished_at"]
    fields = [
        ("instance", d["id"]),
        ("workflow", d["workflow"]),
        ("key", d["key"]),
        ("state", _where(d)),
        ("reason", d["reason"]),
        ("received", f"{_ts(start)} (message {d['trigger_message']})"),
        ("correlation id", d["correlation_id"]),
        ("trace id", d["trace_id"]),
        ("finished", finished and f"{_ts(finished)} (+{_secs(finished - start)})"),
        ("sla", None if d["sla_seconds"] is None else _secs(d["sla_seconds"])),
        ("duplicates", _duplicates(d["duplicates"])),
        ("notifications", d["notifications"] or None),
    ]  # empty ones are left out
    free = ("reason", "notifications")  # free text; the rest are ids and times, never cut
    width = (_screen() or 0) - 17
    out = [
        f"{k + ':':<17}{_safe(_cut(str(v), width) if k in free else str(v))}"
        for k, v in fields
        if v
    ]
    steps = []
    for s in d["steps"]:
        took = s["finished_at"] - s["started_at"] if s["finished_at"] and s["started_at"] else None
        undo = "-" if s["undo"] == "none" else s["undo"]
        if s["undo_attempts"] > 1:
            undo += f" ({s['undo_attempts']})"
        detail = [" ".join(f"{k}={_value(v)}" for k, v in s["output"].items())]
        detail += [
            s["error"] or "",
            s["note"] or "",
            s["undo_error"] and f"undo: {s['undo_error']}",
        ]
        text = "; ".join(x for x in detail if x) or "-"
        steps.append([s["id"], s["status"], str(s["attempts"]), _secs(took), undo, text])
    out += ["", fit(["STEP", "STATUS", "TRIES", "TOOK", "UNDO", "DETAIL"], steps)]
    events = [
        [f"+{_secs(e['at'] - start)}", e["event"], e["step"] or "-", str(e["attempt"] or "-"),
         e["detail"] or "-"]
        for e in d["events"]
    ]  # fmt: skip
    out += ["", fit(["AT", "EVENT", "STEP", "TRY", "DETAIL"], events)]
    return "\n".join(out)


def render_workflow_stats(data: dict[str, Any]) -> str:
    """Instances per state, then each workflow's shape and SLA."""
    found = data["workflows"]
    if not found:
        return "(no workflows)"
    states = _STATES + [s for s in _RARE if any(w["counts"].get(s) for w in found)]
    counts = [[w["workflow"], *(str(w["counts"].get(s, 0)) for s in states)] for w in found]
    head = ["WORKFLOW", *(s.upper() for s in states)]
    shape = []
    for w in found:
        sla = w["sla"] or {}
        shape.append(
            [
                w["workflow"],
                str(len(w["steps"])),
                w["on_failure"] or "(removed)",
                _secs(sla["objective_s"]) if sla else "-",
                (sla["until"] or "completed") if sla else "-",
                f"{sla['met']}/{sla['measured']}" if sla else "-",
                _secs(sla.get("p50_s")),
                _secs(sla.get("p95_s")),
                _secs(sla.get("max_s")),
            ]
        )
    head2 = ["WORKFLOW", "STEPS", "ON FAILURE", "SLA", "UNTIL", "MET", "P50", "P95", "MAX"]
    return fit(head, counts) + "\n\n" + fit(head2, shape)
