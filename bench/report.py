"""The terminal table and the JSON files of one benchmark run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"
_BUSY_MACHINE = 0.25  # cores used by other processes during a step that make it suspect


def write(
    result: dict[str, Any], out_dir: Path, *, smoke: bool, stamp: str | None = None
) -> list[Path]:
    """Write ``<prefix>latest.json`` and a timestamped copy under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = "smoke-" if smoke else ""
    stamp = stamp or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    data = orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    paths = [out_dir / f"{prefix}latest.json", out_dir / f"{prefix}{stamp}.json"]
    for path in paths:
        path.write_bytes(data + b"\n")
    return paths


def _short(text: str, limit: int = 200) -> str:
    """One line: the last ``limit`` characters of ``text`` with whitespace collapsed."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "..." + flat[-limit:]


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


# The closed-loop connection counts the goals name (the plan may measure others too).
GOAL_CONNECTIONS = (16, 64, 256)
PAIRS = (("interlock", "bare"), ("interlock", "limit"), ("limit", "bare"))


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None as soon as a level is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """Every ratio between the targets of one run, from its recorded figures (None: not measured).

    ``<a>_vs_<b>_closed_<n>``: closed-loop ``throughput`` at ``n`` connections
    (``ingest.targets.<a>.closed_loops.<n>``) of ``a`` over ``b``; ``<a>_vs_<b>_sustained``: the
    open-loop ``sustained_rate``; ``cpu_per_accepted_interlock_vs_<b>_*``: the steps'
    ``server_cpu_us_per_accepted`` (closed loop 64, each target at its own sustained step
    ``at_sustained``, and at the same half-sustained rate ``half_sustained``);
    ``ack_p99_interlock_vs_bare_half_sustained``: ``half_sustained.latency_ms.p99``;
    ``pipeline_vs_parts``: ``cost_ratio``; ``e2e_*``: ``end_to_end.ratios``;
    ``reconcile_<large>_vs_<small>_rate`` (``reconcile_100k_vs_10k_rate``): the reconciliation's
    records/s at its largest size over its smallest (``reconcile.rate_ratio``).
    """
    ing = result.get("ingest", {})
    targets: dict[str, Any] = ing.get("targets", {}) if ing.get("status") == "ok" else {}
    recorded = {int(c) for t in targets.values() for c in t.get("closed_loops", {})}
    out: dict[str, float | None] = {}

    def closed(name: str, count: int, *field: str) -> Any:
        return _dig(targets, name, "closed_loops", str(count), *field)

    for a, b in PAIRS:
        for count in sorted(recorded | set(GOAL_CONNECTIONS)):
            out[f"{a}_vs_{b}_closed_{count}"] = _ratio(
                closed(a, count, "throughput"), closed(b, count, "throughput")
            )
        out[f"{a}_vs_{b}_sustained"] = _ratio(
            _dig(targets, a, "sustained_rate"), _dig(targets, b, "sustained_rate")
        )
    cpu = "server_cpu_us_per_accepted"
    for b in ("bare", "limit"):
        out[f"cpu_per_accepted_interlock_vs_{b}_closed_64"] = _ratio(
            closed("interlock", 64, cpu), closed(b, 64, cpu)
        )
    for step in ("at_sustained", "half_sustained"):
        out[f"cpu_per_accepted_interlock_vs_bare_{step.removeprefix('at_')}"] = _ratio(
            _dig(targets, "interlock", step, cpu), _dig(targets, "bare", step, cpu)
        )
    for b in ("bare", "limit"):  # limit's: how much of the gap is the fsync itself
        out[f"ack_p99_interlock_vs_{b}_half_sustained"] = _ratio(
            _dig(targets, "interlock", "half_sustained", "latency_ms", "p99"),
            _dig(targets, b, "half_sustained", "latency_ms", "p99"),
        )
    out["pipeline_vs_parts"] = result.get("cost_ratio")
    e2e = result.get("end_to_end", {})
    if e2e.get("status") == "ok":
        out.update({f"e2e_{k}": v for k, v in e2e.get("ratios", {}).items()})
    rec = result.get("reconcile", {})
    if rec.get("status") == "ok":
        out[rec["ratio_key"]] = rec["rate_ratio"]
    return out


# (ratio key, what it is, comparison, bound): the goals of issue "The hot path".
GOALS: tuple[tuple[str, str, str, float], ...] = (
    ("interlock_vs_bare_closed_64", "durable ingest / bare, closed loop 64 conns", ">=", 0.75),
    *(
        (
            f"interlock_vs_limit_closed_{n}",
            f"durable ingest / limit, closed loop {n} conns",
            ">=",
            0.9,
        )
        for n in GOAL_CONNECTIONS
    ),
    (
        "cpu_per_accepted_interlock_vs_bare_closed_64",
        "server CPU per accepted request / bare's, closed 64",
        "<=",
        1.5,
    ),
    (
        "cpu_per_accepted_interlock_vs_bare_sustained",
        "server CPU per accepted request / bare's, at sustained",
        "<=",
        1.5,
    ),
    ("pipeline_vs_parts", "pipeline cost / sum of unavoidable parts", "<=", 2.0),
    ("e2e_interlock_vs_forwarder", "end to end / point-to-point forwarder", ">=", 0.8),
    (
        "ack_p99_interlock_vs_bare_half_sustained",
        "ack p99 at half the sustained rate / bare's",
        "<=",
        2.0,
    ),
)


def _row(key: str, goal: str, op: str, bound: float, measured: float | None) -> dict[str, Any]:
    met = None if measured is None else (measured >= bound if op == ">=" else measured <= bound)
    return {"key": key, "goal": goal, "op": op, "bound": bound, "measured": measured, "met": met}


def goals(result: dict[str, Any], found: dict[str, float | None]) -> list[dict[str, Any]]:
    """The goals table: each goal with its measured value and whether it was met (None: not
    measured in this run)."""
    rows = [_row(key, goal, op, bound, found.get(key)) for key, goal, op, bound in GOALS]
    ovl = result.get("overload", {})
    ok = ovl.get("status") == "ok"
    plan = ovl.get("plan", {})
    what = f"overload {plan.get('factor', 2.0):g}x for {plan.get('duration_s', 60.0):g} s"
    p99 = _dig(ovl, "accepted_latency_ms", "p99") if ok else None
    bound = float(ovl.get("p99_bound_ms") or 50.0)
    rows.append(_row("overload_accepted_p99_ms", f"{what}: accepted p99 (ms)", "<=", bound, p99))
    lost = _row("overload_lost", f"{what}: accepted requests lost", "<=", 0, ovl.get("lost"))
    if ok:  # lost counts missing messages; no_loss also needs nothing left pending
        lost["met"] = bool(ovl.get("no_loss"))
    rows.append(lost)
    return rows


def summarise(result: dict[str, Any]) -> None:
    """Add the run's ``ratios`` and ``goals`` to ``result`` (the JSON keeps them)."""
    result["ratios"] = ratios(result)
    result["goals"] = goals(result, result["ratios"])


