"""``interlock workflows`` against a live admin API (thread server) and a stopped data directory."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import Result

from router.cli.render import _secs, render_instances
from router.ids import encode_id
from router.store.journal import Journal
from router.workflows.state import Instance
from simulators.runner import SimulatorThread
from tests.router.test_admin_cli import invoke
from tests.router.test_workflows_admin import SETTLED, break_target, deal, workflow_routes
from tests.support.admin_server import TOKENS, AdminServer
from tests.support.process import free_port

UNKNOWN_ID = encode_id(bytes(16))


@pytest.fixture(scope="module")
def target() -> Iterator[SimulatorThread]:
    with SimulatorThread(["webhook"]) as sims:
        yield sims


@pytest.fixture
def quiet_server_logs() -> Iterator[None]:
    """The server thread logs to stdout, which CliRunner captures: send its logs elsewhere."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
    yield
    structlog.configure(**saved)


@dataclass
class Seeded:
    server: AdminServer
    sims: SimulatorThread
    data_dir: Path
    routes: Path
    done: str
    parked: str

    @property
    def api(self) -> list[str]:
        return ["--url", self.server.url, "--token", TOKENS[1]]

    def instance(self, key: str) -> Instance:
        workflows = self.server.engine.workflows
        assert workflows is not None

        async def settled() -> Instance:
            while True:
                found = await workflows.query(workflow="onboard", key=key)
                if found and found[0].state.value in SETTLED:
                    return found[0]
                await asyncio.sleep(0.02)

        return self.server.run(settled(), timeout=10)

    def run(self, *args: str) -> Result:
        """``interlock workflows ARGS`` against the API, acting as ``ops``."""
        return invoke("workflows", *args, *self.api, env={"USER": "ops"})


@pytest.fixture
def seeded(tmp_path: Path, target: SimulatorThread, quiet_server_logs: None) -> Iterator[Seeded]:
    """D1 completed, then D2 parked at ``provision`` (the target rejects its entitlement)."""
    target.reset("webhook")
    break_target(target, "ent-D2")
    routes, data = workflow_routes(tmp_path / "routes", target), tmp_path / "data"
    server = AdminServer(routes, data, TOKENS).start()
    seeded = Seeded(server, target, data, routes, "", "")
    server.run(server.engine.submit("demo", deal("D1")))
    seeded.done = seeded.instance("D1").id
    server.run(server.engine.submit("demo", deal("D2")))
    seeded.parked = seeded.instance("D2").id
    yield seeded
    server.stop()
    target.reset("webhook")


def _whole(output: str) -> None:
    """Piped output (CliRunner is no terminal) is never cut: no ellipsis anywhere."""
    assert "…" not in output, output


# -- against the running router ------------------------------------------------------------------


def test_list_table_and_json(seeded: Seeded) -> None:
    result = seeded.run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "WORKFLOW", "KEY", "STATE", "STEP", "UPDATED", "REASON"]
    parked, done = lines[1].split(), lines[2].split()
    assert parked[:5] == [seeded.parked, "onboard", "D2", "parked", "provision"]
    assert parked[6] == "ago" and parked[7:9] == ["HTTP", "422"]  # the STEP says which
    assert done[:5] == [seeded.done, "onboard", "D1", "completed", "-"]
    assert lines[-1] == "(2 shown)"
    _whole(result.output)

    result = seeded.run("list", "--state", "parked", "--json")
    assert result.exit_code == 0, result.output
    [instance] = json.loads(result.output)["instances"]
    assert instance["id"] == seeded.parked and instance["failed_step"] == "provision"
    result = seeded.run("list", "--workflow", "onboard", "--key", "D1", "--json")
    assert [i["id"] for i in json.loads(result.output)["instances"]] == [seeded.done]
    assert seeded.run("list", "--limit", "1").output.splitlines()[-1] == "(1 shown)"


