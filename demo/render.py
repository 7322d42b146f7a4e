"""The demo's report, as text: header, progress, instance table, timelines, SLA, parked, verdict.

Pure functions of the triggers and the admin API's answers (``GET /workflows``, ``/workflows/{id}``
and ``/workflows/stats``), so they are tested on canned answers, with and without colour. Every
line fits :data:`~demo.style.WIDTH` columns.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from demo.outcome import ACTIVE, Outcome, counts, problems
from demo.payloads import OUT_OF_STOCK_SKU, SCENARIOS, WORKFLOWS, Batch
from demo.style import WIDTH, Style, objective, pad, safe, seconds

_VENDORS = {"salesforce": "Salesforce", "stripe": "Stripe", "shopify": "Shopify"}
_EVENT_COLOURS = {
    "triggered": ("cyan",),
    "step_succeeded": ("green",),
    "completed": ("green", "bold"),
    "sla_met": ("green",),
    "step_failed": ("red",),
    "undo_failed": ("red",),
    "notify_failed": ("red",),
    "sla_missed": ("red",),
    "parked": ("yellow", "bold"),
    "step_retry": ("yellow",),
    "undo_retry": ("yellow",),
    "compensating": ("magenta",),
    "compensated": ("magenta",),
    "step_skipped": ("dim",),
}
_ENDS_OF_START = {"step_succeeded", "step_failed", "step_retry"}
_WF = max(len(w) for w in WORKFLOWS)
BILLED = ("invoice-paid", "invoice-payment-failed", "subscription-amendment")


def _title(style: Style, text: str) -> str:
    return style.paint(text, "bold")


_NOTES = {"quote-to-cash": "each for a new Account, created in Salesforce first"}
_PHASES = (
    ("", ("quote-to-cash", "direct-commerce")),
    ("then, for the Stripe customers and subscriptions the deals set up:", BILLED),
)


def header(style: Style, run_id: str, router_url: str, admin_url: str, batch: Batch) -> str:
    """What will be sent where, in which order, and what to expect."""
    arrow = "→" if style.fancy else "->"
    times = "\u00d7" if style.fancy else "x"  # a multiplication sign where it can be shown
    sizes = planned(batch)
    scenarios = {s.workflow: s for s in SCENARIOS}
    lines = [
        _title(style, f"Interlock demo {style.dash} run {run_id}"),
        f"Sending {sum(sizes.values())} signed webhooks to {router_url},",
        f"then following each workflow instance through the admin API at {admin_url}.",
    ]
    for intro, workflows in _PHASES:
        lines.append(f"  {style.paint(intro, 'dim')}" if intro else "")
        for workflow in workflows:
            if not sizes[workflow]:
                continue
            scenario = scenarios[workflow]
            what = f"{sizes[workflow]} {times} {_VENDORS[scenario.source]} {scenario.event}"
            path = f"POST /webhooks/{scenario.source}"
            lines.append(f"  {workflow:<{_WF}}  {what:<40} {arrow} {path}")
            note = _NOTES.get(workflow, "")
            if workflow == "direct-commerce" and batch.out_of_stock:
                note = f"{min(batch.out_of_stock, batch.orders)} for {OUT_OF_STOCK_SKU}, which has"
                note += " no stock: expect it to park"
            if note:
                lines.append(f"  {'':<{_WF}}  {style.paint(note, 'dim')}")
    lines += [
        "",
        style.paint(
            f"Every business id carries the run id {run_id}, so a second run starts new instances.",
            "dim",
        ),
    ]
    return "\n".join(lines)


def planned(batch: Batch) -> dict[str, int]:
    """How many triggers each scenario will have, before any is built."""
    return {
        "quote-to-cash": batch.deals,
        "invoice-paid": batch.paid,
        "invoice-payment-failed": batch.failed,
        "subscription-amendment": batch.amendments,
        "direct-commerce": batch.orders,
    }


def progress(
    style: Style,
    outcomes: Sequence[Outcome],
    plan: dict[str, int] | None = None,
    frame: int | None = None,
) -> list[str]:
    """One line per scenario: sent, accepted, completed, parked, running, failed.

    ``plan`` (workflow -> count) adds a waiting line for scenarios not sent yet; ``frame``
    animates a spinner on unfinished scenarios (a terminal), None draws the final marks.
    """
    plan = plan or {}
    total = max(
        [*plan.values(), *(sum(o.trigger.workflow == w for o in outcomes) for w in WORKFLOWS)],
        default=0,
    )
    digits = len(str(total))
    lines = []
    for workflow in WORKFLOWS:
        mine = [o for o in outcomes if o.trigger.workflow == workflow]
        if not mine:
            if plan.get(workflow):
                wait_mark = style.paint("·" if style.fancy else ".", "dim")
                note = f"{plan[workflow]} to send once the deals have set up billing"
                lines.append(f"  {wait_mark} {workflow:<{_WF}}  {style.paint(note, 'dim')}")
            continue
        n = counts(outcomes, workflow)
        done = all(o.settled for o in mine)
        outcome = ("ok" if all(o.ok for o in mine) else "failed") if done else "pending"
        sign = style.progress(outcome, frame)
        fields = []
        for name, colour in (
            ("sent", ""),
            ("accepted", ""),
            ("completed", "green"),
            ("parked", "yellow"),
            ("running", "cyan"),
            ("failed", "red"),
        ):
            value = f"{n[name]:>{digits}}"
            fields.append(f"{name} {style.paint(value, colour) if colour and n[name] else value}")
        lines.append(f"  {sign} {workflow:<{_WF}}  " + "  ".join(fields))
    return lines


def _sla_verdict(style: Style, outcome: Outcome, objective: float | None) -> str:
    measured = None if outcome.instance is None else outcome.instance.get("sla_seconds")
    if objective is None or measured is None:
        return "-"
    return style.paint("met", "green") if measured <= objective else style.paint("missed", "red")


def _marks(style: Style, instance: dict[str, Any] | None) -> str:
    steps = (instance or {}).get("steps")
    if not steps:
        return "-"
    return "".join(style.mark(s.get("status", "pending"), s.get("undo", "none")) for s in steps)


def table(
    style: Style,
    outcomes: Sequence[Outcome],
    objectives: dict[str, float | None],
    now: float,
) -> str:
    """Every instance: scenario, business key, state, steps as marks, duration, SLA met/missed."""
    key_width = min(28, max([len("KEY"), *(len(o.trigger.key) for o in outcomes)]))
    mark_width = max(
        [len("STEPS"), *(len((o.instance or {}).get("steps") or "-") for o in outcomes)]
    )
    head = (
        f"  {'SCENARIO':<{_WF}}  {'KEY':<{key_width}}  {'STATE':<11}  "
        f"{'STEPS':<{mark_width}}  {'TOOK':>7}  SLA"
    )
    lines = [_title(style, head)]
    previous = None
    for o in outcomes:
        workflow = o.trigger.workflow if o.trigger.workflow != previous else ""
        previous = o.trigger.workflow
        key = style.cut(o.trigger.key, key_width)
        marks = pad(_marks(style, o.instance), mark_width)
        state = o.state if o.accepted else ("rejected" if o.sent else "not sent")
        took = seconds(o.took(now))
        sla = _sla_verdict(style, o, objectives.get(o.trigger.workflow))
        lines.append(
            f"  {workflow:<{_WF}}  {key:<{key_width}}  {style.state(state, 11)}  "
            f"{marks}  {took:>7}  {sla}"
        )
    lines.append("  " + style.paint("steps: ", "dim") + style.legend())
    return "\n".join(lines)


def fold(events: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], float | None]]:
    """The timeline with each ``step_started`` folded into the event that ended that attempt.

    The pair becomes one line carrying the attempt's duration; a start with no end yet (the step
    is running) stays as it is.
    """
    out: list[tuple[dict[str, Any], float | None]] = []
    for i, event in enumerate(events):
        following = events[i + 1] if i + 1 < len(events) else None
        if (
            event.get("event") == "step_started"
            and following is not None
            and following.get("event") in _ENDS_OF_START
            and following.get("step") == event.get("step")
            and following.get("attempt") == event.get("attempt")
        ):
            continue
        took = None
        previous = events[i - 1] if i > 0 else None
        if (
            previous is not None
            and previous.get("event") == "step_started"
            and event.get("event") in _ENDS_OF_START
            and previous.get("step") == event.get("step")
        ):
            took = float(event["at"]) - float(previous["at"])
        out.append((event, took))
    return out


def _pick(outcomes: Sequence[Outcome]) -> Outcome | None:
    """The instance worth showing: one that parked or failed, else the first that has events."""
    shown = [o for o in outcomes if o.instance is not None and o.instance.get("events")]
    return next((o for o in shown if o.state != "completed"), shown[0] if shown else None)


def timeline(style: Style, outcome: Outcome) -> str:
    """One instance's events, with the time since its trigger was received."""
    instance = outcome.instance or {}
    start = float(instance.get("received_at") or 0.0)
    events = fold(instance.get("events") or [])
    step_width = min(26, max([4, *(len(e.get("step") or "") for e, _ in events)]))
    title = f"{outcome.trigger.workflow}  {outcome.trigger.key}  "
    room = WIDTH - len(title) - len(outcome.state or "not started") - 2
    label = style.paint(f"  {style.cut(outcome.trigger.label, room)}", "dim") if room > 8 else ""
    lines = [_title(style, title) + style.state(outcome.state) + label]
    used = 2 + 8 + 2 + 17 + 2 + step_width + 2 + 6 + 2
    for event, took in events:
        name = str(event.get("event", ""))
        since = f"+{float(event.get('at', start)) - start:.3f}s"
        attempt = event.get("attempt")
        detail = str(event.get("detail") or "")
        if attempt and attempt > 1:
            detail = f"attempt {attempt}" + (f": {detail}" if detail else "")
        lines.append(
            f"  {since:>8}  {pad(style.paint(name, *_EVENT_COLOURS.get(name, ())), 17)}  "
            f"{style.cut(event.get('step') or '', step_width):<{step_width}}  "
            f"{seconds(took) if took is not None else '':>6}  "
            f"{style.paint(style.cut(detail, WIDTH - used), 'dim')}".rstrip()
        )
    return "\n".join(lines)


