"""The admin CLI's output: plain aligned tables (no dependency) from the API's JSON shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer


def _ts(value: float | None) -> str:
    if not value:
        return "-"
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _cut(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
                x["status"] + (" (dead letter)" if x["dead_letter"] else ""),
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


def render_dead(data: dict[str, Any]) -> str:
    rows = [
        [
            d["id"],
            d["route"],
            _ts(d["at"]),
            str(d["attempts"]),
            d["source"] or "-",
            d["type"] or "-",
            _cut(d["reason"], 50),
        ]
        for d in data["items"]
    ]
    head = ["ID", "ROUTE", "DEAD AT", "ATTEMPTS", "SOURCE", "TYPE", "REASON"]
    text = table(head, rows)
    return text + "\n" + _page_footer(data) if "next_cursor" in data else text