def test_show_summary_steps_and_timeline(seeded: Seeded) -> None:
    result = seeded.run("show", seeded.parked)
    assert result.exit_code == 0, result.output
    summary, steps, timeline = result.output.rstrip("\n").split("\n\n")
    assert f"instance:        {seeded.parked}" in summary
    assert "state:           parked at step provision" in summary
    assert "reason:          step provision failed: HTTP 422" in summary
    assert "finished:" not in summary and "sla:" not in summary  # neither reached
    rows = [line.split()[:4] for line in steps.splitlines()]
    assert rows[0] == ["STEP", "STATUS", "TRIES", "TOOK"]
    assert rows[1][:3] == ["account", "succeeded", "1"] and "id=" in steps.splitlines()[1]
    assert rows[2][:3] == ["provision", "failed", "1"] and "rejected" in steps
    assert rows[3] == ["welcome", "pending", "0", "-"]
    events = [line.split() for line in timeline.splitlines()]
    assert events[0] == ["AT", "EVENT", "STEP", "TRY", "DETAIL"]
    assert [e[1] for e in events[1:]] == [
        "triggered",
        "step_started",
        "step_succeeded",
        "step_started",
        "step_failed",
        "parked",
        "sla_missed",
    ]
    assert all(e[0].startswith("+") and e[0].endswith("s") for e in events[1:])
    _whole(result.output)

    result = seeded.run("show", seeded.done.lower(), "--json")
    detail = json.loads(result.output)
    assert detail["id"] == seeded.done and detail["state"] == "completed"
    assert [s["status"] for s in detail["steps"]] == ["succeeded"] * 3
    assert detail["input"]["trigger"]["deal"] == "D1"
    text = seeded.run("show", seeded.done).output
    assert "sla:" in text and "finished:" in text and "state:           completed\n" in text


def test_stats_table_and_json(seeded: Seeded) -> None:
    result = seeded.run("stats")
    assert result.exit_code == 0, result.output
    counts, shape = result.output.rstrip("\n").split("\n\n")
    head = "WORKFLOW RUNNING PARKED COMPENSATING COMPLETED COMPENSATED CANCELLED"
    assert [line.split() for line in counts.splitlines()] == [
        head.split(),
        ["onboard", "0", "1", "0", "1", "0", "0"],
    ]
    header, row = (line.split() for line in shape.splitlines())
    assert header == [
        "WORKFLOW",
        "STEPS",
        "ON",
        "FAILURE",
        "SLA",
        "UNTIL",
        "MET",
        "P50",
        "P95",
        "MAX",
    ]
    assert row[:6] == ["onboard", "3", "park", "30s", "provision", "1/2"]  # the parked one missed
    _whole(result.output)
    [stats] = json.loads(seeded.run("stats", "--json").output)["workflows"]
    assert stats["counts"]["parked"] == 1 and stats["sla"]["measured"] == 2
    assert stats["sla"]["missed"] == 1


