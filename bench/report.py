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


def _ingest(r: dict[str, Any]) -> list[str]:
    ing = r.get("ingest", {})
    lines = ["", "2. HTTP durable ingest vs bare aiohttp (open loop, latency from intended send)"]
    if ing.get("status") != "ok":
        return [*lines, f"   {ing.get('status')}: {_short(ing.get('reason', ''))}"]
    plan, targets = ing["plan"], ing["targets"]
    names = list(targets)
    lines.append(
        f"   load generator: 1 process, raw HTTP/1.1 keep-alive, {plan['open_connections']} "
        f"connections, {plan['step_s']:g} s steps; it shares the {r['machine']['cores']} cores "
        "with the server under test"
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
        closed = t["closed_loop"]
        limited = (
            " (load generator limited: true ceiling may be higher)"
            if t["limited_by_loadgen"]
            else ""
        )
        at = t["at_sustained"]
        cpu = f", server CPU {at['server_cpu_us_per_request']} µs/req" if at else ""
        lines.append(f"   {name:<9} sustained {_num(t['sustained_rate'])}/s{cpu}{limited}")
        lat = closed["latency_ms"]
        lines.append(
            f"   {'':<9} closed loop {_num(closed['throughput'])}/s with "
            f"{closed['connections']} conns, p50 {lat['p50']:.2f} p99 {lat['p99']:.2f} "
            f"p999 {lat['p999']:.2f} ms, errors {closed['errors']}"
            + ("  *" if closed.get("background_cpu_cores", 0.0) > _BUSY_MACHINE else "")
        )
    if ing.get("ratio_sustained") is not None:
        lines.append(
            f"   ratio interlock/bare: sustained {ing['ratio_sustained']:.2f}, "
            f"closed loop {_num(ing.get('ratio_closed_loop'), '.2f')}"
        )
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
        f"{ovl['shed']:,}, other {other:,}; p99 {ovl['latency_ms']['p99']:,.1f} ms"
        + ("  (load generator saturated)" if ovl["loadgen_limited"] else ""),
        f"   peak RSS {ovl['peak_rss_kib'] / 1024:,.0f} MiB (at start "
        f"{_num((ovl['rss_at_start_kib'] or 0) / 1024)} MiB); max pending {ovl['max_pending']:,}",
        f"   journal {ovl['journal_messages']:,} messages, {ovl['journal_pending']} pending: "
        + ("nothing accepted lost" if ovl["no_loss"] else f"LOST {ovl['lost']:,}")
        + f"; drain {_num(ovl['drain_s'], '.2f')} s after the load ended",
    ]
    return lines


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
    ]
    return "\n".join(lines)
