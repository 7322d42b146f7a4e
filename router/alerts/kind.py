"""The ``kind: alerts`` file: where alerts go and how often.

One such file per routes folder. Without one, nothing is alerted (the metrics still count).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from router.config.kinds import FileKind, Problem, register_file_kind
from router.config.models import ROUTE_ID_PATTERN, Frozen, ToSpec
from router.config.references import target_problems
from router.durations import Duration

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig

AlertKind = Literal["dead_letter", "parked", "sla_missed"]
Alert = Callable[[AlertKind, str, str, str, str], None]
"""``alert(kind, where, ref, key, reason)``: a route's dead letter (``ref`` its message id), a
workflow instance parked or missing its SLA (``ref`` the instance id); from any thread."""
ALERT_KINDS: tuple[AlertKind, ...] = ("dead_letter", "parked", "sla_missed")


class AlertsSpec(Frozen):
    """Operator alerts, aggregated: a storm is one message per interval, not thousands."""

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    kind: Literal["alerts"] = Field(description="`alerts`")
    notify: ToSpec = Field(description="The connector (and path) alerts are posted to")
    every: Duration = Field(
        default=60.0, ge=0.1, description="The aggregation interval: one alert at most per"
    )
    examples: int = Field(default=5, ge=0, le=100, description="Examples kept per kind and place")
    on: list[AlertKind] = Field(
        default_factory=lambda: list(ALERT_KINDS),
        description="What is alerted: dead_letter (a route's), parked (a workflow instance), "
        "sla_missed (a workflow instance)",
    )


def _problems(spec: AlertsSpec, config: RouterConfig) -> list[Problem]:
    problems = target_problems(spec.notify, ("notify",), config)
    if config.specs(ALERTS) and spec.id not in config.specs(ALERTS):
        problems.append((("id",), "one `kind: alerts` file per routes folder"))
    return problems


def _add(_spec: AlertsSpec, _config: RouterConfig) -> None:
    """Nothing beyond the spec: the engine reads ``config.specs(ALERTS)``."""


ALERTS: FileKind[AlertsSpec] = register_file_kind(
    FileKind(
        name="alerts",
        title="Alerts (`kind: alerts`)",
        plural="alerts",
        model=AlertsSpec,
        problems=_problems,
        add=_add,
    )
)