def timelines(style: Style, outcomes: Sequence[Outcome]) -> str:
    """One timeline per scenario (a parked or failed instance when there is one)."""
    blocks = []
    for workflow in WORKFLOWS:
        chosen = _pick([o for o in outcomes if o.trigger.workflow == workflow])
        if chosen is not None:
            blocks.append(timeline(style, chosen))
    return "\n\n".join(blocks)


def objectives(stats: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Workflow -> SLA objective in seconds (None: the workflow has no objective)."""
    return {str(w.get("workflow")): (w.get("sla") or {}).get("objective_s") for w in stats}


def sla(style: Style, stats: Sequence[dict[str, Any]]) -> str:
    """Objective, instances measured, met, missed, p50, p95 and max for each demo workflow."""
    rows = [w for name in WORKFLOWS for w in stats if w.get("workflow") == name]
    head = (
        f"  {'WORKFLOW':<{_WF}}  {'OBJECTIVE':>9}  {'MEASURED':>8}  {'MET':>5}  {'MISSED':>6}  "
        f"{'P50':>7}  {'P95':>7}  {'MAX':>7}"
    )
    lines = [_title(style, head)]
    notes = []
    for w in rows:
        figures = w.get("sla")
        if not figures:
            lines.append(f"  {w['workflow']:<{_WF}}  {style.paint('no objective', 'dim')}")
            continue
        met, missed = int(figures.get("met") or 0), int(figures.get("missed") or 0)
        met_text, missed_text = f"{met:>5}", f"{missed:>6}"
        lines.append(
            f"  {w['workflow']:<{_WF}}  {objective(figures.get('objective_s')):>9}  "
            f"{int(figures.get('measured') or 0):>8}  "
            f"{style.paint(met_text, 'green') if met else met_text}  "
            f"{style.paint(missed_text, 'red') if missed else missed_text}  "
            f"{seconds(figures.get('p50_s')):>7}  {seconds(figures.get('p95_s')):>7}  "
            f"{seconds(figures.get('max_s')):>7}"
        )
        if figures.get("until"):
            notes.append(f"{w['workflow']}: the clock stops when step {figures['until']} succeeds")
    if not rows:
        lines.append(
            style.paint("  the router reported no figures for the demo's workflows", "dim")
        )
    notes.append("every instance the router has measured, not only this run's")
    lines += [style.paint(f"  {note}", "dim") for note in notes]
    return "\n".join(lines)


def parked(style: Style, outcomes: Sequence[Outcome], cli_options: str = "") -> str:
    """For each parked instance: why, and the exact commands that act on it.

    The commands are never shortened, so they can be pasted as they are (the comments too: they
    are shell comments); with a custom ``--url`` a line may pass the usual width.
    """
    blocks = []
    for o in outcomes:
        if o.state != "parked" or o.id is None:
            continue
        instance = o.instance or {}
        step = instance.get("failed_step") or instance.get("current_step") or "the failed step"
        reason = instance.get("reason") or f"step {step} failed"
        suffix = f" {cli_options}" if cli_options else ""
        commands = [  # skip and cancel give up on work, so the CLI insists on a reason
            ("retry", "", f"run {step} again, once its cause is fixed (stock arrived, say)"),
            ("skip", ' --reason "done by hand"', f"count {step} as done and go on"),
            ("cancel", ' --reason "cannot be served"', "undo the steps that finished, then stop"),
        ]
        lines = [
            f"  {style.paint(o.trigger.workflow, 'bold')} {o.trigger.key}  "
            + style.paint(style.cut(o.trigger.label, WIDTH - 30), "dim"),
            f"    {style.paint(style.cut(reason, WIDTH - 4), 'yellow')}",
        ]
        for action, options, why in commands:
            lines.append(f"    {style.paint('# ' + style.cut(why, WIDTH - 6), 'dim')}")
            lines.append(f"    interlock workflows {action} {o.id}{options}{suffix}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def verdict(style: Style, outcomes: Sequence[Outcome], timeout: float) -> str:
    """The last word: all good, or what did not end as expected."""
    trouble = problems(outcomes)
    states = [o.state for o in outcomes]
    if not trouble:
        done = states.count("completed")
        parked_n = states.count("parked")
        text = f"All {len(outcomes)} triggers accepted: {done} completed"
        if parked_n:
            text += f", {parked_n} parked as expected (out of stock)"
        return style.paint(("✓ " if style.fancy else "OK ") + text + ".", "green", "bold")
    still = sum(o.accepted and (o.state is None or o.state in ACTIVE) for o in outcomes)
    head = f"{len(trouble)} of {len(outcomes)} triggers did not end as expected"
    if still:
        head += f" ({still} still unsettled after {seconds(timeout)})"
    lines = [style.paint(("✗ " if style.fancy else "FAILED ") + head + ":", "red", "bold")]
    for line in trouble:
        lines += textwrap.wrap(
            safe(line),
            WIDTH,
            initial_indent="  ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
    return "\n".join(lines)
