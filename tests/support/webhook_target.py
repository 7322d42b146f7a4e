"""The generic webhook target simulator, as workflow tests read and steer it."""

from __future__ import annotations

from typing import Any

from simulators.runner import SimulatorThread


def records(sims: SimulatorThread, type_: str) -> list[dict[str, Any]]:
    """The target's records of one type (``/accounts`` posts are type ``accounts``)."""
    sim = sims.set.simulator("webhook")
    snapshot: dict[str, Any] = sims.call(sim.store.snapshot)
    found: list[dict[str, Any]] = snapshot.get(type_, [])
    return found


def set_faults(sims: SimulatorThread, **patch: Any) -> None:
    """Change the target's faults (``broken=[...]`` external ids fail validation)."""
    sim = sims.set.simulator("webhook")
    sims.call(lambda: sim.set_faults(patch))
