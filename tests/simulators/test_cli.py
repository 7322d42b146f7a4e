"""``interlock simulate`` and ``python -m simulators``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import typer
from typer.testing import CliRunner

from simulators import add_cli


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Interlock."""

    add_cli(app)
    return app


def test_simulate_prints_each_url_and_its_credentials() -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "stripe",
            "zendesk",
            "--set",
            "stripe.api_key=sk_test_x",
            "--exit-after",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("stripe") and "http://127.0.0.1:" in lines[0]
    assert "api_key=sk_test_x" in lines[0]
    assert lines[1].startswith("zendesk") and "api_token=zd_token_interlock" in lines[1]


def test_simulate_refuses_unknown_names_and_bad_settings() -> None:
    runner = CliRunner()
    assert runner.invoke(_app(), ["simulate", "nope"]).exit_code == 2
    assert runner.invoke(_app(), ["simulate", "--set", "stripe"]).exit_code == 2
    bad_key = runner.invoke(
        _app(), ["simulate", "stripe", "--set", "stripe.nope=1", "--exit-after", "0.1"]
    )
    assert bad_key.exit_code == 1 and "unknown settings" in bad_key.output


def test_module_entry_point_runs_until_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators", "webhook", "shopify"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        second = proc.stdout.readline().split()
        assert first[0] == "webhook" and second[0] == "shopify"
        with urllib.request.urlopen(f"{first[1]}/_sim/state", timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
