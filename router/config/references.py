"""The names a route-file kind refers to: sources, connectors and their operations, transforms.

Every kind checks its references here, so "unknown connector 'erp-netsuit'; did you mean
'erp-netsuite'?" reads the same in a route, a request/reply route and a workflow. A name that is
defined but broken (``config.invalid``) is not reported again: its own error already was.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from router import registry
from router.config.kinds import Loc, Problem
from router.config.models import ToSpec
from router.config.typecheck import chain_problems

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown <what> 'name'``, with the closest known name when one is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint}"


def source_problems(name: str, at: Loc, config: RouterConfig) -> list[Problem]:
    if name in config.sources or f"source:{name}" in config.invalid:
        return []
    return [(at, unknown("source", name, config.sources))]


def target_problems(call: ToSpec, at: Loc, config: RouterConfig) -> list[Problem]:
    """The connector exists, and offers the operation when one is named."""
    name = call.connector
    if name not in config.connectors:
        if f"connector:{name}" in config.invalid:
            return []
        return [((*at, "connector"), unknown("connector", name, config.connectors))]
    if call.operation is None:
        return []
    offered = registry.connectors()[config.connectors[name].kind].operations
    if call.operation in offered:
        return []
    names = ", ".join(sorted(offered)) or "none: it takes method and path"
    message = f"connector {name!r} has no operation {call.operation!r} (it offers: {names})"
    return [((*at, "operation"), message)]


def transform_problems(names: list[str], locs: list[Loc]) -> list[Problem]:
    """Each transform exists, and the chain type-checks (one output feeds the next input)."""
    known = registry.transforms()
    missing = [(loc, name) for loc, name in zip(locs, names, strict=True) if name not in known]
    if missing:
        return [(loc, unknown("transform", name, known)) for loc, name in missing]
    return [(locs[i], problem) for i, problem in chain_problems([known[n] for n in names])]
