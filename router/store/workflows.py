"""Workflow instances in LMDB: the orchestrator's durable state machine records.

A separate environment (``<data>/workflows``) beside the journal: instance writes are few (two per
step) and come from the orchestrator's thread, so they never queue behind the journal's group
commits, and each has its own map. Databases::

    inst      instance id                 -> msgpack instance record
    key       workflow \\0 business key    -> instance id (one instance per business key; a
                                           handed-back one gives its key to the next trigger)
    active    instance id                 -> ''  (resume index: running or compensating)

Writes happen on the orchestrator actor's thread only; readers (admin API, CLI on a stopped
router) use short read transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from router.store.lmdb_env import SideStore
from router.workflows.state import ACTIVE, UNFINISHED, Instance, State

_DBS = ("inst", "key", "active")


def _key(workflow: str, business_key: str) -> bytes:
    return f"{workflow}\x00{business_key}".encode("utf-8", "surrogatepass")


def _pack(instance: Instance) -> bytes:
    return msgpack.packb(instance.to_record(), use_bin_type=True)


def _unpack(raw: bytes) -> Instance:
    return Instance.from_record(msgpack.unpackb(raw, raw=False))


class WorkflowStore(SideStore):
    NAMES = _DBS
    WHAT = "workflow store"

    # -- writes (orchestrator thread only) -------------------------------------------------------

    def _write(self, txn_work: Any) -> Any:
        with self._writing() as txn:
            return txn_work(txn)

    def _put(self, txn: Any, instance: Instance) -> None:
        raw_id = instance.id.encode()
        txn.put(raw_id, _pack(instance), db=self._db["inst"])
        if instance.state in ACTIVE:
            txn.put(raw_id, b"", db=self._db["active"])
        else:
            txn.delete(raw_id, db=self._db["active"])

    def create(self, instance: Instance) -> Instance | None:
        """Store a new instance, unless one exists for its business key: then return that one.

        The check and the insert share one transaction, so two triggers for the same key can never
        both start an instance. A handed-back instance (cluster mode) counts as absent: the new
        one takes its key.
        """

        def work(txn: Any) -> Instance | None:
            key = _key(instance.workflow, instance.key)
            existing = txn.get(key, db=self._db["key"])
            if existing is not None:
                raw = txn.get(bytes(existing), db=self._db["inst"])
                if raw is not None:
                    found = _unpack(bytes(raw))
                    if found.state is not State.HANDED_BACK:
                        return found
            txn.put(key, instance.id.encode(), db=self._db["key"])
            self._put(txn, instance)
            return None

        result: Instance | None = self._write(work)
        return result

    def save(self, instance: Instance) -> None:
        """Make the instance's current state durable (one synced commit)."""
        self._write(lambda txn: self._put(txn, instance))

    def hand_back(self, mark: Callable[[Instance], None]) -> list[Instance]:
        """Hand back every unfinished instance (running, compensating, parked), in one commit:
        ``mark`` turns each into a handed-back one, which is then stored. Returns them."""

        def work(txn: Any) -> list[Instance]:
            found = [
                instance
                for instance in (_unpack(bytes(raw)) for _, raw in txn.cursor(db=self._db["inst"]))
                if instance.state in UNFINISHED
            ]
            for instance in found:
                mark(instance)
                assert instance.state is State.HANDED_BACK
                self._put(txn, instance)
            return found

        result: list[Instance] = self._write(work)
        return result

    # -- reads (any thread) ----------------------------------------------------------------------

    def get(self, instance_id: str) -> Instance | None:
        with self._read() as txn:
            raw = txn.get(instance_id.encode(), db=self._db["inst"])
        return None if raw is None else _unpack(bytes(raw))

    def by_key(self, workflow: str, business_key: str) -> Instance | None:
        with self._read() as txn:
            found = txn.get(_key(workflow, business_key), db=self._db["key"])
        return None if found is None else self.get(bytes(found).decode())

    def active(self) -> list[Instance]:
        """Instances to resume after a restart, oldest first (ids sort by creation time)."""
        with self._read() as txn:
            ids = [bytes(k) for k, _ in txn.cursor(db=self._db["active"])]
            raws = [txn.get(i, db=self._db["inst"]) for i in ids]
        return [_unpack(bytes(r)) for r in raws if r is not None]

    def scan(self) -> Iterator[Instance]:
        """Every instance, newest first (ids sort by creation time); the admin filters as it goes
        (instances are few next to messages)."""
        with self._read() as txn:
            cursor = txn.cursor(db=self._db["inst"])
            for _, raw in cursor.iterprev():
                yield _unpack(bytes(raw))

    def query(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> list[Instance]:
        if workflow is not None and key is not None:
            found = self.by_key(workflow, key)
            return [found] if found is not None and state in (None, found.state) else []
        out: list[Instance] = []
        for instance in self.scan():
            if workflow is not None and instance.workflow != workflow:
                continue
            if state is not None and instance.state != state:
                continue
            if key is not None and instance.key != key:
                continue
            out.append(instance)
            if len(out) >= limit:
                break
        return out

    def counts(self) -> Counter[tuple[str, str]]:
        """(workflow, state) -> instances; read once at start, then kept by the orchestrator."""
        return Counter((i.workflow, i.state.value) for i in self.scan())
