"""The admin CLI against a live admin API (thread server) and a stopped router's data directory."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner, Result

from router.cli.app import build
from router.cli.render import render_dead
from router.ids import encode_id
from router.testing import Sink
from tests.support.admin_server import TOKENS, AdminServer, event, routes_folder
from tests.support.process import free_port

UNKNOWN_ID = encode_id(bytes(16))


APP = build(["interlock"])  # the interlock app, as the console script builds it


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(APP, list(args), env=env)


@dataclass
class Seeded:
    server: AdminServer
    delivered: str
    unrouted: str
    dead: str

    @property
    def api(self) -> list[str]:
        return ["--url", self.server.url, "--token", TOKENS[1]]


@pytest.fixture
def quiet_server_logs() -> Iterator[io.StringIO]:
    """The server thread logs to stdout, which CliRunner captures: send its logs elsewhere."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    yield buffer
    structlog.configure(**saved)


@pytest.fixture
def seeded(tmp_path: Path, sink: Sink, quiet_server_logs: io.StringIO) -> Iterator[Seeded]:
    server = AdminServer(routes_folder(tmp_path, sink), tmp_path / "data", TOKENS).start()
    sink.fail_keys["d-1"] = 422
    delivered = server.submit(event("o-1"), {"X-Correlation-ID": "corr-1"})
    unrouted = server.submit(event("x-1", "order.deleted"))
    dead = server.submit(event("d-1"), {"X-Correlation-ID": "corr-d"})
    server.wait_idle()
    yield Seeded(server, delivered, unrouted, dead)
    server.stop()


# -- against the running router ------------------------------------------------------------------


def test_messages_table_and_json(seeded: Seeded) -> None:
    result = invoke("messages", *seeded.api)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "RECEIVED", "SOURCE", "TYPE", "CORRELATION", "STATUS"]
    assert [line.split()[0] for line in lines[1:4]] == [
        seeded.delivered,
        seeded.unrouted,
        seeded.dead,
    ]
    assert "orders=delivered" in lines[1] and "unrouted" in lines[2]
    assert lines[-1] == "(3 shown)"

    result = invoke("messages", *seeded.api, "--status", "dead", "--json")
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert [m["id"] for m in page["items"]] == [seeded.dead]
    assert page["items"][0]["correlation_id"] == "corr-d" and page["next_cursor"] is None

    result = invoke("messages", *seeded.api, "--limit", "1", "--since", "1h")
    assert result.exit_code == 0, result.output
    assert f"--cursor {seeded.delivered}" in result.output
    result = invoke("messages", *seeded.api, "--correlation-id", "corr-1", "--json")
    assert [m["id"] for m in json.loads(result.output)["items"]] == [seeded.delivered]


def test_trace_shows_deliveries_and_the_timeline(seeded: Seeded) -> None:
    result = invoke("trace", seeded.dead, *seeded.api)
    assert result.exit_code == 0, result.output
    assert f"id:              {seeded.dead}" in result.output
    assert "correlation id:  corr-d" in result.output
    assert "dead (dead letter)" in result.output and "HTTP 422" in result.output
    events = [line.split()[1] for line in result.output.split("\n\n")[-1].splitlines()[1:]]
    assert events == ["received", "routed", "dead_lettered"]

    result = invoke("trace", seeded.delivered, *seeded.api, "--json")
    detail = json.loads(result.output)
    assert detail["deliveries"][0]["status"] == "delivered"
    assert [e["kind"] for e in detail["timeline"]] == ["received", "routed", "delivered"]


def test_dlq_list_show_replay_purge(seeded: Seeded, sink: Sink) -> None:
    result = invoke("dlq", "list", *seeded.api)
    assert result.exit_code == 0, result.output
    assert seeded.dead in result.output and "permanent: HTTP 422" in result.output
    result = invoke("dlq", "show", seeded.dead, *seeded.api, "--json")
    assert [d["route"] for d in json.loads(result.output)["items"]] == ["orders"]

    sink.fail_keys.clear()
    result = invoke("dlq", "replay", seeded.dead, *seeded.api)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "replay: 1 matched, 1 replayed"
    seeded.server.wait_idle()
    result = invoke("dlq", "replay", seeded.dead, *seeded.api, "--json")
    assert json.loads(result.output) == {"matched": 0, "replayed": 0}
    assert invoke("dlq", "show", seeded.dead, *seeded.api).exit_code == 1
    detail = json.loads(invoke("trace", seeded.dead, *seeded.api, "--json").output)
    assert detail["deliveries"][0]["status"] == "delivered"

    sink.fail_keys["d-2"] = 422
    seeded.server.submit(event("d-2"))
    seeded.server.wait_idle()
    result = invoke("dlq", "purge", "--route", "orders", "--since", "1h", *seeded.api)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "purge: 1 matched, 1 purged"
    listed = json.loads(invoke("dlq", "list", *seeded.api, "--json").output)
    assert listed == {"items": [], "next_cursor": None}


