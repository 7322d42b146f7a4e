"""What happened to each trigger: the webhook's answer and the workflow instance it started.

Kept apart from the I/O so that the verdict (the exit code) and the ``--json`` document are plain
functions of the admin API's answers, testable on canned data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from demo.payloads import Trigger

ACTIVE = frozenset({"running", "compensating"})
SETTLED = frozenset({"completed", "compensated", "cancelled", "parked"})
EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2


@dataclass(slots=True)
class Outcome:
    """One trigger: how ingress answered, and the instance (summary, later the detail) it made."""

    trigger: Trigger
    status: int | None = None  # the webhook's HTTP status; None: never answered
    message_id: str | None = None
    error: str | None = None  # why it was not accepted, or why no instance was found
    instance: dict[str, Any] | None = None
    found_by: str = "key"  # "key", or "marker" when the workflow keys it on another id
    sent: bool = True  # False: held back (its deal did not complete), ``error`` says why
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the trigger message's delivery

    @property
    def accepted(self) -> bool:
        return self.status in {200, 202}

    @property
    def state(self) -> str | None:
        return None if self.instance is None else str(self.instance.get("state"))

    @property
    def settled(self) -> bool:
        """Nothing more will happen without an operator (or the instance will never appear)."""
        return not self.accepted or self.state in SETTLED

    @property
    def ok(self) -> bool:
        """Accepted, and ended as the demo expects: completed, or parked when it should park."""
        return self.accepted and self.state == self.trigger.expect

    @property
    def id(self) -> str | None:
        return None if self.instance is None else str(self.instance.get("id"))

    def took(self, now: float) -> float | None:
        """Trigger receipt to the end (or to the last change, or now, while it runs)."""
        if self.instance is None or self.instance.get("received_at") is None:
            return None
        end = self.instance.get("finished_at") or (
            now if self.state in ACTIVE else self.instance.get("updated_at")
        )
        return None if end is None else float(end) - float(self.instance["received_at"])


def billing_ids(instance: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The Stripe customer and subscription a completed deal set up, from its step outputs.

    Read from the ``onboarding`` step's ``billing_customer`` output (the customer-onboarding
    child) and the ``subscription`` step's ``id`` (routes/quote-to-cash.yaml), or else from any
    output value with Stripe's prefix, so a renamed step still works.
    """
    steps = (instance or {}).get("steps", [])
    outputs = {str(s.get("id")): s.get("output") or {} for s in steps}
    values = [str(v) for o in outputs.values() if isinstance(o, dict) for v in o.values() if v]

    def pick(step: str, output: str, prefix: str) -> str | None:
        named = outputs.get(step, {}).get(output)
        return str(named) if named else next((v for v in values if v.startswith(prefix)), None)

    return pick("onboarding", "billing_customer", "cus_"), pick("subscription", "id", "sub_")


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 when every trigger was accepted and every instance ended as expected, else 1."""
    return EXIT_OK if outcomes and all(o.ok for o in outcomes) else EXIT_FAILED


def problems(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per trigger that did not end as expected, for the verdict."""
    lines = []
    for o in outcomes:
        if o.ok:
            continue
        what = f"{o.trigger.workflow} {o.trigger.key}"
        if not o.sent:
            lines.append(f"{what}: {o.error or 'not sent'}")
        elif not o.accepted:
            answer = f"HTTP {o.status}" if o.status is not None else "no answer"
            lines.append(f"{what}: not accepted ({answer}{': ' + o.error if o.error else ''})")
        elif o.instance is None:
            lines.append(f"{what}: no instance{': ' + o.error if o.error else ''}")
        elif o.state in ACTIVE:
            lines.append(f"{what}: still {o.state} (raise --timeout?)")
        else:
            reason = o.instance.get("reason")
            lines.append(
                f"{what}: {o.state}, expected {o.trigger.expect}"
                + (f" ({reason})" if reason else "")
            )
    return lines


def counts(outcomes: Sequence[Outcome], workflow: str) -> dict[str, int]:
    """The progress line's numbers for one scenario."""
    mine = [o for o in outcomes if o.trigger.workflow == workflow]
    states = [o.state for o in mine if o.accepted]
    return {
        "sent": sum(o.sent and (o.status is not None or o.error is not None) for o in mine),
        "accepted": sum(o.accepted for o in mine),
        "completed": states.count("completed"),
        "parked": states.count("parked"),
        "running": sum(s is None or s in ACTIVE for s in states),
        "failed": sum(
            not o.accepted and (o.status is not None or o.error is not None) for o in mine
        )
        + states.count("compensated")
        + states.count("cancelled"),
    }


def to_json(
    run_id: str,
    router_url: str,
    admin_url: str,
    outcomes: Sequence[Outcome],
    stats: Sequence[dict[str, Any]],
    reconciliation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``--json`` document: the triggers as sent, their instances, the SLA figures, and (when
    given) the reconciliation runs with their reports (:meth:`demo.reconcile.Reconciling.as_json`).
    """
    code = exit_code(outcomes)
    if reconciliation is not None and not reconciliation.get("ok"):
        code = EXIT_FAILED
    document = {
        "run_id": run_id,
        "router_url": router_url,
        "admin_url": admin_url,
        "ok": code == EXIT_OK,
        "exit_code": code,
        "triggers": [
            {
                "workflow": o.trigger.workflow,
                "source": o.trigger.source,
                "key": o.trigger.key,
                "label": o.trigger.label,
                "expect": o.trigger.expect,
                "sent": o.sent,
                "status": o.status,
                "message_id": o.message_id,
                "accepted": o.accepted,
                "error": o.error,
                "found_by": o.found_by if o.instance is not None else None,
                "ok": o.ok,
                "instance": o.instance,
            }
            for o in outcomes
        ],
        "workflows": list(stats),
    }
    if reconciliation is not None:
        document["reconciliation"] = reconciliation
    return document
