"""The only module that imports ``lmdb``: opening an environment, and translating its errors.

The journal and the workflow store each hold one environment. Every LMDB call they make runs
inside :func:`translated`, so an ``lmdb.Error`` leaves the store as a
:class:`~router.errors.StorageError`, never as a library exception a caller would have to catch as
``Exception``: a full map or a full disk (ENOSPC) as :class:`~router.errors.StorageFullError`, any
other failure (EIO, a bad page) as :class:`~router.errors.StorageFailingError`; both are a 503 with
``Retry-After``, and both turn ``/readyz`` 503 until a commit succeeds again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import lmdb

from router.errors import StorageFailingError, StorageFullError, StorageOpenError

MB = 1024 * 1024
# What the stores annotate a transaction, a cursor and a database handle with.
Transaction = lmdb.Transaction
Cursor = lmdb.Cursor
Database = Any  # lmdb's _Database has no public name


@contextmanager
def translated(what: str, *, full_hint: str = "", retry_after: float = 30) -> Iterator[None]:
    """Turn an ``lmdb.Error`` raised in the block into the errors tree; ``what`` names the store."""
    try:
        yield
    except lmdb.MapFullError:
        raise StorageFullError(f"{what} storage is full{full_hint}", retry_after) from None
    except lmdb.DiskError:  # ENOSPC: the disk, not the map, is full; the same 503 and readiness
        detail = f"{what} storage is full: no space left on the device"
        raise StorageFullError(detail, retry_after) from None
    except lmdb.Error as exc:  # EIO and the rest: failing storage takes no new work either
        raise StorageFailingError(f"{what} storage failed: {exc}", retry_after) from None


def open_environment(
    path: Path,
    names: tuple[str, ...],
    *,
    what: str,
    map_size_mb: int,
    sync: bool,
    readonly: bool,
    max_readers: int,
    max_spare_txns: int = 1,
    optional: tuple[str, ...] = (),
) -> tuple[lmdb.Environment, dict[str, Database], int]:
    """Open (or create) the environment at ``path`` and its named databases.

    Returns the environment, its databases by name, and how many stale reader slots of crashed
    processes were cleared (0 when read-only). A read-only open of a folder that is not a store
    fails as :class:`StorageOpenError` instead of creating one. A database named in ``optional``
    that a read-only open does not find (a store written before it existed) is left out.
    """
    if readonly and not (path / "data.mdb").is_file():
        raise StorageOpenError(f"{path}: no {what} here (expected {path / 'data.mdb'})")
    try:
        if not readonly:
            path.mkdir(parents=True, exist_ok=True)
        env = lmdb.open(
            str(path),
            map_size=map_size_mb * MB,
            max_dbs=len(names) + 2,
            sync=sync,
            metasync=sync,
            readonly=readonly,
            max_readers=max_readers,
            max_spare_txns=max_spare_txns,
        )
    except (lmdb.Error, OSError) as exc:
        raise StorageOpenError(f"{path}: cannot open the {what}: {exc}") from exc
    try:
        cleared = 0 if readonly else int(env.reader_check())
        dbs = {}
        for name in names:
            try:
                dbs[name] = env.open_db(name.encode(), create=not readonly)
            except lmdb.NotFoundError:
                if not (readonly and name in optional):
                    raise
    except lmdb.Error as exc:
        env.close()
        raise StorageOpenError(f"{path}: cannot open the {what}: {exc}") from exc
    return env, dbs, cleared


class SideStore:
    """An environment of its own beside the journal (the workflow store, the job store).

    Subclasses name their databases (``NAMES``) and themselves (``WHAT``, for errors); writes go
    through :meth:`_writing`, reads through :meth:`_read`, both translated into the errors tree.
    """

    NAMES: ClassVar[tuple[str, ...]] = ()
    WHAT: ClassVar[str] = "store"

    def __init__(
        self, path: Path, *, map_size_mb: int = 4096, sync: bool = True, readonly: bool = False
    ) -> None:
        self.env, self._db, _ = open_environment(
            path,
            self.NAMES,
            what=self.WHAT,
            map_size_mb=map_size_mb,
            sync=sync,
            readonly=readonly,
            max_readers=64,
        )

    def close(self) -> None:
        self.env.close()

    @contextmanager
    def _writing(self) -> Iterator[Transaction]:
        hint = "; raise INTERLOCK_MAP_SIZE_MB"
        with translated(self.WHAT, full_hint=hint), self.env.begin(write=True) as txn:
            yield txn

    @contextmanager
    def _read(self) -> Iterator[Transaction]:
        with translated(self.WHAT), self.env.begin() as txn:
            yield txn
