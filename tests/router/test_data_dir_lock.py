"""One process per data folder (``router/store/lock.py``), in process and across processes.

The lock is taken by ``Engine.start()`` before any LMDB environment is opened and released by
``stop()``; a second engine, here or in another process, fails at once with the holder's pid,
and a holder killed with SIGKILL leaves the folder free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from router import Engine, Settings, load_config
from router.errors import DataDirLockedError, InterlockError, StorageOpenError
from router.logs import configure, level_number
from router.store.lock import LOCK_FILE, DataDirLock
from tests.conftest import EngineFactory
from tests.support.routes import write_routes

HOLD = """\
import sys
from pathlib import Path
from router.store.lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin or kills us
"""


@contextmanager
def holder(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``folder``'s lock (it has printed ``held``); killed at the end."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "held\n"
            yield process
        finally:
            process.kill()
            process.wait(10)


def test_the_lock_writes_the_pid_and_release_clears_it(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "data")
    lock.acquire()
    assert lock.held
    assert (tmp_path / "data" / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.acquire()  # held already: nothing happens
    lock.release()
    lock.release()
    assert not lock.held
    assert (tmp_path / "data" / LOCK_FILE).read_text() == ""


def test_a_second_lock_in_this_process_fails_and_names_this_process(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DataDirLockedError) as caught:
            DataDirLock(tmp_path).acquire()
    finally:
        first.release()
    assert caught.value.pid == os.getpid()
    assert str(caught.value).startswith(
        f"data folder {tmp_path} is in use by another engine of this process (pid {os.getpid()})"
    )
    DataDirLock(tmp_path).acquire()  # free again (and released when collected)


def test_a_lock_held_by_another_process_names_its_pid(tmp_path: Path) -> None:
    with holder(tmp_path) as process, pytest.raises(DataDirLockedError) as caught:
        DataDirLock(tmp_path).acquire()
    assert caught.value.pid == process.pid
    assert isinstance(caught.value, StorageOpenError)
    assert str(caught.value) == (
        f"data folder {tmp_path} is in use by another router (pid {process.pid}): one process"
        " per data folder; stop that one first, or choose another folder (--data-dir,"
        " INTERLOCK_DATA_DIR)"
    )


def test_a_sigkilled_holder_leaves_the_folder_free(tmp_path: Path) -> None:
    with holder(tmp_path) as process:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert (tmp_path / LOCK_FILE).read_text() == f"{process.pid}\n"  # a stale pid: no matter
    lock = DataDirLock(tmp_path)
    lock.acquire()
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_a_data_folder_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageOpenError) as caught:
        DataDirLock(tmp_path / "file" / "data").acquire()
    assert str(caught.value) == (
        f"data folder {tmp_path / 'file' / 'data'} cannot be created (Not a directory): a file is"
        " in the way; choose a folder (--data-dir, INTERLOCK_DATA_DIR)"
    )


async def test_a_second_engine_on_a_live_folder_fails_before_opening_any_store(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    data = tmp_path / "data"
    first = await make_engine(routes, data)
    second = Engine(load_config(routes), Settings(data_dir=data))
    with pytest.raises(DataDirLockedError) as caught:
        await second.start()
    assert isinstance(caught.value, InterlockError)
    assert second.journal is None and not second.started
    await second.stop()  # as `serve` does after a failed start: nothing to close, no error
    assert first.ready  # the holder is untouched
    await first.stop()
    third = await make_engine(routes, data)  # stop() released it
    assert third.ready
    await third.stop()


async def test_an_engine_whose_start_failed_and_was_dropped_lets_go(tmp_path: Path) -> None:
    routes = write_routes(tmp_path / "routes", "http://127.0.0.1:9")
    (tmp_path / "data" / "journal").mkdir(parents=True)
    (tmp_path / "data" / "journal" / "data.mdb").write_text("not an LMDB file")
    engine = Engine(load_config(routes), Settings(data_dir=tmp_path / "data"))
    with pytest.raises(StorageOpenError):
        await engine.start()
    await engine.stop()
    lock = DataDirLock(tmp_path / "data")
    lock.acquire()  # stop() after a failed start released it
    lock.release()


def test_an_unknown_log_level_is_a_value_error_naming_the_levels() -> None:
    assert level_number("WARNING") == level_number("warning") == 30
    with pytest.raises(ValueError, match="unknown log level 'bogus'; use one of debug, info"):
        configure("bogus")
