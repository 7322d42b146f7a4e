"""The reconciliation part of the demo's report: progress, each run's report, recheck, verdict.

Pure functions of :class:`demo.reconcile.Reconciling` (the admin API's answers for runs and
reports), tested on canned answers like :mod:`demo.render`. Every line fits
:data:`~demo.style.WIDTH` columns, except the commands, which are never shortened.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from canonical.money import minor_exponent
from demo.reconcile import CLASSES, JOBS, RECHECK, JobRun, Reconciling, sides
from demo.style import WIDTH, Style, safe, seconds

_JOB = max(len(j) for j in JOBS)
_MONEY = re.compile(r"^([A-Z]{3}) (-?\d+)$")  # how the money rule keeps an amount: minor units
_CLASS_COLOURS = {"missing_right": "yellow", "mismatched": "yellow", "missing_left": "magenta"}
_OUTCOME_COLOURS = {
    "repaired": "green",
    "already_repaired": "green",
    "repair_failed": "red",
    "repair_dead_lettered": "red",
    "parked": "yellow",
    "ignored": "dim",
}
_OTHER_OUTCOMES = (
    ("already_repaired", "already repaired"),
    ("repair_failed", "failed to repair"),
    ("repair_dead_lettered", "with a dead-lettered repair"),
    ("parked", "parked for an operator"),
    ("ignored", "ignored"),
)
_DETAIL = 21  # the detail lines start under the KEY column


def _title(style: Style, text: str) -> str:
    return style.paint(text, "bold")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _wrap(text: str, indent: str, hang: str = "  ") -> list[str]:
    return textwrap.wrap(
        safe(text),
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_on_hyphens=False,
    )


def header_line(style: Style) -> str:
    """The header's promise: which jobs run after the workflows."""
    first, second = JOBS
    text = (
        f"Then the reconciliation jobs {first} and {second} run now (POST /jobs/{{job}}/run), "
        f"and {RECHECK} again once its repairs are delivered."
    )
    return "\n".join(style.paint(line, "dim") for line in _wrap(text, "", ""))


def progress(style: Style, runs: Sequence[JobRun], frame: int | None = None) -> list[str]:
    """One line per run the demo started: job, run id, state (or phase), time taken.

    ``frame`` animates a spinner on runs still going (a terminal), None draws the final marks.
    """
    lines = []
    seen: set[str] = set()
    for r in runs:
        again = r.job in seen
        seen.add(r.job)
        failed = r.error is not None or r.state not in {None, "running"}
        sign = style.progress("ok" if r.ok else "failed" if failed else "pending", frame)
        state = r.state or "starting"
        if state == "running":
            phases = [str(x.get("phase")) for x in r.reconciliations()]
            state = f"running ({', '.join(phases)})" if phases else state
        took = seconds(float((r.run or {}).get("seconds") or 0.0)) if r.ok else ""
        note = style.paint("again, after the repairs", "dim") if again else ""
        line = f"  {sign} {r.job:<{_JOB}}  {r.id or '-':<{_JOB + 3}}  {state:<10}  {took:>6}"
        lines.append(f"{line}  {note}".rstrip())
    return lines


def money(value: Any) -> str:
    """``USD 38588`` (the report keeps minor units) as people read it: ``USD 385.88``."""
    text = safe(str(value))
    match = _MONEY.match(text)
    if match is None:
        return text
    code, minor = match.group(1), int(match.group(2))
    try:
        exponent = minor_exponent(code)
    except ValueError:
        return text
    sign = "-" if minor < 0 else ""
    if exponent == 0:
        return f"{code} {sign}{abs(minor)}"
    whole, part = divmod(abs(minor), 10**exponent)
    return f"{code} {sign}{whole}.{part:0{exponent}d}"


def _values(side: dict[str, Any] | None) -> str:
    if not side:
        return "none"
    return ", ".join(f"{name} {money(value)}" for name, value in side.items())


def counts_line(style: Style, counts: dict[str, int], names: tuple[str, str]) -> str:
    """``matched 47  missing_right 3 (not in NetSuite)  mismatched 2  missing_left 1 (...)``."""
    left, right = names
    notes = {"missing_right": f" (not in {right})", "missing_left": f" (not in {left})"}
    parts = []
    for name in CLASSES:
        n = counts.get(name, 0)
        text = f"{name} {n}"
        if n and name in _CLASS_COLOURS:
            text = style.paint(text, _CLASS_COLOURS[name]) + style.paint(notes.get(name, ""), "dim")
        parts.append(text)
    return "  ".join(parts)


