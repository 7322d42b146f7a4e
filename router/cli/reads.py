"""The one data access of the read commands, with two backends: the admin API, or a data dir.

Every read command (``trace``, ``messages``, ``dlq list|show``, ``workflows list|show|stats``,
``jobs list|show|history``, ``reconcile report|parked``)
is written once against :class:`Reads`. :class:`ApiReads` asks a running router's admin API;
:class:`DataDirReads` opens a (possibly stopped) router's ``DATA_DIR`` read-only and builds the
same JSON with the views the API answers with (``router.store.queries``,
``router.workflows.views``), so ``--json`` prints one shape either way. Both raise
:class:`~router.errors.CliError` for what the user should see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from router.cli.admin_client import (
    AdminClient,
    fail,
    parse_id,
    parse_instance_id,
    parse_name,
    parse_run_id,
    settings,
)
from router.cli.options import EXIT_CONFIG, EXIT_USAGE
from router.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig
    from router.store.jobs import JobStore
    from router.store.journal import Journal
    from router.store.lmdb_env import SideStore
    from router.store.workflows import WorkflowStore
    from router.workflows.spec import WorkflowSpec
    from router.workflows.state import Instance

Json = dict[str, Any]
_T = TypeVar("_T")
_S = TypeVar("_S", bound="SideStore")


class Reads(Protocol):
    """What the read commands ask; each answer is the admin API's JSON for it."""

    def message(self, message_id: str) -> Json: ...

    def messages(self, filters: Json) -> Json: ...

    def dead_letters(self, filters: Json) -> Json: ...

    def dead_letters_of(self, message_id: str) -> Json: ...

    def instances(self, filters: Json) -> Json: ...

    def instance(self, instance_id: str) -> Json: ...

    def workflow_stats(self, routes: Path | None) -> Json: ...

    def jobs(self, routes: Path | None) -> Json: ...

    def job_runs(self, job: str, limit: int) -> Json: ...

    def run(self, run_id: str) -> Json: ...

    def report(self, run_id: str, filters: Json) -> Json: ...

    def parked(self, reconciliation: str) -> Json: ...


def reads_for(url: str | None, token: str | None, data_dir: Path | None) -> Reads:
    """The data dir when one is given, else the admin API at ``url``."""
    return ApiReads(AdminClient(url, token)) if data_dir is None else DataDirReads(data_dir)


class ApiReads:
    def __init__(self, client: AdminClient) -> None:
        self.client = client

    def message(self, message_id: str) -> Json:
        parse_id(message_id)
        return dict(self.client.call("GET", f"/messages/{message_id}"))

    def messages(self, filters: Json) -> Json:
        return dict(self.client.call("GET", "/messages", filters))

    def dead_letters(self, filters: Json) -> Json:
        return dict(self.client.call("GET", "/dead-letters", filters))

    def dead_letters_of(self, message_id: str) -> Json:
        parse_id(message_id)
        return dict(self.client.call("GET", f"/dead-letters/{message_id}"))

    def instances(self, filters: Json) -> Json:
        return dict(self.client.call("GET", "/workflows", filters))

    def instance(self, instance_id: str) -> Json:
        return dict(self.client.call("GET", f"/workflows/{parse_instance_id(instance_id)}"))

    def workflow_stats(self, routes: Path | None) -> Json:
        del routes  # the running router knows its own workflows
        return dict(self.client.call("GET", "/workflows/stats"))

    def jobs(self, routes: Path | None) -> Json:
        del routes  # the running router knows its own jobs
        return dict(self.client.call("GET", "/jobs"))

    def job_runs(self, job: str, limit: int) -> Json:
        return dict(self.client.call("GET", f"/jobs/{parse_name(job)}/runs", {"limit": limit}))

    def run(self, run_id: str) -> Json:
        return dict(self.client.call("GET", f"/runs/{parse_run_id(run_id)}"))

    def report(self, run_id: str, filters: Json) -> Json:
        return dict(self.client.call("GET", f"/runs/{parse_run_id(run_id)}/report", filters))

    def parked(self, reconciliation: str) -> Json:
        return dict(
            self.client.call("GET", f"/reconciliations/{parse_name(reconciliation)}/parked")
        )


