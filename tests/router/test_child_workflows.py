"""A workflow step that runs another workflow as a child (``workflow:``), through the engine.

The child (``onboard-account``: its file sorts after its parent's, and is loaded first anyway)
is keyed by its own ``key`` over the step's input, so it runs once per
key whoever starts it: its own trigger, or any number of parents. The parent step waits for it
and reads its outputs; a parked child holds the parent until an operator resolves it, across a
restart; a cancelled child fails the parent step. Effects are read back from the generic webhook
target simulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from router import Engine, load_config
from router.config.loader import ConfigErrors
from router.workflows.state import Instance, State, StepStatus, UndoStatus
from simulators.runner import SimulatorThread
from tests.conftest import EngineFactory
from tests.support.webhook_target import records, set_faults

CHILD = """\
id: onboard-account
kind: workflow
trigger: {source: demo, type: account.customer}
key: "{{ /trigger/account }}"
on_failure: park
steps:
  - id: erp
    call: {connector: target, path: /customers}
    input: {set: {external_id: "cust-{{ /trigger/account }}", name: "{{ /trigger/name }}"}}
    output: {id: /id}
  - id: support
    call: {connector: target, path: /orgs}
    input: {set: {external_id: "org-{{ /trigger/account }}"}}
    output: {id: /id}
    retry: {max_attempts: 2, initial: 10ms, max: 20ms}
"""

PARENT = """\
id: deal
kind: workflow
trigger: {source: demo, type: deal.won}
key: "{{ /trigger/deal }}"
on_failure: park
steps:
  - id: onboarding
    workflow: onboard-account
    input: {set: {account: "{{ /trigger/account }}", name: "{{ /trigger/name }}"}}
    output: {customer: /steps/erp/id, org: /steps/support/id}
  - id: order
    call: {connector: target, path: /orders}
    input:
      set: {external_id: "order-{{ /trigger/deal }}", customer: "{{ /steps/onboarding/customer }}"}
    output: {id: /id}
