"""Workflow files: validation, ``check``'s reference rules (with file:line), and templates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from router import load_config
from router.config import ConfigErrors
from router.errors import TemplateError
from router.template import reference_paths, references, render
from router.workflows.kind import WORKFLOW
from tests.router.test_check_cli import EXIT_CONFIG
from tests.support.cli_runs import interlock

GOOD = """\
id: billing
kind: workflow
trigger:
  source: stripe
  type: invoice.paid
  transforms: [stripe.invoice_to_canonical]
key: "{{ /trigger/number }}"
on_failure: compensate
notify: {connector: alerts, path: /exceptions}
sla: {objective: 2m, until: payment}
steps:
  - id: payment
    call: {connector: ns, operation: upsert_customer_payment}
    input:
      transforms: [netsuite.payment_from_invoice]
      set: {memo: "invoice {{ /trigger/number }}"}
    output: {id: /id}
    compensate:
      call: {connector: ns, operation: upsert_customer_payment}
      input: {set: {externalId: "pay-{{ /trigger/number }}", memo: "void {{ /steps/payment/id }}"}}
  - id: crm
    when: [{pointer: /steps/payment/id, exists: true}]
    call: {connector: hooks, path: "/accounts/{/account}"}
    input: {set: {account: "{{ /event/key }}", payment: "{{ /steps/payment/id }}"}}
"""


def _folder(tmp_path: Path, workflow: str, name: str = "billing") -> Path:
    folder = tmp_path / "routes"
    folder.mkdir(exist_ok=True)
    (folder / "sources.yaml").write_text(
        "stripe:\n  verify: {scheme: stripe, secrets: [whsec_x]}\n  type: /type\n"
        "  idempotency_key: /id\n"
    )
    (folder / "connectors.yaml").write_text(
        "ns:\n  kind: netsuite\n  base_url: http://127.0.0.1:9\n"
        "hooks:\n  kind: http\n  base_url: http://127.0.0.1:9\n"
        "alerts:\n  kind: http\n  base_url: http://127.0.0.1:9\n"
    )
    (folder / f"{name}.yaml").write_text(workflow)
    return folder


def _errors(tmp_path: Path, workflow: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_config(_folder(tmp_path, workflow))
    return [e.render() for e in caught.value.errors]


def test_a_good_workflow_loads_with_its_trigger_route(tmp_path: Path) -> None:
    config = load_config(_folder(tmp_path, GOOD))
    spec = config.specs(WORKFLOW)["billing"]
    assert [s.id for s in spec.steps] == ["payment", "crm"]
    trigger = config.routes["billing"]
    assert trigger.from_.source == "stripe" and trigger.from_.type == "invoice.paid"
    assert trigger.transforms == ["stripe.invoice_to_canonical"]
    assert trigger.target.connector == "workflow:billing"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            'payment: "{{ /steps/payment/id }}"',
            'payment: "{{ /steps/crm/id }}"',
            24,
            "step 'crm' does not run before this point",
        ),
        (
            'payment: "{{ /steps/payment/id }}"',
            'payment: "{{ /steps/payment/number }}"',
            24,
            "step 'payment' declares no output 'number' (id)",
        ),
        (
            'memo: "invoice {{ /trigger/number }}"',
            'memo: "invoice {{ /trigger/numero }}"',
            16,
            "the trigger's model has no field 'numero'",
        ),
        ('"{{ /event/key }}"', '"{{ /event/topic }}"', 24, "/event has only key, source, type"),
        ('"{{ /event/key }}"', '"{{ /nowhere/x }}"', 24, "must start with one of"),
        ("pointer: /steps/payment/id", "pointer: /steps/ghost/id", 22, "no step 'ghost'"),
        ('key: "{{ /trigger/number }}"', 'key: "{{ /steps/payment/id }}"', 7, "only /trigger and"),
        ("operation: upsert_customer_payment}\n    input", "operation: nope}\n    input", 13,
         "connector 'ns' has no operation 'nope'"),
        ("connector: hooks", "connector: ghost", 23, "unknown connector 'ghost'"),
        ("[netsuite.payment_from_invoice]", "[netsuite.nope]", 15, "unknown transform"),
        ("[netsuite.payment_from_invoice]", "[netsuite.sales_order_from_order]", 15,
         "netsuite.sales_order_from_order expects Order, but /trigger is Invoice"),
        ("source: stripe", "source: nowhere", 4, "unknown source 'nowhere'"),
        ("until: payment", "until: ghost", 10, "sla.until 'ghost' is not a step id"),
        ("id: crm", "id: payment", 21, "step ids must be unique: payment"),
    ],
)  # fmt: skip
def test_check_reports_each_broken_reference_at_its_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in GOOD
    errors = _errors(tmp_path, GOOD.replace(old, new, 1))
    assert any(f"billing.yaml:{line}:" in e and message in e for e in errors), errors


def test_a_compensation_may_read_its_own_step(tmp_path: Path) -> None:
    assert "void {{ /steps/payment/id }}" in GOOD
    load_config(_folder(tmp_path, GOOD))  # no error: compensate reads /steps/payment/id


def test_the_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="must equal the file stem"):
        load_config(_folder(tmp_path, GOOD, name="other"))


def test_interlock_check_exits_78_with_file_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, GOOD.replace('/steps/payment/id }}"', '/steps/crm/id }}"', 1))
    result = subprocess.run(
        [interlock(), "check", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == EXIT_CONFIG
    assert "billing.yaml:" in result.stderr and "does not run before" in result.stderr


def test_templates_keep_types_interpolate_text_and_refuse_gaps() -> None:
    context = {"trigger": {"id": "in_1", "n": 3, "doc": {"a": 1}}, "steps": {}}
    assert render("{{ /trigger/n }}", context) == 3
    assert render({"x": ["{{/trigger/doc}}"]}, context) == {"x": [{"a": 1}]}
    assert render("inv {{ /trigger/id }} x{{ /trigger/n }}", context) == "inv in_1 x3"
    with pytest.raises(TemplateError, match="/trigger/missing"):
        render("{{ /trigger/missing }}", context)
    with pytest.raises(TemplateError, match="not a scalar"):
        render("doc {{ /trigger/doc }}", context)
    assert references({"a": "{{ /x }} {{ /y }}", "b": [1, "{{ /z }}"]}) == ["/x", "/y", "/z"]
    assert reference_paths({"a": {"b": "{{ /x }}"}}) == [("/x", ("a", "b"))]
