"""One reconciliation inside a job run: read both sides, compare by key, handle each exception.

Phases, each checkpointed in the run record (``run["recons"][id]``) so a crash resumes where it
stopped:

1. **read**: both sides page by page through their connector's list operation (its auth, rate
   limit and breaker apply). Each page's records are reduced to key + compared values and indexed
   in LMDB in the same transaction as the side's next cursor: a crash re-reads at most one page.
   A transient failure (5xx, timeout) is retried with backoff, ``page_retry`` times; a permanent
   one fails the run with its reason.
2. **compare**: a sorted merge of the two indexes (LMDB keeps keys in order), so memory holds one
   record per side whatever the size; every exception becomes a numbered report row.
3. **act**: report rows in order; a repair is a message into an ordinary route or workflow, keyed
   ``recon:<reconciliation>:<class>:<key>:<digest of both sides' values>`` so a rerun (or a resume
   after a crash) emitting the same repair is a journal duplicate, never a second repair; a parked
   row is kept, with both sides' values, for an operator. The position is checkpointed per chunk.
4. **alerts**: parked exceptions and a drift over the threshold are posted to ``notify``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from router.connector import OutboundRequest, Page, page_request
from router.errors import (
    BackpressureError,
    ConflictError,
    InterlockError,
    PermanentError,
    TemplateError,
    UnavailableError,
)
from router.ids import new_traceparent
from router.jobs.compare import SideReader, differences, merge
from router.jobs.cron import zone
from router.jobs.metrics import JobMetrics
from router.jobs.spec import EXCEPTION_CLASSES, ExceptionClass, ReconciliationSpec
from router.logs import get_logger
from router.runtime.outlet import Outlet
from router.source_handler import Emit
from router.store.jobs import JobStore, pack, unpack
from router.template import render

log = get_logger("interlock.jobs")
CHUNK = 500  # report rows written, or acted on, per transaction
ALERT_SAMPLE = 50  # exceptions listed in one alert
EMIT_RETRY_S = 1.0


class RunFailedError(InterlockError):
    """A run cannot go on; ``reason`` is what ``jobs history`` shows."""


Offload = Callable[..., Awaitable[Any]]
DeadLetter = Callable[[str], str | None]
"""A message id -> why it is dead-lettered (``route: reason``), or None when it is not."""


def new_state() -> dict[str, Any]:
    side = {"cursor": None, "pages": 0, "records": 0, "done": False, "unkeyed": 0, "dupes": 0}
    return {
        "phase": "read",
        "sides": {"left": dict(side), "right": dict(side)},
        "counts": {},
        "exceptions": 0,
        "acted": 0,
        "handled": {},
    }


def repair_key(spec: str, cls: str, row: dict[str, Any]) -> str:
    values = orjson.dumps([row.get("left"), row.get("right")], option=orjson.OPT_SORT_KEYS)
    return f"recon:{spec}:{cls}:{row['key']}:{hashlib.sha256(values).hexdigest()[:16]}"


class Reconciliation:
    def __init__(
        self,
        spec: ReconciliationSpec,
        outlets: dict[str, Outlet],
        store: JobStore,
        offload: Offload,
        emit: Emit,
        metrics: JobMetrics,
        dead_letter: DeadLetter,
    ) -> None:
        self.spec = spec
        self.dead_letter = dead_letter
        self.outlets = outlets
        self.store = store
        self.offload = offload
        self.emit = emit
        self.metrics = metrics
        tz = zone(spec.timezone)
        self.readers = {
            "left": SideReader(spec.left, spec.compare, tz),
            "right": SideReader(spec.right, spec.compare, tz),
        }

    def _state(self, run: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = run["recons"].setdefault(self.spec.id, new_state())
        return state

    async def run(self, run: dict[str, Any]) -> dict[str, Any]:
        """Take the reconciliation from its checkpoint to done; returns its state."""
        state = self._state(run)
        if state["phase"] == "read":
            await asyncio.gather(self._read(run, "left"), self._read(run, "right"))
            state["phase"] = "compare"
            await self.offload(self.store.save_run, run)
        if state["phase"] == "compare":
            await self.offload(self._compare, run)
        if state["phase"] == "act":
            await self._act(run)
            state["phase"] = "done"
            await self.offload(self.store.save_run, run)
        self._export(state)
        return state

    # -- read --------------------------------------------------------------------------------------

    async def _read(self, run: dict[str, Any], side: str) -> None:
        progress = self._state(run)["sides"][side]
        spec = getattr(self.spec, side)
        while not progress["done"]:
            page = await self._page(run, side, progress["cursor"], progress["pages"])
            await self.offload(self._index, run, side, page)
            self.metrics.records.labels(self.spec.id, spec.name).inc(len(page.records))

    async def _page(self, run: dict[str, Any], side: str, cursor: Any, number: int) -> Page:
        spec = getattr(self.spec, side)
        outlet = self.outlets[spec.connector]
        what = f"{spec.name} page {number + 1}"
        for attempt in range(1, self.spec.page_retry + 1):
            request = OutboundRequest(
                message_id=run["id"],
                route=f"reconcile:{self.spec.id}",
                method="GET",
                path="",
                body=page_request(spec.params, cursor),
                idempotency_key=f"{run['id']}:{self.spec.id}:{side}:{number}",
                correlation_id=run["id"],
                traceparent=new_traceparent(),
                attempt=attempt,
                operation=spec.operation,
            )
            result = await outlet.call(request)
            if result.error is None:
                try:
                    return Page.decode(result.body)
                except ValueError as exc:
                    raise RunFailedError(f"{what}: {exc}") from None
            if isinstance(result.error, PermanentError):
                raise RunFailedError(f"{what}: {result.error}")
            log.warning("reconcile_page_retry", run=run["id"], page=what, error=str(result.error))
            if attempt < self.spec.page_retry:
                await asyncio.sleep(min(10.0, 0.2 * 2 ** (attempt - 1)))
        raise RunFailedError(
            f"{what}: still failing after {self.spec.page_retry} attempts: {result.error}"
        )

    def _index(self, run: dict[str, Any], side: str, page: Page) -> None:
        """On the job thread: reduce the page, index it, move the cursor; one transaction."""
        reader = self.readers[side]
        progress = self._state(run)["sides"][side]
        entries: dict[str, bytes] = {}
        unkeyed = skipped = 0
        for record in page.records:
            reduced = reader.reduce(record)
            if reduced is None:
                unkeyed += 1
            elif isinstance(reduced, str):
                skipped += 1
            else:
                entries[reduced.key] = pack([reduced.values, reduced.record])
        keyed = len(page.records) - unkeyed - skipped
        update = {
            "cursor": page.next,
            "pages": progress["pages"] + 1,
            "records": progress["records"] + len(page.records),
            "done": page.next is None,
            "unkeyed": progress["unkeyed"] + unkeyed,
            "dupes": progress["dupes"] + keyed - len(entries),  # a key twice in one page
        }
        self.store.put_page(run, self.spec.id, side, list(entries.items()), progress, update)

    # -- compare -----------------------------------------------------------------------------------

    def _compare(self, run: dict[str, Any]) -> None:
        """On the job thread: merge the two indexes into numbered exception rows."""
        state = self._state(run)
        spec = self.spec
        fields = list(spec.compare)
        counts: Counter[str] = Counter()
        rows: list[tuple[int, dict[str, Any]]] = []
        seq = 0
        left = self.store.side(run["id"], spec.id, "left")
        right = self.store.side(run["id"], spec.id, "right")
        for key, a, b in merge(left, right):
            cls: ExceptionClass
            diff: list[str]
            if a is None:
                cls, diff = "missing_left", []
            elif b is None:
                cls, diff = "missing_right", []
            else:
                diff = differences(unpack(a)[0], unpack(b)[0], fields)
                if not diff:
                    counts["matched"] += 1
                    continue
                cls = "mismatched"
            counts[cls] += 1
            rows.append((seq, self._row(cls, key.decode("utf-8", "surrogatepass"), a, b, diff)))
            seq += 1
            if len(rows) >= CHUNK:
                self.store.put_report(run, spec.id, rows)
                rows = []
        state["counts"] = {c: counts[c] for c in ("matched", *EXCEPTION_CLASSES)}
        state["exceptions"] = seq
        state["phase"] = "act"
        self.store.put_report(run, spec.id, rows)

    def _row(
        self, cls: ExceptionClass, key: str, a: bytes | None, b: bytes | None, diff: list[str]
    ) -> dict[str, Any]:
        handling = self.spec.handling(cls)
        left = None if a is None else unpack(a)
        right = None if b is None else unpack(b)
        row: dict[str, Any] = {
            "class": cls,
            "key": key,
            "fields": diff,
            "left": None if left is None else left[0],
            "right": None if right is None else right[0],
            "handling": "ignored"
            if handling.ignore is not None
            else "repair"
            if handling.repair is not None
            else "parked",
        }
        if handling.ignore is not None:
            row["reason"] = handling.ignore
        else:  # a repair renders from the records, an operator reads them
            row["left_record"] = None if left is None else left[1]
            row["right_record"] = None if right is None else right[1]
        return row

    # -- act ---------------------------------------------------------------------------------------

    async def _act(self, run: dict[str, Any]) -> None:
        state = self._state(run)
        parked: list[dict[str, Any]] = []
        first = state["acted"] == 0
        while state["acted"] < state["exceptions"]:
            chunk = await self.offload(self._chunk, run, state["acted"])
            for _, row in chunk:
                outcome = row["outcome"] = await self._handle(run, row)
                handled = f"{row['class']}:{outcome}"
                state["handled"][handled] = state["handled"].get(handled, 0) + 1
                self.metrics.actions.labels(self.spec.id, row["class"], outcome).inc()
                if outcome == "parked":
                    parked.append(row)
            state["acted"] = chunk[-1][0] + 1
            await self.offload(self._acted, run, chunk, parked, first)
            first, parked = False, []
        if state["exceptions"] == 0:
            await self.offload(self.store.set_parked, self.spec.id, [], True)
        await self._alerts(run, state)

    def _chunk(self, run: dict[str, Any], start: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.store.report(run["id"], self.spec.id, start)
        return [row for _, row in zip(range(CHUNK), rows, strict=False)]

    def _acted(
        self,
        run: dict[str, Any],
        chunk: list[tuple[int, dict[str, Any]]],
        parked: list[dict[str, Any]],
        first: bool,
    ) -> None:
        """The chunk's outcomes in the report, its parked rows kept, the position moved on."""
        rows = [{**row, "run": run["id"]} for row in parked]
        self.store.set_parked(self.spec.id, rows, replace=first)
        self.store.put_report(run, self.spec.id, chunk)

    async def _handle(self, run: dict[str, Any], row: dict[str, Any]) -> str:
        """``ignored``, ``parked``, or what the repair came to (see :meth:`_repair`)."""
        handling = self.spec.handling(row["class"])
        if handling.ignore is not None:
            return "ignored"
        if handling.repair is None:
            return "parked"
        repair = handling.repair
        context = {
            "key": row["key"],
            "left": row.get("left_record"),
            "right": row.get("right_record"),
            "reconciliation": self.spec.id,
        }
        try:
            payload = render(repair.body, context)
        except TemplateError as exc:
            row["reason"] = f"repair template: {exc}"
            return "repair_failed"
        origin = f"interlock-reconcile/{self.spec.id} run={run['id']}"
        key = repair_key(self.spec.id, row["class"], row)
        return await self._repair(row, repair.source, repair.type, payload, key, origin)

    async def _repair(
        self, row: dict[str, Any], source: str, event_type: str, payload: Any, key: str, origin: str
    ) -> str:
        """``repaired`` (the repair message is journaled; its route delivers it),
        ``already_repaired`` (emitted by an earlier run or attempt), ``repair_dead_lettered``
        (emitted before, and its delivery dead-lettered) or ``repair_failed`` (refused); the row
        names the repair message and says why."""
        while True:
            try:
                ack = await self.emit(source, event_type, payload, key, origin)
                break
            except (BackpressureError, UnavailableError) as exc:
                await asyncio.sleep(exc.retry_after or EMIT_RETRY_S)
            except ConflictError:
                return "already_repaired"  # the same key with another body: emitted before
            except InterlockError as exc:
                row["reason"] = f"repair refused: {exc}"
                return "repair_failed"
        row["message"] = ack.id
        if not ack.duplicate:
            return "repaired"
        # Emitted before (a rerun, a resume): never twice. But a repair that dead-lettered stays a
        # duplicate too, so say so rather than count it as done.
        dead = await self.offload(self.dead_letter, ack.id)
        if dead is None:
            return "already_repaired"
        row["reason"] = (
            f"the repair message {ack.id} is dead-lettered ({dead}); replay it once the cause "
            "is fixed (`interlock dlq replay`)"
        )
        return "repair_dead_lettered"

    async def _alerts(self, run: dict[str, Any], state: dict[str, Any]) -> None:
        notify = self.spec.notify
        if notify is None:
            return
        parked = sum(n for k, n in state["handled"].items() if k.endswith(":parked"))
        threshold = self.spec.drift_alert.threshold if self.spec.drift_alert else None
        alerts = []
        if parked:
            alerts.append(("parked", f"{parked} exceptions parked for an operator"))
        if threshold is not None and state["exceptions"] > threshold:
            alerts.append(("drift", f"{state['exceptions']} exceptions, above {threshold}"))
        for kind, summary in alerts:
            sample = await self.offload(self._sample, run, kind == "parked")
            body = {
                "kind": f"reconciliation.{kind}",
                "reconciliation": self.spec.id,
                "run": run["id"],
                "summary": summary,
                "counts": state["counts"],
                "exceptions": sample,
            }
            request = OutboundRequest(
                message_id=run["id"],
                route=f"reconcile:{self.spec.id}",
                method="POST",
                path=notify.path,
                body=orjson.dumps(body),
                idempotency_key=f"{run['id']}:{self.spec.id}:{kind}",
                correlation_id=run["id"],
                traceparent=new_traceparent(),
                attempt=1,
            )
            result = await self.outlets[notify.connector].call(request)
            if result.error is not None:
                state.setdefault("alert_errors", []).append(f"{kind}: {result.error}")
                log.error(
                    "reconcile_alert_failed", run=run["id"], kind=kind, error=str(result.error)
                )

    def _sample(self, run: dict[str, Any], parked_only: bool) -> list[dict[str, Any]]:
        out = []
        for _, row in self.store.report(run["id"], self.spec.id):
            if parked_only and row["handling"] != "parked":
                continue
            out.append({k: row.get(k) for k in ("class", "key", "fields", "left", "right")})
            if len(out) >= ALERT_SAMPLE:
                break
        return out

    def _export(self, state: dict[str, Any]) -> None:
        for cls, count in state["counts"].items():
            self.metrics.drift.labels(self.spec.id, cls).set(count)
        ignored = sum(n for k, n in state["handled"].items() if k.endswith(":ignored"))
        self.metrics.backlog.labels(self.spec.id).set(state["exceptions"] - ignored)