"""


@pytest.fixture(scope="module")
def target() -> Iterator[SimulatorThread]:
    with SimulatorThread(["webhook"]) as sims:
        yield sims


@pytest.fixture
def reset_target(target: SimulatorThread) -> SimulatorThread:
    sim = target.set.simulator("webhook")
    target.call(sim.reset)
    return target


def _routes(folder: Path, sims: SimulatorThread, **files: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "sources.yaml").write_text("demo:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        f"target:\n  kind: http\n  base_url: {sims.url('webhook')}\n  timeout: 2s\n"
    )
    for name, text in {"onboard-account": CHILD, "deal": PARENT, **files}.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


async def _deal(engine: Engine, deal: str, account: str = "A1") -> None:
    body = {
        "type": "deal.won",
        "id": f"evt-{deal}",
        "deal": deal,
        "account": account,
        "name": "Acme",
    }
    await engine.submit("demo", orjson.dumps(body))


async def _instance(
    engine: Engine, workflow: str, key: str, states: set[State], within_s: float = 20.0
) -> Instance:
    assert engine.workflows is not None
    deadline = time.monotonic() + within_s
    found: list[Instance] = []
    while time.monotonic() < deadline:
        found = await engine.workflows.query(workflow=workflow, key=key)
        if found and found[0].state in states:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow} {key} never reached {states}: {found}")


SETTLED = {State.COMPLETED, State.PARKED, State.COMPENSATED, State.CANCELLED}


async def test_the_parent_runs_the_child_and_reads_its_outputs(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _deal(engine, "D1")
    parent = await _instance(engine, "deal", "D1", SETTLED)
    assert parent.state is State.COMPLETED, parent.reason
    child = await _instance(engine, "onboard-account", "A1", SETTLED)
    assert child.state is State.COMPLETED
    assert child.parents == [f"{parent.id}/onboarding"]
    step = parent.step("onboarding")
    assert step.child == child.id
    assert step.output == {
        "customer": child.step("erp").output["id"],
        "org": child.step("support").output["id"],
    }
    order = records(reset_target, "orders")[0]["data"]["body"]
    assert order["customer"] == child.step("erp").output["id"]
    assert [e.event for e in parent.events if e.step == "onboarding"][:1] == ["child_started"]


async def test_a_second_parent_and_the_childs_own_trigger_link_the_same_child(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    own = {"type": "account.customer", "id": "evt-acct", "account": "A2", "name": "Acme"}
    await engine.submit("demo", orjson.dumps(own))  # the account became a customer first
    first = await _instance(engine, "onboard-account", "A2", SETTLED)
    await _deal(engine, "D2", account="A2")
    await _deal(engine, "D3", account="A2")
    for deal in ("D2", "D3"):
        parent = await _instance(engine, "deal", deal, SETTLED)
        assert parent.state is State.COMPLETED, parent.reason
        assert parent.step("onboarding").child == first.id
        assert any(e.event == "child_linked" for e in parent.events)
    assert engine.workflows is not None
    assert len(await engine.workflows.query(workflow="onboard-account")) == 1
    assert len(records(reset_target, "customers")) == 1  # onboarded once, linked twice
    assert len(records(reset_target, "orgs")) == 1
    assert len(records(reset_target, "orders")) == 2
    child = await engine.workflows.get(first.id)
    assert child is not None and len(child.parents) == 2


async def test_a_parked_child_holds_its_parent_across_a_restart_until_an_operator_retries(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    set_faults(reset_target, broken=["org-A4"])
    routes, data = _routes(tmp_path / "r", reset_target), tmp_path / "data"
    engine = await make_engine(routes, data)
    await _deal(engine, "D4", account="A4")
    child = await _instance(engine, "onboard-account", "A4", {State.PARKED})
    assert child.failed_step == "support"
    parent = await _instance(engine, "deal", "D4", {State.RUNNING})
    assert parent.step("onboarding").status is StepStatus.RUNNING
    await engine.stop()

    set_faults(reset_target, broken=[])
    engine = await make_engine(routes, data)
    assert engine.workflows is not None
    await engine.workflows.command("retry", child.id, "support fixed", "ops")
    done = await _instance(engine, "deal", "D4", SETTLED)
    assert done.state is State.COMPLETED, done.reason
    assert any(e.event == "child_parked" for e in done.events)
    assert len(records(reset_target, "customers")) == 1
    assert len(records(reset_target, "orders")) == 1


async def test_a_cancelled_child_fails_the_parent_step_with_its_reason(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    set_faults(reset_target, broken=["org-A5"])
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _deal(engine, "D5", account="A5")
    child = await _instance(engine, "onboard-account", "A5", {State.PARKED})
    assert engine.workflows is not None
    await engine.workflows.command("cancel", child.id, "not a customer after all", "ops")
    parent = await _instance(engine, "deal", "D5", SETTLED)
    assert parent.state is State.PARKED
    assert parent.failed_step == "onboarding"
    assert f"onboard-account instance {child.id} ended cancelled" in (parent.reason or "")
    assert parent.step("order").status is StepStatus.PENDING
    assert parent.step("onboarding").undo is UndoStatus.NONE
    set_faults(reset_target, broken=[])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"deal": PARENT.replace("workflow: onboard-account", "workflow: onboard-acount")},
            "deal.yaml:8: steps.0.workflow: no workflow 'onboard-acount' in this folder",
        ),
        (
            {"deal": PARENT.replace("/steps/erp/id", "/steps/erp/number")},
            "deal.yaml:10: steps.0.output.customer: /steps/erp/number: "
            "onboard-account's step 'erp' has no output 'number'",
        ),
        (
            {"deal": PARENT.replace("workflow: onboard-account", "workflow: deal")},
            "deal.yaml:8: steps.0.workflow: deal runs itself: a cycle of workflows",
        ),
        (
            {"onboard-account": CHILD + "  - id: again\n    workflow: deal\n"},
            "onboard-account.yaml:17: steps.2.workflow: workflow 'deal' has errors, or runs "
            "onboard-account in turn (a cycle)",
        ),
    ],
)
def test_check_names_a_wrong_child(
    tmp_path: Path, reset_target: SimulatorThread, files: dict[str, str], message: str
) -> None:
    routes = _routes(tmp_path / "r", reset_target, **files)
    with pytest.raises(ConfigErrors) as caught:
        load_config(routes)
    assert message in str(caught.value)


def test_a_child_step_takes_no_compensation(tmp_path: Path, reset_target: SimulatorThread) -> None:
    broken = PARENT.replace(
        "    output: {customer: /steps/erp/id, org: /steps/support/id}\n",
        "    output: {customer: /steps/erp/id, org: /steps/support/id}\n"
        "    compensate: {call: {connector: target, path: /undo}}\n",
    )
    with pytest.raises(ConfigErrors, match="a `workflow` step takes no `compensate`"):
        load_config(_routes(tmp_path / "r", reset_target, deal=broken))
