"""The real ``interlock`` console script as a subprocess: five runs, started together."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli_runs import Result, run_together

EXIT_USAGE = 2
EXIT_CONFIG = 78


@dataclass(frozen=True)
class Runs:
    """The outcome of every invocation this module makes, started together to share the wait."""

    valid_routes: Path
    broken_routes: Path
    missing: Path
    results: dict[str, Result]
    empty: Path
    typo: Path


def valid_folder(base: Path) -> Path:
    base.mkdir(parents=True)
    # `shop` has no verify: block, which `check` accepts with a warning.
    (base / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (base / "connectors.yaml").write_text("sink:\n  kind: http\n  base_url: http://127.0.0.1:9\n")
    (base / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: order.created}\nsteps:\n"
        "  - to: {connector: sink, path: /orders}\n"
    )
    return base


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("cli")
    valid = valid_folder(base / "valid")
    broken = valid_folder(base / "broken")
    (broken / "refunds.yaml").write_text(
        "id: refunds\nfrom: {source: shop, type: refund.created}\nsteps:\n"
        "  - to: {connector: nowhere}\n"
    )
    missing = base / "nope"
    empty = base / "empty"
    empty.mkdir()
    typo = valid_folder(base / "typo")
    (typo / "refunds.yaml").write_text(
        "id: refunds\nfrom: {source: shpo, type: refund.created}\nsteps:\n"
        "  - to: {connector: snik}\n"
    )
    not_a_folder = valid / "orders.yaml"
    commands = {
        "check empty": ["check", str(empty)],
        "check file": ["check", str(not_a_folder)],
        "check typo": ["check", str(typo)],
        "check valid": ["check", str(valid)],
        "check broken": ["check", str(broken)],
        "check missing": ["check", str(missing)],
        "schema route": ["schema", "route"],
        "schema nope": ["schema", "nope"],
    }
    results = run_together({name: (args, {}) for name, args in commands.items()}, 60)
    return Runs(valid, broken, missing, results, empty, typo)


def test_check_accepts_a_valid_folder_and_warns_about_unverified_sources(runs: Runs) -> None:
    result = runs.results["check valid"]
    routes = runs.valid_routes
    assert result.returncode == 0, result.stderr
    summary = (
        "ok (1 sources, 1 connectors, 1 routes, 0 alerts, 0 reconciliations, 0 jobs, "
        "0 request/reply routes, 0 workflows)"
    )
    assert result.stdout.strip() == f"{routes}: {summary}"
    assert result.stderr.splitlines() == [
        f"warning: {routes / 'sources.yaml'}:1: source 'shop' has no `verify:`;"
        " use only on loopback"
    ]


def test_check_rejects_a_broken_route_with_file_and_line(runs: Runs) -> None:
    result = runs.results["check broken"]
    assert result.returncode == EXIT_CONFIG
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{runs.broken_routes / 'refunds.yaml'}:4: steps.0.to.connector:"
        " unknown connector 'nowhere'"
    ]


def test_check_on_a_missing_path_is_a_usage_error(runs: Runs) -> None:
    result = runs.results["check missing"]
    assert result.returncode == EXIT_USAGE
    assert result.stderr.strip() == f"{runs.missing}: no such file or directory"
    assert result.stdout == ""


def test_schema_route_is_json_schema_with_the_from_property(runs: Runs) -> None:
    result = runs.results["schema route"]
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"id", "from", "steps"} <= set(document["properties"])
    assert "from_" not in document["properties"]
    assert {"id", "from", "steps"} <= set(document["required"])
    assert document["additionalProperties"] is False


def test_schema_of_an_unknown_kind_is_a_usage_error(runs: Runs) -> None:
    result = runs.results["schema nope"]
    assert result.returncode == EXIT_USAGE
    assert "unknown schema 'nope'" in result.stderr
    assert result.stdout == ""


def test_check_on_a_file_is_a_config_error_without_a_traceback(runs: Runs) -> None:
    result = runs.results["check file"]
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"{runs.valid_routes / 'orders.yaml'}: not a routes folder: a routes folder holds"
        " sources.yaml, connectors.yaml and one <id>.yaml per route"
    )


def test_check_on_an_empty_folder_fails_rather_than_saying_ok(runs: Runs) -> None:
    result = runs.results["check empty"]
    assert result.returncode == EXIT_CONFIG
    assert result.stdout == ""
    assert result.stderr.startswith(f"{runs.empty}: no route files here")


def test_check_suggests_the_closest_source_and_connector(runs: Runs) -> None:
    result = runs.results["check typo"]
    assert result.returncode == EXIT_CONFIG
    refunds = runs.typo / "refunds.yaml"
    assert result.stderr.splitlines() == [
        f"{refunds}:2: from.source: unknown source 'shpo'; did you mean 'shop'?",
        f"{refunds}:4: steps.0.to.connector: unknown connector 'snik'; did you mean 'sink'?",
    ]
