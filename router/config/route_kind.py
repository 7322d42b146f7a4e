"""The route file (a file with no ``kind:``): match, transform, deliver; and its checks.

The checks are shared with request/reply routes, which have the same ``steps``: every transform
exists and the chain type-checks, and the target connector exists and offers the operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.config.kinds import DEFAULT_KIND, FileKind, Problem, register_file_kind
from router.config.models import (
    FromSpec,
    Predicate,
    RetryPolicy,
    RouteSpec,
    SourceSpec,
    Steps,
    ToSpec,
)
from router.config.references import source_problems, target_problems, transform_problems

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig


def steps_problems(route: Steps, config: RouterConfig) -> list[Problem]:
    """The problems of a route's ``steps``: its transforms and its ``to:``."""
    transform_steps = [(i, s) for i, s in enumerate(route.steps) if hasattr(s, "transform")]
    out = transform_problems(
        [step.transform for _, step in transform_steps],
        [("steps", i, "transform") for i, _ in transform_steps],
    )
    return out + target_problems(route.target, ("steps", len(route.steps) - 1, "to"), config)


def _problems(route: RouteSpec, config: RouterConfig) -> list[Problem]:
    return source_problems(route.from_.source, ("from", "source"), config) + steps_problems(
        route, config
    )


def _add(route: RouteSpec, config: RouterConfig) -> None:
    config.routes[route.id] = route


ROUTE: FileKind[RouteSpec] = register_file_kind(
    FileKind(
        name=DEFAULT_KIND,
        title="Route file (`<route-id>.yaml`)",
        plural="routes",
        model=RouteSpec,
        problems=_problems,
        add=_add,
        docs=(
            ("`from:`", FromSpec),
            ("`from.when[]` predicate", Predicate),
            ("`steps[].to:`", ToSpec),
            ("`retry:`", RetryPolicy),
            ("Source (`sources.yaml` entry)", SourceSpec),
        ),
    )
)
