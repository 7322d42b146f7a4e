"""The Dockerfile, without a Docker engine: hadolint, its shape, and its CMD as PID 1 under SIGTERM.

``unshare --pid --fork`` gives the command a new PID namespace in which it is PID 1, exactly as in a
container, so the test proves that the router handles SIGTERM there (Python as PID 1 ignores it
unless a handler is installed) and exits 0 after draining.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.process import INTERLOCK, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# The verification secrets of the shipped sources.yaml, each a demo default when unset, by line.
SOURCE_SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_test_not_the_demo_one",
    "SALESFORCE_WEBHOOK_SECRET": "sf_test_not_the_demo_one",
    "SHOPIFY_WEBHOOK_SECRET": "shpss_test_not_the_demo_one",
}
SECRET_LINES = {
    "STRIPE_WEBHOOK_SECRET": (7, "stripe"),
    "SALESFORCE_WEBHOOK_SECRET": (22, "salesforce"),
    "SHOPIFY_WEBHOOK_SECRET": (35, "shopify"),
}


def instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shape_multi_stage_non_root_volume_exec_form() -> None:
    found = instructions()
    froms = [rest for kw, rest in found if kw == "FROM"]
    assert len(froms) == 2 and all("slim" in f for f in froms)
    [user] = [rest for kw, rest in found if kw == "USER"]
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    assert any(kw == "VOLUME" for kw, _ in found)
    [cmd] = [rest for kw, rest in found if kw == "CMD"]
    assert json.loads(cmd)[:2] == ["interlock", "run"]
    [health] = [rest for kw, rest in found if kw == "HEALTHCHECK"]
    assert json.loads(health.split("CMD", 1)[1]) == ["interlock", "healthcheck"]


def image_env() -> dict[str, str]:
    """The image's ``ENV`` instruction as a mapping (values without spaces or quotes)."""
    [env] = [rest for kw, rest in instructions() if kw == "ENV"]
    return dict(pair.split("=", 1) for pair in env.split())


def test_image_env_listens_widely_but_keeps_demo_off_and_the_admin_on_loopback() -> None:
    env = image_env()
    assert env["INTERLOCK_HOST"] == "0.0.0.0"  # what the image is for
    # Safe only because: no demo mode (demo secrets refused), the admin stays on loopback.
    assert "INTERLOCK_DEMO" not in env
    assert "INTERLOCK_ADMIN_HOST" not in env
    assert "INTERLOCK_ADMIN_TOKEN" not in env  # unset: a random token in DATA_DIR/admin.token


def _image_command(tmp_path: Path) -> list[str]:
    [cmd] = [json.loads(rest) for kw, rest in instructions() if kw == "CMD"]
    routes = tmp_path / "routes"
    shutil.copytree(ROOT / "routes", routes)
    cmd = [INTERLOCK if part == "interlock" else part for part in cmd]
    cmd = [str(routes) if part == "/etc/interlock/routes" else part for part in cmd]
    return [str(tmp_path / "data") if part == "/var/lib/interlock" else part for part in cmd]


def test_image_command_refuses_the_demo_secrets_naming_each_variable(tmp_path: Path) -> None:
    env = {
        **image_env(),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "INTERLOCK_PORT": str(free_port()),
        "INTERLOCK_ADMIN_PORT": str(free_port()),
    }
    env["INTERLOCK_HOST"] = "127.0.0.1"  # it must refuse before listening; never bind widely here
    result = subprocess.run(
        _image_command(tmp_path), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 78, result.stdout + result.stderr
    sources = tmp_path / "routes" / "sources.yaml"
    assert result.stderr.splitlines() == [
        f"{sources}:{line}: {source}.verify.secrets.0: {name} is not set and its default is a "
        "shared demo secret; set it, or run with --demo"
        for name, (line, source) in SECRET_LINES.items()
    ]
    assert not (tmp_path / "data" / "journal").exists()  # refused before the journal opened
    # One secret set: the other two are still named.
    one = {**env, "STRIPE_WEBHOOK_SECRET": SOURCE_SECRETS["STRIPE_WEBHOOK_SECRET"]}
    again = subprocess.run(
        _image_command(tmp_path / "again"),
        env=one,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 78
    named = [line.split(": ")[2].split()[0] for line in again.stderr.splitlines()]
    assert named == ["SALESFORCE_WEBHOOK_SECRET", "SHOPIFY_WEBHOOK_SECRET"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_image_command_handles_sigterm_as_pid_1(tmp_path: Path) -> None:
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here: {probe.stderr.decode().strip()}")
    cmd = _image_command(tmp_path)
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "INTERLOCK_PORT": str(port),
        "INTERLOCK_ADMIN_PORT": str(free_port()),
        "HOME": str(tmp_path),
        **SOURCE_SECRETS,  # what docs/operations.md says the image needs: not in demo mode
    }
    outer = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", *cmd],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = [INTERLOCK, "healthcheck", "--url", f"http://127.0.0.1:{port}/readyz"]
        for _ in range(300):
            if subprocess.run(health, capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("router never became ready")
        # The shipped routes serve the README's quickstart event.
        demo = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/demo",
            data=b'{"id": "evt-1", "type": "order.created", "customer": "cus-1", "total": 42}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(demo, timeout=5) as response:
            assert response.status == 202
        [child] = _children(outer.pid)
        nspid = next(
            line
            for line in Path(f"/proc/{child}/status").read_text().splitlines()
            if line.startswith("NSpid:")
        )
        assert nspid.split()[-1] == "1", nspid  # it really is PID 1 in its namespace
        started = time.monotonic()
        os.kill(child, signal.SIGTERM)
        code = outer.wait(25)
        elapsed = time.monotonic() - started
    finally:
        if outer.poll() is None:
            outer.kill()
    assert outer.stdout is not None
    with outer.stdout:
        output = outer.stdout.read().decode()
    assert code == 0, output
    assert elapsed < 25
    assert '"event": "stopped"' in output
