"""``kind: job`` and ``kind: reconciliation`` files: checked, ``file:line``; the CLI exits 78."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router.config import load_config
from router.errors import ConfigError
from router.jobs.kind import JOB, RECONCILIATION

ROUTES = Path(__file__).resolve().parents[3] / "routes"
INTERLOCK = str(Path(sys.executable).parent / "interlock")


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    folder = tmp_path / "routes"
    shutil.copytree(ROUTES, folder)
    return folder


def errors_of(folder: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    return caught.value.render()


def test_the_shipped_jobs_and_reconciliations_load() -> None:
    config = load_config(ROUTES)
    assert set(config.specs(JOB)) == {"payments-daily", "accounts-hourly"}
    assert set(config.specs(RECONCILIATION)) == {
        "stripe-payments-vs-netsuite",
        "accounts-vs-netsuite",
        "accounts-vs-stripe",
    }
    daily = config.specs(JOB)["payments-daily"]
    assert (daily.schedule.cron, daily.schedule.timezone) == ("0 6 * * *", "Europe/London")


def test_a_bad_cron_expression_is_reported_at_its_line(routes: Path) -> None:
    text = (routes / "payments-daily.yaml").read_text().replace('"0 6 * * *"', '"0 25 * * *"')
    (routes / "payments-daily.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "0 25" in t)
    assert f"payments-daily.yaml:{line}: " in errors_of(routes)
    assert "hour: '25' is outside 0-23" in errors_of(routes)


def test_an_unknown_list_operation_and_reconciliation_are_named(routes: Path) -> None:
    path = routes / "stripe-payments-vs-netsuite.yaml"
    path.write_text(path.read_text().replace("operation: list_invoices", "operation: list_invoice"))
    job = routes / "accounts-hourly.yaml"
    job.write_text(job.read_text().replace("accounts-vs-stripe]", "accounts-vs-strip]"))
    found = errors_of(routes)
    assert (
        "connector 'stripe-api' has no list operation 'list_invoice' "
        "(it lists: list_customers, list_invoices)"
    ) in found
    assert "unknown reconciliation 'accounts-vs-strip'; did you mean 'accounts-vs-stripe'?" in found
    assert "stripe-payments-vs-netsuite.yaml:" in found and "accounts-hourly.yaml:" in found


def test_a_job_loads_after_the_reconciliations_it_names_whatever_the_file_order(
    routes: Path,
) -> None:
    (routes / "aaa-first.yaml").write_text(
        "id: aaa-first\nkind: job\nschedule: {every: 1h}\n"
        "reconcile: [stripe-payments-vs-netsuite]\n"
    )
    assert "aaa-first" in load_config(routes).specs(JOB)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "timezone: Europe/London",
            "timezone: Europe/Londres",
            "unknown time zone 'Europe/Londres'",
        ),
        ('{cron: "0 6 * * *", timezone: Europe/London}', "{every: 30s}", "at least 1m"),
        ("missed: run_once", "missed: twice", "'run_once' or 'skip'"),
    ],
)
def test_schedule_mistakes(routes: Path, old: str, new: str, message: str) -> None:
    path = routes / "payments-daily.yaml"
    path.write_text(path.read_text().replace(old, new))
    assert message in errors_of(routes)


def test_a_handling_takes_one_choice(routes: Path) -> None:
    path = routes / "accounts-vs-stripe.yaml"
    path.write_text(
        path.read_text().replace(
            "mismatched: {park: true}", 'mismatched: {park: true, ignore: "x"}'
        )
    )
    assert "exactly one of `ignore`, `repair` or `park: true`" in errors_of(routes)


def test_a_compared_field_is_read_on_both_sides(routes: Path) -> None:
    path = routes / "accounts-vs-stripe.yaml"
    text = path.read_text().replace(
        "compare: {name: string}", "compare: {name: string, email: string}"
    )
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("compare:"))
    found = errors_of(routes)
    assert f"accounts-vs-stripe.yaml:{line}: " in found
    assert "compared field 'email' is not read in `left.fields`" in found


def test_the_cli_exits_78_with_file_and_line(routes: Path) -> None:
    path = routes / "payments-daily.yaml"
    path.write_text(path.read_text().replace('"0 6 * * *"', '"every day"'))
    done = subprocess.run(
        [INTERLOCK, "check", str(routes)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 78
    assert "payments-daily.yaml:" in done.stderr + done.stdout
    assert "a cron expression has 5 fields" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
