"""The files of scheduled work: ``kind: job`` (when) and ``kind: reconciliation`` (what).

A job says when something runs (a cron expression in a time zone, or an interval) and what to do
with slots missed while the router was down. What it runs is one or more reconciliations: two
systems read page by page, matched by key, compared field by field, with a handling per class
of difference (ignore with a reason, repair through an ordinary route, or park for an operator).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, GetJsonSchemaHandler, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from router.config.models import ROUTE_ID_PATTERN, Frozen
from router.durations import Duration
from router.jobs.cron import Cron, zone
from router.pointer import Pointer
from router.template import references

ExceptionClass = Literal["missing_left", "missing_right", "mismatched"]
EXCEPTION_CLASSES: tuple[ExceptionClass, ...] = ("missing_left", "missing_right", "mismatched")
Rule = Literal["money", "date", "string", "exact"]


class ScheduleSpec(Frozen):
    """``cron`` in ``timezone``, or ``every`` (an interval counted from the epoch, in UTC)."""

    cron: str | None = Field(
        default=None, description="Five-field cron (`0 6 * * *`) or `@hourly`, `@daily`..."
    )
    every: Duration | None = Field(default=None, description="An interval (`15m`, `1h`)")
    timezone: str = Field(default="UTC", description="IANA zone the cron fields are read in")

    _check_cron = field_validator("cron")(lambda v: v if v is None else Cron.parse(v).text)
    _check_zone = field_validator("timezone")(lambda v: (zone(v), v)[1])

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise ValueError("a schedule takes exactly one of `cron` or `every`")
        if self.every is not None and self.every < 60:
            raise ValueError("`every` must be at least 1m")
        return self


class JobSpec(Frozen):
    """A scheduled job: when it runs, what it runs, and what a missed slot means."""

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    kind: Literal["job"] = Field(description="`job`")
    description: str = Field(default="", description="Free text for operators")
    schedule: ScheduleSpec = Field(description="When it runs")
    missed: Literal["run_once", "skip"] = Field(
        default="run_once",
        description="Slots missed while the router was down: run once for all of them, or skip "
        "them (each skip is kept in the job's history)",
    )
    reconcile: Annotated[
        list[str],
        # The file may name one reconciliation as text (`_one_or_many`); the schema says so.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            }
        ),
    ] = Field(min_length=1, description="The reconciliations the job runs, in order")
    timeout: Duration = Field(default=3600.0, description="A run still going after this fails")

    @field_validator("reconcile", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _pointer(value: str) -> str:
    return Pointer(value).text


class FieldSpec(Frozen):
    """Where a compared field is read on one side, and for money, its units and currency."""

    pointer: str = Field(description="JSON Pointer into the side's record")
    money: Literal["minor", "major"] | None = Field(
        default=None,
        description="The value is an amount in minor units (Stripe's cents) or major units "
        "(NetSuite's 19.99); compared exactly in the currency's minor units",
    )
    currency: str | None = Field(
        default=None,
        description="Money: a JSON Pointer to the currency code, or the code itself (`USD`)",
    )

    _check_pointer = field_validator("pointer")(_pointer)

    @model_validator(mode="after")
    def _currency_with_money(self) -> FieldSpec:
        if (self.money is None) != (self.currency is None):
            raise ValueError("`money` and `currency` go together")
        return self


def _field_spec(value: Any) -> Any:
    return {"pointer": value} if isinstance(value, str) else value


class _OrPointerText:
    """The schema of a field also written as its pointer alone (``SideSpec._fields_from_text``)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string"}, handler(core_schema)]}


FieldRef = Annotated[
    FieldSpec,
    _OrPointerText,
    Field(description="A pointer, or `{pointer, money, currency}`"),
]