class DataDirReads:
    """Reads of a router's data dir, each in its own short read-only open of the store."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    # -- the journal --------------------------------------------------------------------------

    def message(self, message_id: str) -> Json:
        from router.store.queries import message_detail

        raw = parse_id(message_id)
        with self._journal() as journal:
            found = message_detail(journal, raw)
        if found is None:
            fail(f"no message {message_id}")
        return found.model_dump(mode="json")

    def messages(self, filters: Json) -> Json:
        from router.store.queries import search_messages

        return self._page(search_messages, filters)

    def dead_letters(self, filters: Json) -> Json:
        from router.store.queries import list_dead_letters

        return self._page(list_dead_letters, filters)

    def dead_letters_of(self, message_id: str) -> Json:
        from router.store.queries import dead_letters_of

        raw = parse_id(message_id)
        with self._journal() as journal:
            found = dead_letters_of(journal, raw)
        if not found:
            fail(f"no dead letter for message {message_id}")
        return {"id": message_id, "items": [d.model_dump(mode="json") for d in found]}

    def _page(self, query: Callable[..., tuple[list[Any], str | None]], filters: Json) -> Json:
        if filters.get("cursor") is not None and ":" not in filters["cursor"]:
            parse_id(filters["cursor"])
        try:
            with self._journal() as journal:
                items, cursor = query(journal, **filters)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        return {"items": [i.model_dump(mode="json") for i in items], "next_cursor": cursor}

    @contextmanager
    def _journal(self) -> Iterator[Journal]:
        from router.store.journal import Journal

        path = self.data_dir / "journal"
        if not (path / "data.mdb").is_file():
            fail(f"{path}: no journal here", EXIT_USAGE)
        try:
            journal = Journal(path, readonly=True)
        except StorageError as exc:
            fail(f"{path}: cannot open the journal read-only: {exc}")
        try:
            yield journal
        finally:
            journal.close()

    # -- the workflow store -------------------------------------------------------------------

    def instances(self, filters: Json) -> Json:
        from router.workflows.views import InstanceList, summary_of

        nothing: list[Instance] = []
        found = self._workflows(lambda store: store.query(**filters), nothing)
        return InstanceList(instances=[summary_of(i) for i in found]).model_dump(mode="json")

    def instance(self, instance_id: str) -> Json:
        from router.workflows.views import detail_of

        canonical = parse_instance_id(instance_id)
        found = self._workflows(lambda store: store.get(canonical), None)
        if found is None:
            fail(f"no workflow instance {instance_id}")
        return detail_of(found).model_dump(mode="json")

    def workflow_stats(self, routes: Path | None) -> Json:
        from router.workflows.views import stats_of

        specs = _workflow_specs(routes)
        found = self._workflows(lambda store: stats_of(specs, store.scan()), stats_of(specs, []))
        return found.model_dump(mode="json")

    def _workflows(self, query: Callable[[WorkflowStore], _T], empty: _T) -> _T:
        from router.store.workflows import WorkflowStore

        return self._side_store(WorkflowStore, "workflows", query, empty)

    def _side_store(self, kind: type[_S], folder: str, query: Callable[[_S], _T], empty: _T) -> _T:
        """One read-only query of a store beside the journal; a router that never used it (a
        journal but no such store) answers ``empty``."""
        path = self.data_dir / folder
        if not (path / "data.mdb").is_file():
            if (self.data_dir / "journal" / "data.mdb").is_file():
                return empty
            fail(f"{self.data_dir}: no router data here (no journal, no {folder})", EXIT_USAGE)
        try:
            store = kind(path, readonly=True)
        except StorageError as exc:
            fail(f"{path}: cannot open the {kind.WHAT} read-only: {exc}")
        try:
            return query(store)
        finally:
            store.close()

    # -- the job store ------------------------------------------------------------------------

    def jobs(self, routes: Path | None) -> Json:
        import time

        from router.jobs.kind import JOB
        from router.jobs.views import JobList, job_summary

        specs = _routes(routes).specs(JOB)

        def summaries(store: JobStore) -> JobList:
            def one(name: str) -> Any:
                runs = store.runs(name, 1)
                last = runs[0] if runs else None
                slot = store.last_slot(name)
                return job_summary(specs[name], last, store.active(name), slot, time.time())

            return JobList(jobs=[one(name) for name in specs])

        empty = JobList(jobs=[])
        return self._jobs(summaries, empty).model_dump(mode="json", by_alias=True)

    def job_runs(self, job: str, limit: int) -> Json:
        from router.jobs.views import RunList, run_summary

        name = parse_name(job)
        nothing: list[Json] = []
        runs = self._jobs(lambda store: store.runs(name, limit), nothing)
        return RunList(runs=[run_summary(r) for r in runs]).model_dump(mode="json")

    def run(self, run_id: str) -> Json:
        from router.jobs.views import run_detail

        found = self._jobs(lambda store: store.run(parse_run_id(run_id)), None)
        if found is None:
            fail(f"no run {run_id}")
        return run_detail(found).model_dump(mode="json")

    def report(self, run_id: str, filters: Json) -> Json:
        from router.jobs.views import report_of

        wanted = parse_run_id(run_id)

        def read(store: JobStore) -> Json | None:
            found = store.run(wanted)
            if found is None:
                return None
            recons = list(found.get("recons", {}))
            recon = filters.get("reconciliation") or (recons[0] if recons else "")
            if recon not in recons:
                fail(f"run {run_id} has no reconciliation {recon!r} (it has: {', '.join(recons)})")
            rows = store.report(wanted, recon, int(filters.get("offset") or 0))
            report = report_of(found, recon, rows, int(filters.get("limit") or 1000))
            return report.model_dump(mode="json", by_alias=True)

        out = self._jobs(read, None)
        if out is None:
            fail(f"no run {run_id}")
        return out

    def parked(self, reconciliation: str) -> Json:
        from router.jobs.views import ParkedList, report_row

        name = parse_name(reconciliation)
        nothing: list[Json] = []
        rows = self._jobs(lambda store: store.parked(name), nothing)
        items = [report_row(i, row, records=True) for i, row in enumerate(rows)]
        return ParkedList(reconciliation=name, items=items).model_dump(mode="json", by_alias=True)

    def _jobs(self, query: Callable[[JobStore], _T], empty: _T) -> _T:
        from router.store.jobs import JobStore

        return self._side_store(JobStore, "jobs", query, empty)


def _routes(routes: Path | None) -> RouterConfig:
    """A routes folder (default: the settings'); exit 2 if missing, 78 invalid."""
    from router.config import load_config

    folder = routes or settings().routes
    if not folder.exists():
        fail(f"{folder}: no such routes folder (pass --routes for the definitions)", 2)
    try:
        return load_config(folder)
    except ConfigError as exc:
        fail(exc.render(), EXIT_CONFIG)


def _workflow_specs(routes: Path | None) -> dict[str, WorkflowSpec]:
    """The workflows of a routes folder (default: the settings'); exit 2 if missing, 78 invalid."""
    from router.config import load_config
    from router.workflows.kind import WORKFLOW

    folder = routes or settings().routes
    if not folder.exists():
        fail(f"{folder}: no such routes folder (pass --routes for the workflow definitions)", 2)
    try:
        return load_config(folder).specs(WORKFLOW)
    except ConfigError as exc:
        fail(exc.render(), EXIT_CONFIG)
