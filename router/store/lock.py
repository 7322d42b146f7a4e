"""One process per data folder: an exclusive ``flock`` on ``DATA_DIR/LOCK``, which holds its pid.

Two routers on one data folder would both recover the deliveries waiting on retry and both send
them. The engine takes this lock before it opens any LMDB environment and releases it when it
stops; a crash (kill -9 included) releases it too, since the kernel drops a process's ``flock``
with its descriptors. So a stale ``LOCK`` file never blocks a start: only a live holder does.

The read-only tools (``--data-dir`` reads) take no lock: LMDB lets a reader beside the writer.

The file is never deleted: a holder that unlinked it on release would let a third process lock a
new file while a second still held the old one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import weakref
from pathlib import Path

from router.errors import DataDirLockedError, StorageOpenError

LOCK_FILE = "LOCK"
_PID_BYTES = 32  # "12345\n"; a longer file is not ours


class DataDirLock:
    """The exclusive lock on one data folder: held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._close: weakref.finalize[[int], DataDirLock] | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Create the folder if need be and lock it (no-op if held), or fail at once.

        Raises:
            DataDirLockedError: another live process holds the folder (its pid in the message).
            StorageOpenError: the folder cannot be created or written (a read-only folder).
        """
        if self._fd is not None:
            return
        fd = _open(self.folder)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _pid_in(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataDirLockedError(self.folder, pid) from None
            raise _not_writable(self.folder, exc) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a full disk: say why the start failed, and let go
            os.close(fd)
            raise _not_writable(self.folder, exc) from None
        self._fd = fd
        # An engine dropped without stop() (a failed start, embedded) lets go when collected.
        self._close = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        """Unlock (no-op if not held). The pid is cleared first: an empty LOCK is a stopped one."""
        fd, close = self._fd, self._close
        self._fd = self._close = None
        if fd is None or close is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        close()  # closing the only descriptor drops the flock


def _open(folder: Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644
        )
    except OSError as exc:
        raise _not_writable(folder, exc) from None
    # An existing, writable LOCK opens even in a folder made read-only since: check the folder.
    effective = os.access in os.supports_effective_ids
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=effective):
        os.close(fd)
        raise _not_writable(folder, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    return fd


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, _PID_BYTES, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _not_writable(folder: Path, exc: OSError) -> StorageOpenError:
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        problem = f"cannot be created ({why}): a file is in the way; choose a folder"
    else:
        problem = f"is not writable ({why}): make it writable for uid {os.geteuid()}, or choose"
        problem += " another folder"
    return StorageOpenError(f"data folder {folder} {problem} (--data-dir, INTERLOCK_DATA_DIR)")
