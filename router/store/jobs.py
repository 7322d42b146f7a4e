"""Scheduled jobs in LMDB: slots claimed, runs and their checkpoints, the reconciliation index.

A separate environment (``<data>/jobs``) beside the journal and the workflow store. Databases::

    sched    job                               -> {last_slot}: the newest slot claimed or skipped
    runs     run id                            -> the run record (state, phases, cursors, counts)
    active   job                               -> run id (at most one running run per job)
    idx      run \\0 recon \\0 side \\0 key      -> msgpack [compared values, record]
    report   run \\0 recon \\0 seq (8 bytes)     -> msgpack exception row
    parked   recon \\0 key                      -> msgpack exception row (the latest run's)

Claiming a slot, starting its run and marking the job active is one transaction, and so is each
page read (its records indexed with the side's next cursor), so a crash re-runs no slot, loses no
slot, and resumes a run at the page after the last one committed. Every write happens on the job
service's one thread; readers (the admin API, the CLI on a stopped router) use read transactions.
A run id is ``<job>.<n>``: job ids are kebab-case, so the dot is unambiguous.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack

from router.store.lmdb_env import SideStore, Transaction

_DBS = ("sched", "runs", "active", "idx", "report", "parked")
SEP = b"\x00"
RUNNING = "running"


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def run_id(job: str, seq: int) -> str:
    return f"{job}.{seq}"


def _run_key(run: str) -> bytes:
    job, _, seq = run.rpartition(".")
    return job.encode() + SEP + int(seq).to_bytes(8, "big") if seq.isdigit() else run.encode()


def _prefix(*parts: str) -> bytes:
    return SEP.join(p.encode("utf-8", "surrogatepass") for p in parts) + SEP


class JobStore(SideStore):
    NAMES = _DBS
    WHAT = "job store"

    # -- schedule and runs (the job thread) ------------------------------------------------------

    def _sched(self, txn: Transaction, job: str) -> dict[str, Any]:
        raw = txn.get(job.encode(), db=self._db["sched"])
        return {"last_slot": None, "seq": 0} if raw is None else dict(unpack(bytes(raw)))

    def last_slot(self, job: str) -> float | None:
        with self._read() as txn:
            slot = self._sched(txn, job)["last_slot"]
        return None if slot is None else float(slot)

    def set_last_slot(self, job: str, slot: float) -> None:
        with self._writing() as txn:
            state = self._sched(txn, job)
            txn.put(job.encode(), pack({**state, "last_slot": slot}), db=self._db["sched"])

    def active(self, job: str) -> str | None:
        with self._read() as txn:
            raw = txn.get(job.encode(), db=self._db["active"])
        return None if raw is None else bytes(raw).decode()

    def active_runs(self) -> list[dict[str, Any]]:
        with self._read() as txn:
            ids = [bytes(raw).decode() for _, raw in txn.cursor(db=self._db["active"])]
            return [r for r in (self._get_run(txn, i) for i in ids) if r is not None]

    def start_run(self, job: str, run: dict[str, Any], slot: float | None) -> dict[str, Any] | None:
        """Claim ``slot`` (None: a manual run) and store ``run``; None if the slot was claimed
        already or (for a ``running`` run) a run of the job is active. One transaction, so a slot
        starts one run. A ``skipped`` record claims its slot without making the job active."""
        with self._writing() as txn:
            running = run["state"] == RUNNING
            if running and txn.get(job.encode(), db=self._db["active"]) is not None:
                return None
            state = self._sched(txn, job)
            if slot is not None:
                if state["last_slot"] is not None and float(state["last_slot"]) >= slot:
                    return None
                state["last_slot"] = slot
            state["seq"] = seq = int(state["seq"]) + 1
            txn.put(job.encode(), pack(state), db=self._db["sched"])
            run = {**run, "id": run_id(job, seq), "seq": seq}
            txn.put(_run_key(run["id"]), pack(run), db=self._db["runs"])
            if running:
                txn.put(job.encode(), run["id"].encode(), db=self._db["active"])
            return run

    def save_run(self, run: dict[str, Any]) -> None:
        with self._writing() as txn:
            txn.put(_run_key(run["id"]), pack(run), db=self._db["runs"])

    def finish_run(self, run: dict[str, Any]) -> None:
        """Store the finished run, free its job, and drop its index (the report stays)."""
        prefix = _prefix(run["id"])
        with self._writing() as txn:
            txn.put(_run_key(run["id"]), pack(run), db=self._db["runs"])
            txn.delete(run["job"].encode(), db=self._db["active"])
            with txn.cursor(db=self._db["idx"]) as cur:
                if cur.set_range(prefix):
                    while bytes(cur.key()).startswith(prefix):
                        if not cur.delete():
                            break

    def _get_run(self, txn: Transaction, run: str) -> dict[str, Any] | None:
        raw = txn.get(_run_key(run), db=self._db["runs"])
        return None if raw is None else dict(unpack(bytes(raw)))

    def run(self, run: str) -> dict[str, Any] | None:
        with self._read() as txn:
            return self._get_run(txn, run)

    def runs(self, job: str, limit: int = 20) -> list[dict[str, Any]]:
        """The job's newest runs first."""
        prefix = job.encode() + SEP
        out: list[dict[str, Any]] = []
        with self._read() as txn, txn.cursor(db=self._db["runs"]) as cur:
            found = cur.set_range(prefix + b"\xff" * 8)
            found = cur.prev() if found else cur.last()
            while found and bytes(cur.key()).startswith(prefix) and len(out) < limit:
                out.append(dict(unpack(bytes(cur.value()))))
                found = cur.prev()
        return out

    # -- the index of a reconciliation run --------------------------------------------------------

    def put_page(
        self,
        run: dict[str, Any],
        recon: str,
        side: str,
        entries: list[tuple[str, bytes]],
        progress: dict[str, Any],
        update: dict[str, Any],
    ) -> None:
        """Index one page's records and move the side's cursor (``progress.update(update)``, a
        key already indexed counted in ``dupes``), the run stored with it: one transaction."""
        prefix = _prefix(run["id"], recon, side)
        items = [(prefix + key.encode("utf-8", "surrogatepass"), v) for key, v in entries]
        with self._writing() as txn:
            added = 0
            if items:
                with txn.cursor(db=self._db["idx"]) as cur:
                    _, added = cur.putmulti(items, overwrite=False)
            progress.update(update)
            progress["dupes"] += len(items) - added
            txn.put(_run_key(run["id"]), pack(run), db=self._db["runs"])

    def side(self, run: str, recon: str, side: str) -> Iterator[tuple[bytes, bytes]]:
        """The side's index in key order, as (key, packed entry); one read transaction."""
        prefix = _prefix(run, recon, side)
        with self._read() as txn, txn.cursor(db=self._db["idx"]) as cur:
            found = cur.set_range(prefix)
            while found and bytes(cur.key()).startswith(prefix):
                yield bytes(cur.key())[len(prefix) :], bytes(cur.value())
                found = cur.next()

    # -- reports and parked exceptions -----------------------------------------------------------

    def put_report(
        self, run: dict[str, Any], recon: str, rows: list[tuple[int, dict[str, Any]]]
    ) -> None:
        """Add exception rows (numbered by the caller) and store ``run``: one transaction."""
        prefix = _prefix(run["id"], recon)
        with self._writing() as txn:
            for seq, row in rows:
                txn.put(prefix + seq.to_bytes(8, "big"), pack(row), db=self._db["report"])
            txn.put(_run_key(run["id"]), pack(run), db=self._db["runs"])

    def report(self, run: str, recon: str, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        prefix = _prefix(run, recon)
        with self._read() as txn, txn.cursor(db=self._db["report"]) as cur:
            found = cur.set_range(prefix + start.to_bytes(8, "big"))
            while found and bytes(cur.key()).startswith(prefix):
                yield (
                    int.from_bytes(bytes(cur.key())[len(prefix) :], "big"),
                    dict(unpack(bytes(cur.value()))),
                )
                found = cur.next()

    def set_parked(self, recon: str, rows: list[dict[str, Any]], replace: bool) -> None:
        """The reconciliation's parked exceptions; ``replace`` first forgets the previous run's."""
        prefix = _prefix(recon)
        with self._writing() as txn:
            if replace:
                with txn.cursor(db=self._db["parked"]) as cur:
                    if cur.set_range(prefix):
                        while bytes(cur.key()).startswith(prefix):
                            if not cur.delete():
                                break
            for row in rows:
                key = prefix + str(row["key"]).encode("utf-8", "surrogatepass")
                txn.put(key, pack(row), db=self._db["parked"])

    def parked(self, recon: str, limit: int = 1000) -> list[dict[str, Any]]:
        prefix = _prefix(recon)
        out: list[dict[str, Any]] = []
        with self._read() as txn, txn.cursor(db=self._db["parked"]) as cur:
            found = cur.set_range(prefix)
            while found and bytes(cur.key()).startswith(prefix) and len(out) < limit:
                out.append(dict(unpack(bytes(cur.value()))))
                found = cur.next()
        return out
