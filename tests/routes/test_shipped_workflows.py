"""Golden tests for every shipped workflow: its trigger fixture matches, and each step's request
(and each compensation's) is the checked-in golden, given stand-in outputs of earlier steps.

The stand-in for output ``id`` of step ``erp_customer`` is ``<erp_customer.id>``, so a golden shows
exactly where each earlier step's answer lands. Regenerate with INTERLOCK_REGEN_GOLDEN=1 and review
the diff.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest

from router import registry
from router.runtime.request_builder import render_path, run_chain
from router.workflows.kind import WORKFLOW
from router.workflows.plan import build_document
from router.workflows.spec import CallSpec, StepSpec
from tests.routes.test_shipped_routes import CONFIG, FIXTURES, ROOT, TABLE

VENDORS = ROOT / "tests" / "fixtures" / "vendors"
TRIGGERS = {  # workflow -> (vendor fixture, event type as the source reads it, event key)
    "quote-to-cash": ("salesforce/opportunity_closed_won.json", "Opportunity", "evt-sf-1"),
    "invoice-paid": ("stripe/invoice_paid.json", "invoice.paid", None),
    "invoice-payment-failed": (
        "stripe/invoice_payment_failed.json",
        "invoice.payment_failed",
        None,
    ),
    "subscription-amendment": (
        "stripe/subscription_updated.json",
        "customer.subscription.updated",
        None,
    ),
    "direct-commerce": ("shopify/orders_create.json", "orders/create", "wh-1"),
    "customer-onboarding": ("salesforce/account_rest.json", "Account", "evt-sf-2"),
}
# Stand-ins that a later step reads as a document, not as a value in a template: the answer of
# the amendment's `current_order` read (the deal's order as NetSuite returns it).
DOCUMENT_OUTPUTS = {("current_order", "record"): "netsuite/sales_order.json"}


def test_every_shipped_workflow_has_a_trigger_fixture() -> None:
    assert set(CONFIG.specs(WORKFLOW)) == set(TRIGGERS)


def _call(call: CallSpec | StepSpec, context: dict[str, Any]) -> dict[str, Any]:
    document = build_document(call, context, registry.transforms())
    if isinstance(call, StepSpec) and call.workflow is not None:
        return {"workflow": call.workflow, "trigger": document}
    target = call.call
    assert target is not None
    return {
        "connector": target.connector,
        "operation": target.operation,
        "method": target.method,
        "path": render_path(target.path, document),
        "body": document,
    }


def _stand_in(step: str, output: str) -> Any:
    fixture = DOCUMENT_OUTPUTS.get((step, output))
    return orjson.loads((VENDORS / fixture).read_bytes()) if fixture else f"<{step}.{output}>"


@pytest.mark.parametrize("workflow_id", sorted(TRIGGERS))
def test_workflow_golden(workflow_id: str) -> None:
    spec = CONFIG.specs(WORKFLOW)[workflow_id]
    fixture, event_type, key = TRIGGERS[workflow_id]
    payload = orjson.loads((VENDORS / fixture).read_bytes())
    key = key or payload["id"]
    matched = dict(TABLE.match(spec.trigger.source, event_type, payload, key))
    assert workflow_id in matched, f"the fixture does not trigger {workflow_id}"
    transforms = registry.transforms()
    canonical = run_chain([transforms[t] for t in spec.trigger.transforms], payload)
    context: dict[str, Any] = {
        "trigger": orjson.loads(orjson.dumps(canonical.model_dump(mode="json"))),
        "event": {"source": spec.trigger.source, "type": event_type, "key": key},
        "steps": {s.id: {name: _stand_in(s.id, name) for name in s.output} for s in spec.steps},
        "instance": {"id": "<instance>", "key": "<key>"},
    }
    produced = {}
    for step in spec.steps:
        produced[step.id] = _call(step, context)
        if step.compensate is not None:
            produced[step.id]["compensate"] = _call(step.compensate, context)
    golden = FIXTURES / f"workflow.{workflow_id}.golden.json"
    if os.environ.get("INTERLOCK_REGEN_GOLDEN") == "1":
        golden.write_bytes(
            orjson.dumps(produced, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
    assert produced == orjson.loads(golden.read_bytes())