def _goals(result: dict[str, Any]) -> list[str]:
    rows = result.get("goals") or goals(result, result.get("ratios") or ratios(result))
    lines = ["", 'Goals (issue "The hot path"), as measured in this run']
    for row in rows:
        measured = row["measured"]
        if measured is None:
            value = "-"
        elif isinstance(measured, int) or measured >= 100:
            value = f"{measured:,.0f}"
        else:
            value = f"{measured:.2f}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
        bound = f"{row['op']} {row['bound']:g}"
        lines.append(f"   {row['goal']:<58} {value:>8}   {bound:<8} {verdict}")
    return lines


def _machine(m: dict[str, Any]) -> list[str]:
    dirty = "+dirty" if m["git_dirty"] else ""
    return [
        f"machine   {m['cores']} cores ({m['usable_cores']} usable), {m['cpu_model']}, "
        f"{m['memory_bytes'] / 2**30:.1f} GiB",
        f"software  Python {m['python']} on {m['platform']}",
        f"commit    {m['git_commit']}{dirty}    load average at start {m['loadavg'][0]:.2f}"
        + ("  (busy machine: expect noisy figures)" if m["loadavg"][0] > m["cores"] / 2 else ""),
    ]


def _pipeline(r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "1. In-process pipeline (embedded engine, sync-on LMDB, transform, null connector)",
    ]
    pipe, parts = r.get("pipeline", {}), r.get("parts", {})
    if pipe.get("status") == "ok":
        lines.append(
            f"   pipeline          {_num(pipe['msgs_per_s'])} msg/s   {pipe['us_per_msg']:.1f} "
            f"µs/msg   ({pipe['messages']:,} msgs, {pipe['concurrency']} submitters, "
            f"CPU {pipe['cpu_util']:.0%} of a core)"
        )
    else:
        lines.append(f"   pipeline          {pipe.get('status')}: {_short(pipe.get('reason', ''))}")
    if parts.get("status") == "ok":
        lines.append(
            f"   sum of parts      {parts['sum_us']:.1f} µs/msg = orjson {parts['orjson_parse_us']}"
            f" + pydantic {parts['pydantic_validate_us']} + msgpack {parts['msgpack_pack_us']}"
            f" + LMDB put/100-commit {parts['lmdb_put_batched_us']}"
        )
    if r.get("cost_ratio") is not None:
        lines.append(
            f"   cost ratio        {r['cost_ratio']:.2f}x  (pipeline µs / sum-of-parts µs)"
        )
    mapping = r.get("mapping_cost", {})
    if mapping.get("status") == "ok":
        figures = ", ".join(
            f"{k} {v:,.0f}" if k.endswith("_bytes") else f"{k} {v:,.1f}"
            for k, v in mapping["figures"].items()
        )
        lines.append(f"   mapping cost      {figures}")
    elif mapping:
        lines.append(
            f"   mapping cost      {mapping.get('status')}: {_short(mapping.get('reason', ''))}"
        )
    return lines