def test_retry_skip_cancel(seeded: Seeded) -> None:
    break_target(seeded.sims)
    result = seeded.run("retry", seeded.parked, "--reason", "record fixed")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"retry: {seeded.parked} (onboard D2) is now running"
    assert seeded.instance("D2").state.value == "completed"
    events = {e.event: e.detail for e in seeded.instance("D2").events}
    assert events["operator_retry"] == "ops: record fixed"  # --by defaults to $USER

    result = seeded.run("retry", seeded.parked)  # completed: does not apply
    assert result.exit_code == 1 and "409" in result.output and "completed" in result.output

    result = seeded.run("cancel", seeded.done, "--reason", "deal lost", "--by", "bob", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["state"] == "compensating"
    cancelled = seeded.instance("D1")
    assert cancelled.state.value == "cancelled"
    assert [s.undo.value for s in cancelled.steps] == ["done", "done", "not_compensable"]


def test_skip_records_the_reason(seeded: Seeded) -> None:
    assert seeded.run("skip", seeded.parked).exit_code == 2  # --reason is required
    result = seeded.run("skip", seeded.parked, "--reason", "  ")
    assert result.exit_code == 2 and "reason is required" in result.output
    result = seeded.run("skip", seeded.parked, "--reason", "provisioned by hand")
    assert result.exit_code == 0, result.output
    done = seeded.instance("D2")
    assert done.state.value == "completed"
    assert done.step("provision").note == "ops: provisioned by hand"


def test_errors_exit_1_and_usage_errors_exit_2(seeded: Seeded) -> None:
    for args in (
        ["show", UNKNOWN_ID],
        ["retry", UNKNOWN_ID],
        ["cancel", UNKNOWN_ID, "--reason", "r"],
    ):
        result = seeded.run(*args)
        assert result.exit_code == 1 and "404" in result.output, args
    result = invoke("workflows", "list", "--url", seeded.server.url, "--token", "wrong")
    assert result.exit_code == 1 and "401" in result.output
    result = invoke(
        "workflows", "stats", "--url", f"http://127.0.0.1:{free_port()}", "--token", "t"
    )
    assert result.exit_code == 1 and "cannot reach the admin API" in result.output
    for args in (
        ["show", "not-an-id"],
        ["list", "--state", "lost"],
        ["list", "--limit", "0"],
        ["cancel", seeded.done],  # no --reason
        ["pause", seeded.done],
    ):
        assert seeded.run(*args).exit_code == 2, args
    assert invoke("workflows").exit_code == 2


# -- against a stopped router's data directory ---------------------------------------------------


def test_read_only_against_a_stopped_data_dir(seeded: Seeded, tmp_path: Path) -> None:
    api = json.loads(seeded.run("show", seeded.parked, "--json").output)
    listed = json.loads(seeded.run("list", "--json").output)
    stats = json.loads(seeded.run("stats", "--json").output)
    seeded.server.stop()
    data = ["--data-dir", str(seeded.data_dir)]

    def local(*args: str) -> Result:
        return invoke("workflows", *args, *data, env={"INTERLOCK_ROUTES": str(seeded.routes)})

    assert json.loads(local("list", "--json").output) == listed  # the API's own JSON
    assert json.loads(local("show", seeded.parked, "--json").output) == api
    assert json.loads(local("stats", "--json").output) == stats
    result = local("list", "--state", "completed")
    assert result.exit_code == 0 and seeded.done in result.output
    assert seeded.parked not in result.output
    result = local("show", seeded.parked)
    assert result.exit_code == 0 and "parked at step provision" in result.output
    counts = local("stats").output.split("\n\n")[0].splitlines()[1]
    assert counts.split() == ["onboard", "0", "1", "0", "1", "0", "0"]

    assert local("show", UNKNOWN_ID).exit_code == 1
    for action in ("retry", "skip", "cancel"):  # they change state: the admin API only
        result = local(action, seeded.parked, "--reason", "r")
        assert result.exit_code == 2 and "No such option" in result.output
        assert "--data-dir" not in invoke("workflows", action, "--help").output
    result = invoke("workflows", "stats", *data, "--routes", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no such routes folder" in result.output
    (seeded.routes / "onboard.yaml").write_text("id: onboard\nkind: workflow\n")
    assert local("stats").exit_code == 78  # an invalid routes folder, as `interlock check`
    missing = tmp_path / "missing"
    assert invoke("workflows", "list", "--data-dir", str(missing)).exit_code == 2
    assert not missing.exists()  # read-only: nothing created


def test_a_data_dir_of_a_router_without_workflows(tmp_path: Path) -> None:
    journal_only = tmp_path / "other"
    Journal(journal_only / "journal").close()  # what a router without workflows leaves
    data = ["--data-dir", str(journal_only)]
    result = invoke("workflows", "list", *data, "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {"instances": []}
    assert invoke("workflows", "show", UNKNOWN_ID, *data).exit_code == 1
    assert not (journal_only / "workflows").exists()


def test_on_a_terminal_only_free_text_is_cut_and_ids_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long = "a reason " * 40
    instance: dict[str, Any] = {
        "id": UNKNOWN_ID,
        "workflow": "w" * 40,
        "key": "subscription-amendment-" + "k" * 40,
        "state": "compensating",
        "current_step": "provision",
        "failed_step": None,
        "reason": long + "\x1b[31m",
        "updated_at": time.time() - 4000,
    }
    piped = render_instances({"instances": [instance]})
    assert " ".join(long.split()) in piped and "…" not in piped  # not a terminal: whole
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    text = render_instances({"instances": [instance]})
    row = text.splitlines()[1]
    assert max(len(line) for line in text.splitlines()) <= 200
    assert UNKNOWN_ID in row and instance["workflow"] in row and instance["key"] in row
    assert "1h06m ago" in row and row.endswith("…") and "\x1b" not in row
    monkeypatch.setenv("COLUMNS", "1000")  # a wide terminal: nothing needs cutting
    assert "…" not in render_instances({"instances": [instance]})
    assert [_secs(v) for v in (None, 0.0123, 1.234, 30, 245, 7300, 200000)] == [
        "-", "12ms", "1.23s", "30s", "4m05s", "2h01m", "2d07h"
    ]  # fmt: skip
