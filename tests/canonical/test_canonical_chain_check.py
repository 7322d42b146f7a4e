"""`interlock check` types the chain from the mappings' annotations (issue: chains)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.routes import write_routes

INTERLOCK = str(Path(sys.executable).parent / "interlock")


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INTERLOCK, "check", str(folder)], capture_output=True, text=True, check=False
    )


def _route(folder: Path, *transforms: str) -> Path:
    write_routes(folder, "http://127.0.0.1:9")
    steps = "".join(f"  - transform: {name}\n" for name in transforms)
    (folder / "orders.yaml").write_text(
        "id: orders\nfrom: {source: shop, type: invoice.paid}\nsteps:\n"
        + steps
        + "  - to: {connector: sink, path: /record/v1/customerPayment}\n"
    )
    return folder


def test_the_invoice_to_payment_chain_is_type_consistent(tmp_path: Path) -> None:
    result = _check(
        _route(tmp_path / "ok", "stripe.invoice_to_canonical", "netsuite.payment_from_invoice")
    )
    assert result.returncode == 0, result.stderr
    assert "1 routes" in result.stdout


def test_a_chain_whose_types_do_not_line_up_is_rejected_at_its_line(tmp_path: Path) -> None:
    folder = _route(
        tmp_path / "bad", "stripe.invoice_to_canonical", "netsuite.customer_from_canonical"
    )
    result = _check(folder)
    assert result.returncode == 78
    assert f"{folder / 'orders.yaml'}:5: steps.1.transform:" in result.stderr
    expected = "netsuite.customer_from_canonical takes Customer but "
    assert expected + "stripe.invoice_to_canonical returns Invoice" in result.stderr


def test_schema_canonical_prints_every_model() -> None:
    result = subprocess.run(
        [INTERLOCK, "schema", "canonical"], capture_output=True, text=True, check=True
    )
    schemas = json.loads(result.stdout)["$defs"]  # one document: every model in $defs
    assert {"Customer", "Invoice", "Payment", "Subscription", "SubscriptionAmendment"} <= set(
        schemas
    )
    assert schemas["Invoice"]["additionalProperties"] is False
