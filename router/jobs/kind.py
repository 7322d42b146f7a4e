"""The ``kind: reconciliation`` and ``kind: job`` files: their models and their checks.

``interlock check`` proves that each side names a connector and one of its *list* operations,
that every compared field is read on both sides, that a repair enters by a known source and that
alerts go to a known connector. A job's reconciliations must exist: jobs load after them (a
higher rank), whatever their file names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router import registry
from router.config.kinds import FileKind, Loc, Problem, register_file_kind
from router.config.references import source_problems, unknown
from router.jobs.spec import (
    DriftAlertSpec,
    FieldSpec,
    HandlingSpec,
    JobSpec,
    NotifySpec,
    ReconciliationSpec,
    RepairSpec,
    ScheduleSpec,
    SideSpec,
)

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig


def _side_problems(side: SideSpec, at: Loc, config: RouterConfig) -> list[Problem]:
    name = side.connector
    if name not in config.connectors:
        if f"connector:{name}" in config.invalid:
            return []
        return [((*at, "connector"), unknown("connector", name, config.connectors))]
    lists = registry.connectors()[config.connectors[name].kind].lists
    if side.operation in lists:
        return []
    offered = ", ".join(sorted(lists)) or "none"
    message = f"connector {name!r} has no list operation {side.operation!r} (it lists: {offered})"
    return [((*at, "operation"), message)]


def _connector_problems(name: str, at: Loc, config: RouterConfig) -> list[Problem]:
    if name in config.connectors or f"connector:{name}" in config.invalid:
        return []
    return [(at, unknown("connector", name, config.connectors))]


def reconciliation_problems(spec: ReconciliationSpec, config: RouterConfig) -> list[Problem]:
    problems = [
        *_side_problems(spec.left, ("left",), config),
        *_side_problems(spec.right, ("right",), config),
    ]
    for name in spec.compare:
        problems.extend(
            (("compare", name), f"compared field {name!r} is not read in `{side}.fields`")
            for side in ("left", "right")
            if name not in getattr(spec, side).fields
        )
    for cls, handling in spec.exceptions.items():
        if handling.repair is not None:
            at = ("exceptions", cls, "repair", "source")
            problems += source_problems(handling.repair.source, at, config)
    if spec.notify is not None:
        problems += _connector_problems(spec.notify.connector, ("notify", "connector"), config)
    if spec.notify is None and spec.drift_alert is not None:
        problems.append((("drift_alert",), "a drift alert needs `notify:` (where it is posted)"))
    return problems


def job_problems(spec: JobSpec, config: RouterConfig) -> list[Problem]:
    known = config.specs(RECONCILIATION)
    return [
        (("reconcile", i), unknown("reconciliation", name, known))
        for i, name in enumerate(spec.reconcile)
        if name not in known and f"reconciliation:{name}" not in config.invalid
    ]


def _add(_spec: object, _config: RouterConfig) -> None:
    """Nothing beyond the spec itself: the scheduler reads ``config.specs(JOB)``."""


RECONCILIATION: FileKind[ReconciliationSpec] = register_file_kind(
    FileKind(
        name="reconciliation",
        title="Reconciliation (`kind: reconciliation`)",
        plural="reconciliations",
        model=ReconciliationSpec,
        problems=reconciliation_problems,
        add=_add,
        docs=(
            ("`left:` / `right:` of a reconciliation", SideSpec),
            ("`fields:` entry of a side", FieldSpec),
            ("`exceptions:` entry of a reconciliation", HandlingSpec),
            ("`repair:` of a handling", RepairSpec),
            ("`notify:` of a reconciliation", NotifySpec),
            ("`drift_alert:` of a reconciliation", DriftAlertSpec),
        ),
    )
)

JOB: FileKind[JobSpec] = register_file_kind(
    FileKind(
        name="job",
        title="Scheduled job (`kind: job`)",
        plural="jobs",
        model=JobSpec,
        problems=job_problems,
        add=_add,
        docs=(("`schedule:` of a job", ScheduleSpec),),
        rank=1,
    )
)
