"""``interlock check`` and ``interlock run`` on hostile input: one line each, never a traceback.

The real console script, as subprocesses started together. A routes folder with every kind of
bad file (unsafe tags, misfit values, unhashable keys, deep nesting, oversize, a link out of the
folder, a dangling link, a directory) gives the same ``file:line: message`` lines and exit 78 from
both commands; a bad ``--log-level`` or setting is one ``error:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.router.test_check_cli import valid_folder
from tests.support.cli_runs import Result, run_together
from tests.support.process import free_port

EXIT_USAGE = 2
EXIT_CONFIG = 78


@dataclass(frozen=True)
class Runs:
    hostile: Path
    secret: Path
    results: dict[str, Result]


def hostile_folder(base: Path, secret: Path) -> Path:
    routes = valid_folder(base)
    (routes / "a_name.yaml").write_text("id: a_name\nx: !!python/name:os.system\n")
    (routes / "b_int.yaml").write_text("id: b_int\nx: !!int abc\n")
    (routes / "c_time.yaml").write_text("id: c_time\nx: !!timestamp bad\n")
    (routes / "d_key.yaml").write_text("id: d_key\n? [a, b]: 1\n")
    (routes / "e_deep.yaml").write_text("id: e_deep\nx: " + "[" * 1100 + "]" * 1100 + "\n")
    with (routes / "f_big.yaml").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB by its size
    (routes / "g_dangling.yaml").symlink_to(routes / "missing.yaml")
    (routes / "h_dir.yaml").mkdir()
    (routes / "i_shadow.yaml").symlink_to(secret)
    return routes


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("hardened")
    secret = base / "shadow"
    secret.write_text("root: $6$hunter2\nbin: '*'\n")
    hostile = hostile_folder(base / "hostile", secret)
    valid = valid_folder(base / "valid")
    data = str(base / "data")
    port = str(free_port())
    run = ["run", "--data-dir", data, "--port", port]
    commands = {
        "check hostile": (["check", str(hostile)], {}),
        "run hostile": ([*run, "--routes", str(hostile)], {}),
        "run bogus level": ([*run, "--routes", str(valid), "--log-level", "bogus"], {}),
        "run bad port": (
            ["run", "--data-dir", data, "--routes", str(valid), "--port", "99999"],
            {},
        ),
        "run bad env": ([*run, "--routes", str(valid)], {"INTERLOCK_MAX_INFLIGHT": "lots"}),
    }
    admin = {name: {"INTERLOCK_ADMIN_PORT": str(free_port())} for name in commands}
    results = run_together({n: (args, {**admin[n], **env}) for n, (args, env) in commands.items()})
    return Runs(hostile, secret, results)


def expected_lines(routes: Path, secret: Path) -> list[str]:
    kinds = "(only strings, numbers, booleans, null, timestamps, lists and mappings)"
    return [
        f"{routes / 'a_name.yaml'}:2: x: tag !!python/name:os.system is not allowed in route"
        f" files {kinds}",
        f"{routes / 'b_int.yaml'}:2: x: 'abc' is not a valid !!int",
        f"{routes / 'c_time.yaml'}:2: x: 'bad' is not a valid !!timestamp",
        f"{routes / 'd_key.yaml'}:2: mapping keys must be plain scalars",
        f"{routes / 'e_deep.yaml'}:2: YAML syntax: nested more than 100 levels deep",
        f"{routes / 'f_big.yaml'}:1: 52428800 bytes, over the limit of 1048576 bytes (1 MiB) for"
        " a route file; not read",
        f"{routes / 'g_dangling.yaml'}:1: dangling symbolic link (to {routes / 'missing.yaml'})",
        f"{routes / 'h_dir.yaml'}:1: is a directory, not a route file",
        f"{routes / 'i_shadow.yaml'}:1: symbolic link to {secret}, outside the routes folder;"
        " not read",
    ]


def test_check_reports_every_hostile_file_at_its_line_and_exits_78(runs: Runs) -> None:
    result = runs.results["check hostile"]
    assert result.returncode == EXIT_CONFIG
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected_lines(runs.hostile, runs.secret)
    assert "hunter2" not in result.stderr  # the link out of the folder was never read


def test_run_fails_on_the_same_folder_with_the_same_lines_and_exit_78(runs: Runs) -> None:
    result = runs.results["run hostile"]
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.splitlines() == expected_lines(runs.hostile, runs.secret)
    assert "Traceback" not in result.stdout + result.stderr


def test_run_with_an_unknown_log_level_is_one_usage_line(runs: Runs) -> None:
    result = runs.results["run bogus level"]
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [
        "error: --log-level: unknown log level 'bogus'; use one of debug, info, warning, error"
    ]


def test_run_with_a_flag_out_of_range_is_one_usage_line(runs: Runs) -> None:
    result = runs.results["run bad port"]
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [
        "error: --port: Input should be less than or equal to 65535 (got 99999)"
    ]


def test_run_with_an_invalid_setting_in_the_environment_is_one_config_line(runs: Runs) -> None:
    result = runs.results["run bad env"]
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.splitlines() == [
        "error: INTERLOCK_MAX_INFLIGHT: Input should be a valid integer, unable to parse string"
        " as an integer (got 'lots')"
    ]