def test_replay_by_filter_and_the_all_guard(seeded: Seeded, sink: Sink) -> None:
    sink.fail_keys.clear()
    assert invoke("dlq", "replay", *seeded.api).exit_code == 2  # neither id nor filter
    result = invoke("dlq", "replay", "--all", *seeded.api, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"matched": 1, "replayed": 1}


def test_errors_exit_1(seeded: Seeded, tmp_path: Path) -> None:
    result = invoke("trace", UNKNOWN_ID, *seeded.api)
    assert result.exit_code == 1 and "404" in result.output
    result = invoke("messages", "--url", seeded.server.url, "--token", "wrong")
    assert result.exit_code == 1 and "401" in result.output
    result = invoke("messages", "--url", f"http://127.0.0.1:{free_port()}", "--token", "t")
    assert result.exit_code == 1 and "cannot reach the admin API" in result.output
    empty = {"INTERLOCK_DATA_DIR": str(tmp_path / "nowhere"), "INTERLOCK_ADMIN_TOKEN": ""}
    result = invoke("messages", "--url", seeded.server.url, env=empty)
    assert result.exit_code == 1 and "no admin token" in result.output


def test_token_from_the_environment_or_the_data_dir_file(seeded: Seeded, tmp_path: Path) -> None:
    env = {"INTERLOCK_ADMIN_TOKEN": f"{TOKENS[0]},{TOKENS[1]}"}
    assert invoke("messages", "--url", seeded.server.url, env=env).exit_code == 0
    data = tmp_path / "other"
    data.mkdir()
    (data / "admin.token").write_text(TOKENS[0] + "\n")
    (data / "admin.token").chmod(0o600)
    env = {"INTERLOCK_DATA_DIR": str(data), "INTERLOCK_ADMIN_TOKEN": ""}
    result = invoke("dlq", "list", "--url", seeded.server.url, env=env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["trace", "not-an-id"],
        ["messages", "--status", "lost"],
        ["messages", "--since", "yesterday-ish"],
        ["messages", "--limit", "0"],
        ["dlq", "replay", UNKNOWN_ID, "--source", "shop"],
        ["dlq"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(seeded: Seeded, args: list[str]) -> None:
    result = invoke(*args, *(seeded.api if args[0] != "nonsense" and args != ["dlq"] else []))
    assert result.exit_code == 2, result.output


# -- against a stopped router's data directory ---------------------------------------------------


def test_read_only_against_a_stopped_data_dir(seeded: Seeded, tmp_path: Path) -> None:
    seeded.server.stop()
    data = ["--data-dir", str(tmp_path / "data")]

    result = invoke("messages", *data, "--json")
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    ids = [seeded.delivered, seeded.unrouted, seeded.dead]
    assert [m["id"] for m in page["items"]] == ids
    result = invoke("messages", *data, "--status", "unrouted")
    assert result.exit_code == 0 and seeded.unrouted in result.output
    assert seeded.delivered not in result.output

    result = invoke("trace", seeded.dead, *data)
    assert result.exit_code == 0, result.output
    assert "dead_lettered" in result.output and "corr-d" in result.output
    result = invoke("dlq", "list", *data, "--json")
    assert [d["id"] for d in json.loads(result.output)["items"]] == [seeded.dead]
    result = invoke("dlq", "show", seeded.dead, *data)
    assert result.exit_code == 0 and "orders" in result.output

    assert invoke("trace", UNKNOWN_ID, *data).exit_code == 1
    # Replay and purge change the journal: they take the admin API only, and offer no --data-dir.
    result = invoke("dlq", "replay", seeded.dead, *data)
    assert result.exit_code == 2 and "No such option" in result.output
    assert invoke("dlq", "purge", "--all", *data).exit_code == 2
    for command in (["dlq", "replay"], ["dlq", "purge"]):
        assert "--data-dir" not in invoke(*command, "--help").output
    assert invoke("messages", "--data-dir", str(tmp_path / "missing")).exit_code == 2
    assert not (tmp_path / "missing").exists()  # read-only: nothing created


def test_dlq_show_prints_the_whole_reason_even_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = "connector answered 422: " + "field customer.email is not valid; " * 6
    letter: dict[str, Any] = {
        "id": UNKNOWN_ID,
        "route": "subscription-amendment-to-netsuite",
        "at": 1.0,
        "attempts": 3,
        "source": "stripe",
        "type": "customer.subscription.updated",
        "reason": reason,
    }
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    shown = render_dead({"id": UNKNOWN_ID, "items": [letter]}, whole=True)
    assert " ".join(reason.split()) in shown and letter["route"] in shown
    listed = render_dead({"items": [letter], "next_cursor": None})
    assert "…" in listed and letter["route"] in listed and UNKNOWN_ID in listed  # ids whole
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)  # piped: nothing is cut
    assert " ".join(reason.split()) in render_dead({"items": [letter], "next_cursor": None})
