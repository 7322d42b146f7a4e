"""``interlock run`` refuses to start, in one line and at once, when it cannot run safely.

Real processes: a second router on a live router's data folder (exit 69, the holder's pid), while
the first keeps serving and the read-only commands keep reading the folder; a SIGKILLed holder's
folder is free again; the README's embedding snippet on a live folder raises
``DataDirLockedError``; a busy ingress or admin port (69); a data folder that cannot be written
(73). Nothing here asserts a duration.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from router.testing import Sink
from tests.docs.test_readme_embedding import _snippet
from tests.support.process import INTERLOCK, RouterProcess, free_port
from tests.support.routes import write_routes

ROOT = Path(__file__).resolve().parents[2]
EXIT_UNAVAILABLE = 69
EXIT_CANTCREAT = 73
IN_USE = "one process per data folder; stop that one first, or choose another folder"


def run_router(
    routes: Path,
    data_dir: Path,
    *,
    port: int | None = None,
    admin_port: int | None = None,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """An ``interlock run`` expected to fail: its exit code and output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    env["INTERLOCK_ADMIN_PORT"] = str(admin_port or free_port())
    command = [*(prefix or []), INTERLOCK, "run", "--routes", str(routes)]
    command += ["--data-dir", str(data_dir), "--port", str(port or free_port())]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    return subprocess.run(
        [INTERLOCK, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def post(router: RouterProcess, ident: str) -> str:
    body = orjson.dumps({"id": ident, "type": "order.created", "customer": "c1"})
    request = urllib.request.Request(
        router.url + "/webhooks/shop", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return str(json.loads(response.read())["id"])


def until(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {within}s")
        time.sleep(0.05)


def ready(router: RouterProcess) -> bool:
    with urllib.request.urlopen(router.url + "/readyz", timeout=5) as response:
        return bool(response.status == 200)


@pytest.fixture
def first(tmp_path: Path, sink: Sink) -> Iterator[RouterProcess]:
    router = RouterProcess(write_routes(tmp_path / "routes", sink.url), tmp_path / "data")
    try:
        yield router.start()
    finally:
        router.stop()


def test_a_second_router_on_a_live_folder_fails_at_once_naming_the_holder(
    first: RouterProcess, sink: Sink, tmp_path: Path
) -> None:
    assert first.proc is not None
    sink.fail_keys["m1"] = 503  # the delivery the issue saw sent twice: waiting on retry
    m1 = post(first, "m1")
    until(lambda: any(orjson.loads(c.body)["id"] == "m1" for c in sink.snapshot()), "attempted")

    second = run_router(first.routes, first.data_dir)

    assert second.returncode == EXIT_UNAVAILABLE
    assert second.stdout == ""  # it failed before it listened or logged anything
    assert second.stderr.splitlines() == [
        f"error: data folder {first.data_dir} is in use by another router (pid {first.proc.pid}):"
        f" {IN_USE} (--data-dir, INTERLOCK_DATA_DIR)"
    ]
    assert (first.data_dir / "LOCK").read_text() == f"{first.proc.pid}\n"
    # The first keeps serving: ready, accepting, and delivering what waited once the sink heals.
    assert ready(first)
    m2 = post(first, "m2")
    del sink.fail_keys["m1"]
    until(lambda: {b["id"] for b in sink.applied_bodies()} == {"m1", "m2"}, "both delivered")
    # The read-only commands read the live folder (LMDB readers beside the writer, no lock).
    listed = cli("messages", "--data-dir", str(first.data_dir), "--json")
    assert listed.returncode == 0, listed.stderr
    assert {m1, m2} <= {item["id"] for item in json.loads(listed.stdout)["items"]}
    traced = cli("trace", m1, "--data-dir", str(first.data_dir))
    assert traced.returncode == 0, traced.stderr
    assert m1 in traced.stdout
    workflows = cli("workflows", "list", "--data-dir", str(first.data_dir))
    assert workflows.returncode == 0, workflows.stderr


def test_a_sigkilled_holder_leaves_the_folder_free_for_the_next_router(
    first: RouterProcess, tmp_path: Path
) -> None:
    assert first.proc is not None
    killed = first.proc.pid
    first.kill()
    assert (first.data_dir / "LOCK").read_text() == f"{killed}\n"  # stale, and harmless
    again = RouterProcess(first.routes, first.data_dir)
    try:
        again.start()  # waits for /readyz: it took the lock the kernel dropped with the holder
        assert again.proc is not None
        assert (first.data_dir / "LOCK").read_text() == f"{again.proc.pid}\n"
        assert again.terminate() == 0
        assert (first.data_dir / "LOCK").read_text() == ""  # a clean stop clears the pid
    finally:
        again.stop()


def test_the_embedding_snippet_on_a_live_folder_raises_data_dir_locked(
    tmp_path: Path, sink: Sink
) -> None:
    shutil.copytree(ROOT / "routes", tmp_path / "routes")
    (tmp_path / "embed.py").write_text(_snippet())
    router = RouterProcess(write_routes(tmp_path / "mine", sink.url), tmp_path / "data")
    try:
        router.start()
        assert router.proc is not None
        embedded = subprocess.run(
            [sys.executable, "embed.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert embedded.returncode != 0
        assert embedded.stderr.splitlines()[-1] == (
            "router.errors.DataDirLockedError: data folder data is in use by another router"
            f" (pid {router.proc.pid}): {IN_USE} (--data-dir, INTERLOCK_DATA_DIR)"
        )
        assert ready(router)
    finally:
        router.stop()


@pytest.mark.parametrize("which", ["ingress", "admin API"])
def test_a_busy_port_is_one_line_and_exit_69(tmp_path: Path, which: str) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        if which == "ingress":
            result = run_router(routes, tmp_path / "data", port=port)
            fix = "--port, INTERLOCK_PORT"
        else:
            result = run_router(routes, tmp_path / "data", admin_port=port)
            fix = "INTERLOCK_ADMIN_PORT"
    assert result.returncode == EXIT_UNAVAILABLE
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} for the {which} (address already in use):"
        f" stop what listens there, or choose another port ({fix})"
    ]
    assert "Traceback" not in result.stdout
    # The folder is free again: the failed router let go of it.
    assert (tmp_path / "data" / "LOCK").read_text() == ""


def test_a_data_folder_under_a_file_is_one_line_and_exit_73(tmp_path: Path) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    (tmp_path / "file").write_text("")
    result = run_router(routes, tmp_path / "file" / "data")
    assert result.returncode == EXIT_CANTCREAT
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: data folder {tmp_path / 'file' / 'data'} cannot be created (Not a directory): a"
        " file is in the way; choose a folder (--data-dir, INTERLOCK_DATA_DIR)"
    ]


NOBODY = 65534


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder others may enter (pytest's own is 0700): for a router run as nobody."""
    folder = Path(tempfile.mkdtemp(prefix="interlock-ro-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("exists", [False, True], ids=["new folder", "existing folder"])
def test_a_read_only_data_folder_is_one_line_and_exit_73(open_tmp: Path, exists: bool) -> None:
    # Root writes anywhere: as root, the router runs as nobody (who can read the venv and here).
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop privileges")
        for part in (*Path(INTERLOCK).parents, *open_tmp.parents):
            if part.stat().st_mode & 0o005 != 0o005:
                pytest.skip(f"{part} is not open to nobody, who would run the router")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    uid = NOBODY if prefix else os.geteuid()
    routes = write_routes(open_tmp / "routes", "http://127.0.0.1:9")
    for path in (routes, *routes.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    frozen = open_tmp / "frozen"
    frozen.mkdir()
    data = frozen if exists else frozen / "data"
    if exists:  # a folder a router used before, since made read-only (its LOCK still writable)
        (frozen / "LOCK").write_text("")
        (frozen / "LOCK").chmod(0o666)
    frozen.chmod(0o555)
    result = run_router(routes, data, prefix=prefix)
    assert result.returncode == EXIT_CANTCREAT, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: data folder {data} is not writable (Permission denied): make it writable for"
        f" uid {uid}, or choose another folder (--data-dir, INTERLOCK_DATA_DIR)"
    ]