def _step_cells(step: dict[str, Any] | None) -> str:
    if step is None:
        return f"{'':>29}"
    lat = step["latency_ms"]
    mark = "ok" if step["passed"] else ("lg!" if step["loadgen"]["limited"] else "NO")
    if step.get("background_cpu_cores", 0.0) > _BUSY_MACHINE:
        mark += "*"
    return f"{lat['p50']:>7.2f} {lat['p99']:>8.2f} {lat['p999']:>8.2f} {mark:<4}"


def _closed_table(targets: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    """Closed-loop throughput, p99 and server CPU per accepted request, by connection count."""
    counts = sorted({int(c) for n in names for c in targets[n].get("closed_loops", {})})
    if not counts:
        return []
    header = "".join(f" | {n:^25}" for n in names)
    sub = "".join(f" | {'req/s':>8} {'p99 ms':>7} {'µs/acc':>7}" for _ in names)
    lines = [
        "   closed loop: each connection sends again as soon as it is answered (service times;"
        " µs/acc = server CPU per accepted request)",
        f"   {'conns':>7}{header}",
        f"   {'':>7}{sub}",
    ]
    for count in counts:
        cells = ""
        for name in names:
            step = targets[name].get("closed_loops", {}).get(str(count))
            if step is None:
                cells += f" | {'':>25}"
                continue
            mark = "!" if step["errors"] else ("*" if _busy(step) else " ")
            cpu = _num(step.get("server_cpu_us_per_accepted"))
            cells += (
                f" | {step['throughput']:>8,.0f} {step['latency_ms']['p99']:>7.2f} {cpu:>7}{mark}"
            )
        lines.append(f"   {count:>7}{cells}")
    lines.append("   ! = some requests failed (see the JSON), * = other processes were busy")
    return lines


def _busy(step: dict[str, Any]) -> bool:
    return bool(step.get("background_cpu_cores", 0.0) > _BUSY_MACHINE)


def _ratio_lines(r: dict[str, Any]) -> list[str]:
    found = r.get("ratios") or ratios(r)
    counts = sorted(
        {int(k.rsplit("_", 1)[1]) for k in found if k.startswith("interlock_vs_bare_closed_")}
    )
    head = "".join(f"{'closed ' + str(c):>11}" for c in counts)
    lines = [f"   {'ratio':<16}{head}{'sustained':>11}"]
    for a, b in (("interlock", "bare"), ("interlock", "limit"), ("limit", "bare")):
        cells = "".join(f"{_num(found.get(f'{a}_vs_{b}_closed_{c}'), '.2f'):>11}" for c in counts)
        sustained = _num(found.get(f"{a}_vs_{b}_sustained"), ".2f")
        lines.append(f"   {a + '/' + b:<16}{cells}{sustained:>11}")
    lines.append(
        "   server CPU per accepted request, interlock/bare: closed 64 "
        f"{_num(found.get('cpu_per_accepted_interlock_vs_bare_closed_64'), '.2f')}, at sustained "
        f"{_num(found.get('cpu_per_accepted_interlock_vs_bare_sustained'), '.2f')}, at half rate "
        f"{_num(found.get('cpu_per_accepted_interlock_vs_bare_half_sustained'), '.2f')}; "
        "interlock/limit closed 64 "
        f"{_num(found.get('cpu_per_accepted_interlock_vs_limit_closed_64'), '.2f')}"
    )
    return lines


def _half_lines(targets: dict[str, dict[str, Any]], r: dict[str, Any]) -> list[str]:
    halves = {n: t["half_sustained"] for n, t in targets.items() if t.get("half_sustained")}
    if not halves:
        return []
    rate = next(iter(halves.values()))["offered_rate"]
    cells = ", ".join(
        f"{n} p50 {h['latency_ms']['p50']:.2f} p99 {h['latency_ms']['p99']:.2f} ms"
        + ("" if h["errors"] == 0 else f" ({h['errors']} errors)")
        for n, h in halves.items()
    )
    found = r.get("ratios") or ratios(r)
    ratio = _num(found.get("ack_p99_interlock_vs_bare_half_sustained"), ".2f")
    to_limit = _num(found.get("ack_p99_interlock_vs_limit_half_sustained"), ".2f")
    return [
        f"   at half interlock's sustained rate ({rate:,.0f}/s, open loop): {cells};"
        f" ack p99 interlock/bare {ratio}, interlock/limit {to_limit}"
    ]


def _ingest(r: dict[str, Any]) -> list[str]:
    ing = r.get("ingest", {})
    lines = [
        "",
        "2. HTTP durable ingest vs bare aiohttp and the journal-only limit (open loop, latency "
        "from intended send)",
    ]
    if ing.get("status") != "ok":
        return [*lines, f"   {ing.get('status')}: {_short(ing.get('reason', ''))}"]
    plan, targets = ing["plan"], ing["targets"]
    names = list(targets)
    lines.append(
        f"   load generator: 1 process, raw HTTP/1.1 keep-alive, {plan['open_connections']} "
        f"connections, {plan['step_s']:g} s steps, every request signed; it shares the "
        f"{r['machine']['cores']} cores with the server under test"
    )
    if "interlock_unavailable" in ing:
        lines.append(f"   interlock not measured: {_short(ing['interlock_unavailable'])}")
    header = "".join(f" | {n:^29}" for n in names)
    sub = "".join(f" | {'p50':>7} {'p99':>8} {'p999':>8} ok? " for _ in names)
    lines += [f"   {'rate/s':>7}{header}", f"   {'':>7}{sub}  (ms)"]
    by_rate: dict[float, dict[str, dict[str, Any]]] = {}
    for name in names:
        for step in targets[name]["steps"]:
            if not step.get("superseded"):  # a disturbed failure that was run again
                by_rate.setdefault(step["offered_rate"], {})[name] = step
    for rate in sorted(by_rate):
        cells = "".join(f" | {_step_cells(by_rate[rate].get(n))}" for n in names)
        lines.append(f"   {rate:>7,.0f}{cells}")
    lines.append(
        f"   pass: 0 errors, p99 <= {plan['p99_bound_ms']:g} ms, >= 95% of offered answered;"
        " lg! = failed while the load generator was saturated"
    )
    background = max(
        (s.get("background_cpu_cores", 0.0) for t in targets.values() for s in t["steps"]),
        default=0.0,
    )
    lines.append(
        f"   * = other processes used > {_BUSY_MACHINE} cores meanwhile"
        f" (max over steps: {background:.2f} cores); a failed step marked so was run again"
    )
    lines.append("")
    for name in names:
        t = targets[name]
        limited = (
            " (load generator limited: true ceiling may be higher)"
            if t["limited_by_loadgen"]
            else ""
        )
        at = t["at_sustained"]
        cpu = f", server CPU {_num(at.get('server_cpu_us_per_accepted'))} µs/accepted" if at else ""
        lines.append(f"   {name:<9} sustained {_num(t['sustained_rate'])}/s{cpu}{limited}")
    lines += _half_lines(targets, r)
    lines += ["", *_closed_table(targets, names), "", *_ratio_lines(r)]
    return lines


def _e2e(r: dict[str, Any]) -> list[str]:
    e2e = r.get("end_to_end")
    if e2e is None:
        return []
    lines = ["", "3. End to end: webhook -> transform -> HTTP delivery to a sink, vs alternatives"]
    if e2e.get("status") != "ok":
        return [*lines, f"   {e2e.get('status')}: {_short(e2e.get('reason', ''))}"]
    lines.append(
        "   pass: HTTP answers as in 2., and every request delivered with delivery p99 <= "
        f"{e2e['plan']['p99_bound_ms']:g} ms (from intended send to arrival at the sink)"
    )
    lines.append(
        f"   {'target':<9} {'sustained':>10}   {'answer p50/p99':>16}   {'delivery p50/p99':>17}"
        "   first failed"
    )
    for name, t in e2e["targets"].items():
        at = t["at_sustained"]
        answer = delivered = "-"
        if at:
            lat, dlv = at["latency_ms"], at["delivery"]["latency_ms"]
            answer = f"{lat['p50']:.1f}/{lat['p99']:.1f} ms"
            delivered = f"{dlv['p50']:.1f}/{dlv['p99']:.1f} ms"
        lines.append(
            f"   {name:<9} {_num(t['sustained_rate']):>8}/s   {answer:>16}   {delivered:>17}"
            f"   {_num(t['first_failed_rate'])}"
        )
    for name, reason in e2e.get("skipped", {}).items():
        lines.append(f"   {name:<9} skipped: {_short(reason, 120)}")
    goals = e2e.get("goals", {})
    for key, value in e2e.get("ratios", {}).items():
        goal = goals.get(key)
        verdict = (
            "" if value is None or goal is None else ("  met" if value >= goal else "  MISSED")
        )
        lines.append(f"   ratio {key:<24} {_num(value, '.2f'):>6}  (goal >= {goal}){verdict}")
    return lines


def _overload(r: dict[str, Any]) -> list[str]:
    ovl = r.get("overload")
    if ovl is None:
        return []
    lines = ["", "4. Overload: interlock run offered twice its sustainable ingest rate"]
    if ovl.get("status") != "ok":
        return [*lines, f"   {ovl.get('status')}: {_short(ovl.get('reason', ''))}"]
    other = sum(ovl["other"].values())
    lines += [
        f"   offered {ovl['offered_rate']:,}/s for {ovl['duration_s']:g} s "
        f"(2 x {ovl['sustained_rate']:,.0f}/s sustained, from {ovl['sustained_from']}); "
        f"{ovl['plan']['connections']} connections",
        f"   accepted (202) {ovl['accepted']:,} ({ovl['accepted_per_s']:,.0f}/s), shed (503) "
        f"{ovl['shed']:,}, other {other:,}; p99 of all {ovl['latency_ms']['p99']:,.1f} ms"
        + ("  (load generator saturated)" if ovl["loadgen_limited"] else ""),
        f"   accepted p50/p99 {_latency(ovl.get('accepted_latency_ms'))}, shed p50/p99 "
        f"{_latency(ovl.get('shed_latency_ms'))} (from the intended send; bound "
        f"{_num(ovl.get('p99_bound_ms'), 'g')} ms); lost {ovl['lost']:,}",
        f"   peak RSS {ovl['peak_rss_kib'] / 1024:,.0f} MiB (at start "
        f"{_num((ovl['rss_at_start_kib'] or 0) / 1024)} MiB); max pending {ovl['max_pending']:,}",
        f"   journal {ovl['journal_messages']:,} messages, {ovl['journal_pending']} pending: "
        + ("nothing accepted lost" if ovl["no_loss"] else f"LOST {ovl['lost']:,}")
        + f"; drain {_num(ovl['drain_s'], '.2f')} s after the load ended",
    ]
    return lines


def _latency(summary: dict[str, float] | None) -> str:
    return "-" if not summary else f"{summary['p50']:,.1f}/{summary['p99']:,.1f} ms"


def _recovery(r: dict[str, Any]) -> list[str]:
    rec = r.get("recovery")
    if rec is None:
        return []
    lines = ["", "5. Recovery: interlock run start to /readyz 200 on a large journal"]
    if rec.get("status") != "ok":
        return [*lines, f"   {rec.get('status')}: {_short(rec.get('reason', ''))}"]
    empty = rec.get("empty_start_to_ready_s")
    return [
        *lines,
        f"   {rec['messages']:,} messages, {rec['pending']:,} pending, journal "
        f"{rec['journal_file_bytes'] / 2**20:,.0f} MiB (built in {rec['build_s']:.1f} s, "
        "sync off while building)",
        f"   start to ready {rec['start_to_ready_s']:.2f} s, {_num(rec['recovered'])} deliveries "
        "reloaded" + ("" if empty is None else f"; on an empty journal {empty:.2f} s"),
    ]


def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def _reconcile(r: dict[str, Any]) -> list[str]:
    rec = r.get("reconcile")
    if rec is None:
        return []
    lines = [
        "",
        "6. Reconciliation: payments-daily, Stripe paid invoices (list_invoices) vs NetSuite "
        "payments (SuiteQL), interlock run",
    ]
    if rec.get("status") != "ok":
        return [*lines, f"   {rec.get('status')}: {_short(rec.get('reason', ''), 400)}"]
    limit = rec["netsuite_rate_limit"]
    shipped, used = limit["shipped"] or {}, limit["bench"]
    lines += [
        "   simulators in the bench process, the router alone in its own; routes/ copied with "
        f"netsuite's rate limit raised from {_num(shipped.get('rate_per_s'))}/s burst "
        f"{_num(shipped.get('burst'))} to {used['rate_per_s']:,}/s burst {used['burst']:,} "
        "(it paces the repairs' upserts)",
        "   records/s = both sides' records / the run's seconds; drift = missing/mismatched/extra"
        " payments, each checked against the run's counts",
        f"   {'per side':>9} {'drift':>13} {'run s':>7} {'records/s':>10} {'RSS start':>10}"
        f" {'peak RSS':>9} {'anon':>6} {'file':>6} {'HWM':>6} {'CPU':>5}  repairs delivered",
    ]
    for n, size in rec["sizes"].items():
        d = size["drift"]
        drift = f"{d['missing']}/{d['mismatched']}/{d['extra']}"
        cpu = size.get("router_cpu_util")
        lines.append(
            f"   {int(n):>9,} {drift:>13} {size['run_s']:>7.2f} {size['records_per_s']:>10,.0f}"
            f" {_mib(size['rss_at_start_kib']):>6} MiB {_mib(size['peak_rss_kib']):>5} MiB"
            f" {_mib(size['peak_rss_anon_kib']):>6} {_mib(size['peak_rss_file_kib']):>6}"
            f" {_mib(size['hwm_kib']):>6} {_num(cpu, '.0%'):>5}  {size['repairs']:,} in "
            f"{size['repairs_delivered_s']:.1f} s after the run"
        )
    lines.append(
        f"   {rec['compared']}: records/s ratio {rec['rate_ratio']:.2f} ({rec['ratio_key']}),"
        f" peak RSS growth {rec['peak_rss_growth_mib']:+,.1f} MiB (anonymous "
        f"{rec['peak_rss_anon_growth_mib']:+,.1f} MiB; file = LMDB pages mapped); counts equal"
        " the seeded drift at every size"
    )
    return lines


def _cluster_row(label: str, step: dict[str, Any], embedded: dict[str, Any] | None) -> str:
    lat = step["latency_ms"]
    vs = _ratio(step["throughput"], embedded["throughput"]) if embedded else None
    mark = "" if step["all_delivered"] else "  NOT ALL DELIVERED"
    mark += "" if not step["errors"] else f"  {step['errors']} errors"
    return (
        f"   {label:<22} {step['throughput']:>8,.0f} {lat['p50']:>7.2f} {lat['p99']:>8.2f}"
        f" {step['end_to_end_throughput']:>8,.0f} {step['drain_s']:>6.2f}"
        f" {_num(step['cpu_us_per_msg'], ',.1f'):>9}"
        f" {_num(step.get('nats_cpu_us_per_msg'), ',.1f'):>8}"
        f" {_num(vs, '.2f'):>6}{mark}"
    )


def _cluster(r: dict[str, Any]) -> list[str]:
    cl = r.get("cluster")
    if cl is None:
        return []
    lines = [
        "",
        "7. Cluster mode: N interlock run on one port (SO_REUSEPORT), NATS JetStream backbone",
    ]
    if cl.get("status") != "ok":
        return [*lines, f"   {cl.get('status')}: {_short(cl.get('reason', ''), 400)}"]
    plan = cl["plan"]
    lines += [
        f"   nats-server {cl['nats_version']}, {plan['partitions']} partitions, closed loop"
        f" {plan['connections']} connections, {plan['duration_s']:g} s after {plan['warmup_s']:g} s"
        " warm-up, null connector; e2e = accepted / (load + drain until all delivered)",
        "   CPU = utime+stime from before the load until all delivered, per accepted message:"
        " the instances together, and nats-server",
        f"   {'':<22} {'acc/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'e2e/s':>8} {'drain':>6}"
        f" {'µs inst':>9} {'µs nats':>8} {'/emb':>6}",
        _cluster_row("embedded (no backbone)", cl["embedded"], None),
    ]
    for sync, by_n in cl["cluster"].items():
        for n, step in by_n.items():
            lines.append(_cluster_row(f"N={n}, sync {sync}", step, cl["embedded"]))
    probe = cl.get("fsync_probe")
    if probe and "fsyncs" in probe:
        lines.append(
            f"   fsync probe (sync always, N=1, under strace): {probe['fsyncs']:,} fsyncs in"
            f" {probe['window_s']:g} s ({probe['fsyncs_per_s']:,.0f}/s, p50"
            f" {_num(probe['fsync_ms_p50'], '.2f')} ms), {_num(probe['accepted_per_fsync'], '.2f')}"
            f" accepted messages per fsync at {probe['throughput']:,.0f} msg/s"
        )
    elif probe:
        lines.append(f"   fsync probe {probe.get('status')}: {_short(probe.get('reason', ''))}")
    mdl = cl.get("model")
    if mdl:
        lines.append(
            f"   model (from {mdl['from']}: c_i {mdl['c_instance_us']:,.1f} µs, c_n"
            f" {mdl['c_nats_us']:,.1f} µs per message; one core per instance):"
            " throughput(N) = min(N / c_i, cores / c_n)"
        )
        for cores, table in mdl["table"].items():
            cells = ", ".join(
                f"{n}: {row['throughput']:,} ({row['efficiency']:.2f})" for n, row in table.items()
            )
            lines.append(f"     NATS {cores} cores  N: msg/s (efficiency)  {cells}")
    return lines


def render(result: dict[str, Any]) -> str:
    """The whole run as a plain-text table."""
    mode = "smoke" if result["smoke"] else "full"
    lines = [
        f"Interlock benchmark ({mode}) {result['started_at']}  ({result['duration_s']:.0f} s)",
        *_machine(result["machine"]),
        *(_pipeline(result) if "pipeline" in result else []),
        *(_ingest(result) if "ingest" in result else []),
        *_e2e(result),
        *_overload(result),
        *_recovery(result),
        *_reconcile(result),
        *_cluster(result),
        *_goals(result),
    ]
    return "\n".join(lines)