class SideSpec(Frozen):
    """One system: a connector's list operation, the record's match key, the compared fields."""

    label: str = Field(default="", description="How reports name the side; omitted: connector")
    connector: str = Field(description="A connector name from connectors.yaml")
    operation: str = Field(description="A list operation of that connector (`list_invoices`)")
    params: dict[str, Any] = Field(default_factory=dict, description="The operation's parameters")
    key: str = Field(
        description="The match key: a JSON Pointer (`/id`) or a template over the record "
        '(`"stripe-{{ /id }}-payment"`)'
    )
    where: dict[str, Any] = Field(
        default_factory=dict,
        description="Only records whose pointers (keys) equal these values take part",
    )
    fields: dict[str, FieldRef] = Field(
        default_factory=dict, description="Compared field name -> where it is read"
    )

    _fields_from_text = field_validator("fields", mode="before")(
        lambda v: {k: _field_spec(f) for k, f in v.items()} if isinstance(v, dict) else v
    )

    @field_validator("key")
    @classmethod
    def _key_reads_something(cls, value: str) -> str:
        if value.startswith("/"):
            Pointer(value)
        elif not references(value):
            raise ValueError("a key is a JSON Pointer or a template with `{{ /pointer }}`")
        return value

    @field_validator("where")
    @classmethod
    def _where_pointers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for pointer in value:
            Pointer(pointer)
        return value

    @property
    def name(self) -> str:
        return self.label or self.connector


class RepairSpec(Frozen):
    """Repair by emitting one message into an ordinary route or workflow."""

    source: str = Field(description="The source the message enters by (routes match on it)")
    type: str = Field(min_length=1, description="Its event type")
    body: Any = Field(
        description="The message, a template over `{key, left, right, reconciliation, run}` "
        '(`{"data": {"object": "{{ /left }}"}}`)'
    )


class NotifySpec(Frozen):
    connector: str = Field(description="The connector alerts are posted to")
    path: str = Field(default="", description="Appended to its base URL")


class HandlingSpec(Frozen):
    """What a class of difference gets: exactly one of ignore, repair or park."""

    ignore: str | None = Field(default=None, description="Ignored, for this stated reason")
    repair: RepairSpec | None = Field(default=None, description="Emit a repair message")
    park: bool = Field(default=False, description="Keep for an operator, both sides' values")

    @model_validator(mode="after")
    def _exactly_one(self) -> HandlingSpec:
        chosen = [self.ignore is not None, self.repair is not None, self.park]
        if sum(chosen) != 1:
            raise ValueError("a handling takes exactly one of `ignore`, `repair` or `park: true`")
        return self


class DriftAlertSpec(Frozen):
    threshold: int = Field(ge=0, description="Alert when more exceptions than this are found")


class ReconciliationSpec(Frozen):
    """Two systems compared record by record; each difference classified and handled."""

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    kind: Literal["reconciliation"] = Field(description="`reconciliation`")
    description: str = Field(default="", description="Free text for operators")
    left: SideSpec = Field(description="The system of record")
    right: SideSpec = Field(description="The system that should agree with it")
    compare: dict[str, Rule] = Field(
        default_factory=dict,
        description="Field -> rule. money: exact in minor units; date: the same day in "
        "`timezone`; string: trimmed, case- and space-insensitive; exact: equal values",
    )
    timezone: str = Field(default="UTC", description="The zone `date` compares days in")
    exceptions: dict[ExceptionClass, HandlingSpec] = Field(
        default_factory=dict,
        description="Per class: `ignore`, `repair` or `park`; a class not named is parked",
    )
    notify: NotifySpec | None = Field(
        default=None, description="Where parked exceptions and drift alerts are posted"
    )
    drift_alert: DriftAlertSpec | None = Field(
        default=None, description="Alert when a run finds more exceptions than the threshold"
    )
    page_retry: int = Field(
        default=5, ge=1, le=50, description="Attempts per page on a transient failure (5xx)"
    )

    _check_zone = field_validator("timezone")(lambda v: (zone(v), v)[1])

    def handling(self, cls: ExceptionClass) -> HandlingSpec:
        return self.exceptions.get(cls) or HandlingSpec(park=True)
