"""Jobs over the admin API and the CLI: run, history, run detail, reports as JSON and CSV, parked.

A real engine over the shipped routes, its admin API on loopback, the simulators seeded with a
small known drift. Each API answer is validated by schemathesis against the served OpenAPI
document; the CLI reads the same answers from the API and, after the router stops, from its data
dir read-only.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from simulators.datasets import Payments
from simulators.runner import SimulatorThread
from tests.router.test_admin_cli import invoke
from tests.support.admin_server import AUTH, TOKENS, AdminServer
from tests.support.scenarios import simulator_env

ROUTES = Path(__file__).resolve().parents[3] / "routes"
JOB, RECON = "payments-daily", "stripe-payments-vs-netsuite"
DATA = Payments(n=120, missing=3, mismatched=2, extra=1)


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        stripe, netsuite = running.set.simulator("stripe"), running.set.simulator("netsuite")
        running.call(lambda: stripe.seed_many("invoice", DATA.invoices()))
        running.call(lambda: netsuite.seed_many("customerPayment", DATA.payments()))
        yield running


@pytest.fixture(scope="module")
def server(
    sims: SimulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdminServer]:
    mp = pytest.MonkeyPatch()
    for name, value in simulator_env(sims).items():
        mp.setenv(name, value)
    data = tmp_path_factory.mktemp("jobs") / "data"
    running = AdminServer(ROUTES, data, TOKENS).start()
    yield running
    running.stop()
    mp.undo()


@pytest.fixture(scope="module")
def schema(server: AdminServer) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=AUTH, timeout=10)


def call(
    schema: Any,
    method: str,
    path: str,
    status: int,
    query: dict[str, Any] | None = None,
    **params: str,
) -> Any:
    case = schema[path][method].Case(path_parameters=params or None, query=query)
    response = case.call_and_validate(headers=AUTH, timeout=30)
    assert response.status_code == status, (path, response.text)
    return response


def finished(schema: Any, run: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        detail: dict[str, Any] = call(schema, "GET", "/runs/{run}", 200, run=run).json()
        if detail["state"] != "running" or time.monotonic() > deadline:
            return detail
        time.sleep(0.05)


@pytest.fixture(scope="module")
def first_run(schema: Any) -> dict[str, Any]:
    started = call(schema, "POST", "/jobs/{job}/run", 200, job=JOB).json()
    assert (started["id"], started["trigger"], started["state"]) == (
        f"{JOB}.1",
        "manual",
        "running",
    )
    return finished(schema, started["id"])


def test_a_run_started_over_the_api_reports_its_counts(first_run: dict[str, Any]) -> None:
    assert first_run["state"] == "succeeded", first_run["reason"]
    (recon,) = first_run["reconciliations"]
    assert recon["reconciliation"] == RECON and recon["phase"] == "done"
    assert recon["counts"] == {
        "matched": 115,
        "missing_left": 1,
        "missing_right": 3,
        "mismatched": 2,
    }
    assert recon["sides"]["left"]["pages"] == 2 and recon["sides"]["right"]["records"] == 118


def test_jobs_list_and_history(schema: Any, first_run: dict[str, Any]) -> None:
    jobs = {j["id"]: j for j in call(schema, "GET", "/jobs", 200).json()["jobs"]}
    assert set(jobs) == {"payments-daily", "accounts-hourly"}
    daily = jobs[JOB]
    assert daily["schedule"] == "cron 0 6 * * *" and daily["timezone"] == "Europe/London"
    assert daily["last_run"]["id"] == first_run["id"] and daily["running"] is None
    assert daily["next_slot"] > time.time()
    history = call(schema, "GET", "/jobs/{job}/runs", 200, {"limit": 5}, job=JOB).json()
    assert [r["id"] for r in history["runs"]] == [first_run["id"]]


def test_the_report_as_json_and_as_csv(schema: Any, first_run: dict[str, Any]) -> None:
    report = call(schema, "GET", "/runs/{run}/report", 200, run=first_run["id"]).json()
    classes = sorted(r["class"] for r in report["rows"])
    assert classes == ["mismatched"] * 2 + ["missing_left"] + ["missing_right"] * 3
    assert {r["key"] for r in report["rows"] if r["class"] == "missing_right"} == (
        DATA.drift.missing_right
    )
    assert report["next_offset"] is None
    page = call(schema, "GET", "/runs/{run}/report", 200, {"limit": 4}, run=first_run["id"])
    assert page.json()["next_offset"] == 4
    text = call(schema, "GET", "/runs/{run}/report", 200, {"format": "csv"}, run=first_run["id"])
    content_type = {k.lower(): v for k, v in text.headers.items()}["content-type"]
    assert "text/csv" in str(content_type)
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == 6
    mismatch = next(r for r in rows if r["class"] == "mismatched")
    assert mismatch["fields"] == "amount" and mismatch["left.amount"] != mismatch["right.amount"]
    assert mismatch["left.amount"].startswith("USD ")
    assert all(r["message"] for r in rows if r["handling"] == "repair")  # each repair traceable


def test_parked_exceptions_keep_both_sides(schema: Any, first_run: dict[str, Any]) -> None:
    del first_run
    parked = call(schema, "GET", "/reconciliations/{name}/parked", 200, name=RECON).json()
    (item,) = parked["items"]
    assert item["class"] == "missing_left" and item["key"] in DATA.drift.missing_left
    assert item["left"] is None and item["right"]["amount"] == "USD 4200"


def test_unknown_and_malformed_names(schema: Any) -> None:
    call(schema, "GET", "/jobs/{job}/runs", 404, job="no-such-job")
    call(schema, "POST", "/jobs/{job}/run", 404, job="no-such-job")
    call(schema, "GET", "/runs/{run}", 404, run="payments-daily.999")
    call(schema, "GET", "/reconciliations/{name}/parked", 404, name="no-such-recon")
    bad = call(
        schema, "GET", "/runs/{run}/report", 404, {"reconciliation": "other"}, run=f"{JOB}.1"
    )
    assert "has no reconciliation 'other'" in bad.json()["detail"]


def test_a_second_start_while_running_is_a_conflict(
    schema: Any, sims: SimulatorThread, first_run: dict[str, Any]
) -> None:
    del first_run
    sims.set_faults("stripe", latency=0.3)
    try:
        started = call(schema, "POST", "/jobs/{job}/run", 200, job=JOB).json()
        again = call(schema, "POST", "/jobs/{job}/run", 409, job=JOB)
        assert "is running" in again.json()["detail"]
        assert finished(schema, started["id"])["state"] == "succeeded"
    finally:
        sims.set_faults("stripe", latency=0.0)


def test_the_cli_reads_the_api_and_a_stopped_routers_data_dir(
    server: AdminServer, first_run: dict[str, Any]
) -> None:
    api = ["--url", server.url, "--token", TOKENS[1]]
    listed = invoke("jobs", "list", *api)
    assert listed.exit_code == 0, listed.output
    assert "payments-daily" in listed.output and "cron 0 6 * * *" in listed.output
    shown = invoke("jobs", "show", JOB, *api)  # a job id: its newest run
    assert shown.exit_code == 0 and "stripe-payments-vs-netsuite  (done)" in shown.output
    report = invoke("reconcile", "report", first_run["id"], *api)
    assert report.exit_code == 0, report.output
    assert "missing_right 3  mismatched 2" in report.output
    for key in DATA.drift.missing_right:
        assert key in report.output  # ids are never cut
    as_json = json.loads(invoke("jobs", "history", JOB, "--json", *api).output)
    assert first_run["id"] in [r["id"] for r in as_json["runs"]]
    bad = invoke("reconcile", "report", "not a run", *api)
    assert bad.exit_code == 2 and "invalid run id" in bad.output

    server.stop()  # the same reads from the data dir, read-only
    data = ["--data-dir", str(server.data_dir)]
    offline = invoke("reconcile", "report", first_run["id"], "--csv", *data)
    assert offline.exit_code == 0, offline.output
    assert offline.output.splitlines()[0].startswith("seq,class,key,fields,handling,outcome,reason")
    assert len(offline.output.splitlines()) == 1 + 6
    history = invoke("jobs", "history", JOB, *data)
    assert history.exit_code == 0 and first_run["id"] in history.output
    parked = invoke("reconcile", "parked", RECON, "--json", *data)
    assert len(json.loads(parked.output)["items"]) == 1
    listed = invoke("jobs", "list", "--routes", str(ROUTES), *data)
    assert listed.exit_code == 0 and "accounts-hourly" in listed.output