def _handling(style: Style, row: dict[str, Any], room: int) -> str:
    """``repair → repaired``, ``parked``, or ``ignored (why)``."""
    arrow = "→" if style.fancy else "->"
    outcome = str(row.get("outcome") or row.get("handling") or "-")
    painted = style.paint(outcome, _OUTCOME_COLOURS.get(outcome, "red"))
    repair = row.get("handling") == "repair"
    text = f"repair {arrow} {painted}" if repair else painted
    used = len(f"repair {arrow} {outcome}") if repair else len(outcome)
    reason = row.get("reason")
    if reason and room - used > 8:
        text += style.paint(f" ({style.cut(str(reason), room - used - 3)})", "dim")
    return text


def _detail(style: Style, row: dict[str, Any], names: tuple[str, str]) -> list[str]:
    """What the row's sides hold: each side's differing fields, or the one side that has it."""
    if row.get("class") == "mismatched":
        fields = list(row.get("fields") or [])
        return [
            f"{name}: "
            + _values({f: (row.get(side) or {}).get(f) for f in fields} if fields else None)
            for name, side in zip(names, ("left", "right"), strict=True)
        ]
    dot = "·" if style.fancy else "|"
    left, right = names
    return [f"{left}: {_values(row.get('left'))} {dot} {right}: {_values(row.get('right'))}"]


def _handled(style: Style, run: JobRun, reconciliation: dict[str, Any]) -> list[str]:
    """What the run did about its exceptions: repairs sent (and delivered), parked, ignored."""
    handled: dict[str, int] = reconciliation.get("handled") or {}

    def total(outcome: str) -> int:
        return sum(n for k, n in handled.items() if k.rpartition(":")[2] == outcome)

    text = f"{total('repaired')} to repair"
    repairs = run.repairs.get(str(reconciliation.get("reconciliation")))
    trouble = bool(total("repair_failed") or total("repair_dead_lettered"))
    if repairs is not None:
        text += f" ({repairs.delivered} delivered through route {repairs.route}"
        if repairs.dead:
            text += f", {repairs.dead} dead-lettered"
        elif not repairs.done:
            text += f", {repairs.sent - repairs.delivered} not yet"
        text += ")"
        trouble = trouble or repairs.delivered < repairs.sent
    parts = [text] + [f"{total(o)} {words}" for o, words in _OTHER_OUTCOMES if total(o)]
    colour = "red" if trouble else "dim"
    lines = _wrap("; ".join(parts), "      ")
    return [
        line[: len(line) - len(line.lstrip())] + style.paint(line.lstrip(), colour)
        for line in lines
    ]


def report(style: Style, run: JobRun, reconciliation: dict[str, Any], cli_options: str) -> str:
    """One reconciliation of a run: records read, counts per class, the exception rows."""
    name = str(reconciliation.get("reconciliation"))
    names = sides(name)
    read = reconciliation.get("sides") or {}
    records = [int((read.get(k) or {}).get("records", 0)) for k in ("left", "right")]
    lines = [
        f"    {_title(style, name)}  "
        + style.paint(f"{names[0]} {records[0]} records, {names[1]} {records[1]}", "dim"),
        "      " + counts_line(style, run.counts(name), names),
    ]
    page = run.reports.get(name) or {}
    order = {c: i for i, c in enumerate(CLASSES)}
    rows = sorted(page.get("rows") or [], key=lambda r: order.get(str(r.get("class")), 9))
    if not rows:
        lines.append("      " + style.paint("no exceptions: both sides agree", "green"))
    key_width = min(34, max([3, *(len(str(r.get("key"))) for r in rows)]))
    if rows:
        lines.append(_title(style, f"      {'CLASS':<13}  {'KEY':<{key_width}}  HANDLING"))
    room = WIDTH - _DETAIL - key_width - 2
    for row in rows:
        kind = str(row.get("class"))
        key = style.cut(str(row.get("key")), key_width)
        lines.append(
            f"      {style.paint(f'{kind:<13}', _CLASS_COLOURS.get(kind, 'red'))}  "
            f"{key:<{key_width}}  {_handling(style, row, room)}"
        )
        lines += [
            " " * _DETAIL + style.paint(style.cut(text, WIDTH - _DETAIL), "dim")
            for text in _detail(style, row, names)
        ]
    more = int(page.get("exceptions") or 0) - len(rows)
    if more > 0:
        suffix = f" {cli_options}" if cli_options else ""
        lines.append(
            style.paint(f"      ... and {more} more:", "dim")
            + f" interlock reconcile report {run.id} --reconciliation {name}{suffix}"
        )
    lines += _handled(style, run, reconciliation)
    lines += [
        "      " + style.paint(style.cut(f"alert failed: {e}", WIDTH - 6), "red")
        for e in reconciliation.get("alert_errors") or []
    ]
    return "\n".join(lines)


