"""The ingest scenario's pieces that need no running router: the request signature, the ``limit``
baseline (in process), the per-status latency of the load generator, the order of the steps and
the ratios and goals the report computes from them. No figure is asserted: only the plumbing."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

import lmdb
import msgpack
import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from actors.sources.verify_github import GitHubSignatureConfig, GitHubSignatureVerifier
from bench import _body, report, servers
from bench._http import request_head, signed_request
from bench.baselines import limit
from bench.loadgen import Generator, LoadSpec
from bench.machine import REPO
from bench.scenarios import ingest

# -- the signature ---------------------------------------------------------------------------


def test_the_bench_source_verifies_what_the_load_generator_signs() -> None:
    sources = yaml.safe_load((REPO / "bench" / "routes_http" / "sources.yaml").read_text())
    verify = sources["bench"]["verify"]
    assert verify["scheme"] == "github"
    assert verify["secrets"] == [_body.SECRET]
    verifier = GitHubSignatureVerifier(GitHubSignatureConfig(secrets=verify["secrets"]))
    body = _body.body(3, "t")
    verifier.verify({_body.SIGNATURE_HEADER: _body.signature(body)}, body, 0.0)  # no raise


def test_signed_request_is_a_well_formed_post() -> None:
    body = _body.body(1, "x")
    request = signed_request(request_head("127.0.0.1", 80, "/webhooks/bench", len(body)), body)
    head, sent = request.split(b"\r\n\r\n", 1)
    assert sent == body
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /webhooks/bench HTTP/1.1"
    assert f"Content-Length: {len(body)}" in lines
    assert f"{_body.SIGNATURE_HEADER}: {_body.signature(body)}" in lines


# -- the limit baseline ----------------------------------------------------------------------


async def _post(
    client: TestClient[Any, Any], body: bytes, *, source: str = "bench", sign: bool = True
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if sign:
        headers[_body.SIGNATURE_HEADER] = _body.signature(body)
    async with client.post(f"/webhooks/{source}", data=body, headers=headers) as response:
        return response.status, orjson.loads(await response.read())


async def test_limit_journals_once_and_answers_a_repeat_as_a_duplicate(tmp_path: Path) -> None:
    body = _body.body(7, "t")
    async with TestClient(TestServer(limit.app(tmp_path / "data"))) as client:
        async with client.get("/readyz") as ready:
            assert ready.status == 200
        status, first = await _post(client, body)
        assert status == 202
        status, again = await _post(client, body)
        assert status == 200
        assert again == {"id": first["id"], "duplicate": True}
        status, other = await _post(client, _body.body(8, "t"))
        assert status == 202
        assert other["id"] != first["id"]
    env = lmdb.open(str(tmp_path / "data"), max_dbs=2, readonly=True)
    with env.begin() as txn:
        records = list(txn.cursor(db=env.open_db(b"msg", txn=txn)))
        stored = txn.get(b"bench\0t-000000000007", db=env.open_db(b"idem", txn=txn))
    env.close()
    assert len(records) == 2
    assert stored == bytes.fromhex(first["id"])
    source, key, _at, raw = msgpack.unpackb(dict(records)[stored])
    assert (source, key, raw) == ("bench", "t-000000000007", body)


async def test_limit_rejects_before_the_journal(tmp_path: Path) -> None:
    body = _body.body(1, "t")
    async with TestClient(TestServer(limit.app(tmp_path / "data"))) as client:
        assert (await _post(client, body, sign=False))[0] == 401
        tampered = body.replace(b"Ada", b"Bob")
        headers = {_body.SIGNATURE_HEADER: _body.signature(body)}
        async with client.post("/webhooks/bench", data=tampered, headers=headers) as response:
            assert response.status == 401
        assert (await _post(client, body, source="other"))[0] == 404
        assert (await _post(client, b'{"no": "id"}'))[0] == 400
        assert (await _post(client, b"not json"))[0] == 400


def test_writer_commits_everything_queued_in_one_transaction_and_one_wake_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wake_ups: list[int] = []
    resolve = limit._resolve

    def counting(answers: list[Any]) -> None:
        wake_ups.append(len(answers))
        resolve(answers)

    monkeypatch.setattr(limit, "_resolve", counting)

    async def scenario() -> list[tuple[bytes, bool]]:
        writer = limit.Writer(tmp_path / "data")
        writer.loop = asyncio.get_running_loop()  # queue first, start the thread afterwards
        futures = [
            writer.submit(f"bench\0k{i % 15}".encode(), bytes([i]) * 16, b"r") for i in range(20)
        ]
        writer.start(writer.loop)
        answers = await asyncio.gather(*futures)
        writer.stop()
        return answers

    answers = asyncio.run(scenario())
    assert wake_ups == [20]  # one batch, resolved with one call_soon_threadsafe
    assert [duplicate for _, duplicate in answers] == [False] * 15 + [True] * 5
    assert [first for first, _ in answers[15:]] == [bytes([i]) * 16 for i in range(5)]


# -- the load generator's answers by status --------------------------------------------------


@dataclasses.dataclass(eq=False)  # hashable by identity, as a real connection
class _Conn:
    intended: float
    sent: float
    closed: bool = True  # never reused


async def test_loadgen_keeps_latency_per_status_and_counts_accepted() -> None:
    generator = Generator(LoadSpec(port=1, duration_s=1.0))
    generator.window = (0.0, 1e12)
    for status in (202, 202, 503):
        conn = _Conn(intended=0.0, sent=0.0)
        generator.on_response(cast("Any", conn), status)
    result = generator._result(0.0)
    assert result["accepted_total"] == 2
    assert result["answered_total"] == 3
    assert result["statuses"] == {"202": 2, "503": 1}
    assert set(result["latency_by_status_ms"]) == {"202", "503"}
    assert result["latency_by_status_ms"]["503"]["p99"] > 0


# -- the order of the steps ------------------------------------------------------------------


@dataclasses.dataclass
class _Target:
    name: str
    port: int = 1


def test_compare_runs_the_half_rate_step_and_closed_loops_at_each_count() -> None:
    calls: list[tuple[str, str, int, float]] = []
    sustained = {"bare": 800, "limit": 400, "interlock": 300}

    def measure(server: servers.Server, spec: LoadSpec) -> dict[str, Any]:
        calls.append((server.name, spec.mode, spec.connections, spec.rate))
        ok = spec.mode == "closed" or spec.rate <= sustained[server.name]
        return {
            "offered_rate": spec.rate if spec.mode == "open" else None,
            "errors": 0 if ok else 1,
            "throughput": spec.rate,
            "latency_ms": {"p99": 1.0},
            "loadgen": {"limited": False},
            "background_cpu_cores": 0.0,
        }

    plan = ingest.IngestPlan(ladder=(100, 200, 400, 800), bisections=0, settle=False)
    targets = [cast("servers.Server", _Target(n)) for n in ("bare", "limit", "interlock")]
    out = ingest.compare(targets, plan, measure=measure)
    assert {n: t["sustained_rate"] for n, t in out.items()} == {
        "bare": 800,
        "limit": 400,
        "interlock": 200,
    }
    # All three at half of Interlock's sustained rate (limit: how much of the ack time is fsync).
    assert [t["half_sustained"]["offered_rate"] for t in out.values()] == [100.0, 100.0, 100.0]
    closed = [(name, conns) for name, mode, conns, _ in calls if mode == "closed"]
    assert closed == [(n, c) for c in (16, 64, 256) for n in ("bare", "limit", "interlock")]
    assert all(set(t["closed_loops"]) == {"16", "64", "256"} for t in out.values())


# -- ratios and goals ------------------------------------------------------------------------


def _closed(throughput: float, cpu: float) -> dict[str, Any]:
    return {"throughput": throughput, "server_cpu_us_per_accepted": cpu}


def _target(sustained: int, scale: float, half_p99: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sustained_rate": sustained,
        "at_sustained": {"server_cpu_us_per_accepted": 100 / scale},
        "closed_loops": {str(n): _closed(n * 100 * scale, 100 / scale) for n in (16, 64, 256)},
    }
    if half_p99 is not None:
        out["half_sustained"] = {"latency_ms": {"p99": half_p99}, "server_cpu_us_per_accepted": 1}
    return out


def test_ratios_and_goals_come_from_the_recorded_fields() -> None:
    result: dict[str, Any] = {
        "cost_ratio": 1.5,
        "ingest": {
            "status": "ok",
            "targets": {
                "bare": _target(4000, 1.0, half_p99=2.0),
                "limit": _target(2000, 0.5),
                "interlock": _target(1000, 0.4, half_p99=3.0),
            },
        },
        "end_to_end": {"status": "ok", "ratios": {"interlock_vs_forwarder": 0.5}},
        "overload": {
            "status": "ok",
            "plan": {"factor": 2.0, "duration_s": 60.0},
            "accepted_latency_ms": {"p99": 40.0},
            "p99_bound_ms": 50.0,
            "lost": 0,
            "no_loss": True,
        },
    }
    report.summarise(result)
    ratios = result["ratios"]
    assert ratios["interlock_vs_bare_closed_64"] == 0.4
    assert ratios["interlock_vs_limit_closed_256"] == 0.8
    assert ratios["limit_vs_bare_closed_16"] == 0.5
    assert ratios["interlock_vs_bare_sustained"] == 0.25
    assert ratios["cpu_per_accepted_interlock_vs_bare_closed_64"] == 2.5
    assert ratios["cpu_per_accepted_interlock_vs_bare_sustained"] == 2.5
    assert ratios["cpu_per_accepted_interlock_vs_bare_half_sustained"] == 1.0
    assert ratios["ack_p99_interlock_vs_bare_half_sustained"] == 1.5
    assert ratios["pipeline_vs_parts"] == 1.5
    assert ratios["e2e_interlock_vs_forwarder"] == 0.5
    met = {row["key"]: row["met"] for row in result["goals"]}
    assert met == {
        "interlock_vs_bare_closed_64": False,
        "interlock_vs_limit_closed_16": False,
        "interlock_vs_limit_closed_64": False,
        "interlock_vs_limit_closed_256": False,
        "cpu_per_accepted_interlock_vs_bare_closed_64": False,
        "cpu_per_accepted_interlock_vs_bare_sustained": False,
        "pipeline_vs_parts": True,
        "e2e_interlock_vs_forwarder": False,
        "ack_p99_interlock_vs_bare_half_sustained": True,
        "overload_accepted_p99_ms": True,
        "overload_lost": True,
    }
    text = "\n".join(report._goals(result))
    assert "overload 2x for 60 s: accepted p99 (ms)" in text
    assert "MISSED" in text


def test_goals_of_a_run_without_measures_are_not_measured() -> None:
    rows = report.goals({}, report.ratios({}))
    assert rows
    assert all(row["measured"] is None and row["met"] is None for row in rows)
    assert "not measured" in "\n".join(report._goals({}))


def test_the_load_generator_reads_retry_after_from_a_shed_answer() -> None:
    from bench._http import _retry_after

    head = b"http/1.1 503 service unavailable\r\nretry-after: 1\r\ncontent-length: 0"
    assert _retry_after(head) == 1.0
    assert _retry_after(b"http/1.1 202 accepted\r\ncontent-length: 2") == 0.0
    assert _retry_after(b"http/1.1 503 x\r\nretry-after: soon\r\ncontent-length: 0") == 0.0