def _run_line(style: Style, run: JobRun) -> str:
    """``payments-daily.1  succeeded in 28ms  <description, or why it failed>``."""
    if run.run is None:
        error = run.error or "not started"
        return f"  {_title(style, run.job)}  " + style.paint(
            style.cut(error, WIDTH - len(run.job) - 4), "red"
        )
    state = str(run.state)
    took = f" in {seconds(float(run.run.get('seconds') or 0.0))}" if run.ok else ""
    head = f"  {_title(style, str(run.id))}  {style.paint(state, 'green' if run.ok else 'red')}"
    head += took
    used = 2 + len(str(run.id)) + 2 + len(state) + len(took) + 2
    reason = run.run.get("reason") or run.error
    text = str(reason) if reason else run.description
    if text and WIDTH - used > 10:
        head += "  " + style.paint(style.cut(text, WIDTH - used), "red" if reason else "dim")
    return head


def runs(style: Style, result: Reconciling, cli_options: str) -> str:
    """Each job's first run: its line, then each of its reconciliations' reports."""
    blocks = []
    for run in result.runs:
        parts = [_run_line(style, run)]
        parts += [report(style, run, r, cli_options) for r in run.reconciliations()]
        blocks.append("\n".join(parts))
    notes = [style.paint(line, "yellow") for n in result.notes for line in _wrap(n, "  note: ")]
    return "\n\n".join([*blocks, *(["\n".join(notes)] if notes else [])])


def recheck(style: Style, result: Reconciling, cli_options: str) -> str:
    """The second run of :data:`RECHECK`: its counts, whether it is in step, the commands."""
    again = result.recheck
    first = next((r for r in result.runs if r.job == RECHECK), None)
    if again is None or first is None:
        return ""
    lines = [_run_line(style, again)]
    for recon in again.reconciliations():
        name = str(recon.get("reconciliation"))
        lines.append(f"    {_title(style, name)}")
        lines.append(f"      {counts_line(style, again.counts(name), sides(name))}")
    repaired = sum(r.delivered for r in first.repairs.values())
    waiting = sum(
        n
        for r in again.reconciliations()
        for k, n in (r.get("handled") or {}).items()
        if k.endswith(":parked")
    )
    if again.ok and again.in_step():
        if repaired:
            text = f"in step: the {_n(repaired, 'record')} {first.id} repaired now match"
        else:
            text = "in step: 0 to repair, as before (an earlier run repaired the records)"
        if waiting:
            text += f"; {_n(waiting, 'parked exception')} for an operator"
        sign = "✓ " if style.fancy else "OK "
        lines += [style.paint(line, "green") for line in _wrap(sign + text, "    ")]
    elif again.ok:
        lines.append("    " + style.paint("still out of step: see the counts above", "red"))
    suffix = f" {cli_options}" if cli_options else ""
    parked = str((first.reconciliations() or [{}])[0].get("reconciliation") or "")
    commands = [
        ("# every row of the first run's report (--csv for a spreadsheet)", True),
        (f"interlock reconcile report {first.id}{suffix}", False),
        ("# what waits for an operator, with both sides' values", bool(parked)),
        (f"interlock reconcile parked {parked}{suffix}", False) if parked else ("", False),
        ("# the jobs, their schedules and their runs", True),
        (f"interlock jobs list{suffix}", False),
        (f"interlock jobs history {RECHECK}{suffix}", False),
    ]
    lines.append("")
    lines += [
        "    " + (style.paint(text, "dim") if comment else text)
        for text, comment in commands
        if text
    ]
    return "\n".join(lines)


def verdict(style: Style, result: Reconciling) -> str:
    """The reconciliation's last word, beside the triggers' one."""
    trouble = result.problems()
    if not trouble and result.ok:
        found = sum(int(p.get("exceptions") or 0) for r in result.runs for p in r.reports.values())
        again = result.recheck.id if result.recheck else RECHECK
        text = (
            f"All {len(result.runs) + (result.recheck is not None)} reconciliation runs succeeded: "
            f"{_n(found, 'exception')} reported, and {again} finds the records in step."
        )
        sign = "✓ " if style.fancy else "OK "
        return "\n".join(style.paint(line, "green", "bold") for line in _wrap(sign + text, ""))
    head = "The reconciliation did not end as expected:"
    lines = [style.paint(("✗ " if style.fancy else "FAILED ") + head, "red", "bold")]
    for line in trouble or ["no reconciliation run was started"]:
        lines += _wrap(line, "  ")
    return "\n".join(lines)
