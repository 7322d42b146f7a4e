"""The orchestrator through the engine, against the generic webhook target simulator.

Each test writes a small workflow (three steps over plain HTTP), submits triggers through the
engine as a webhook would, and reads the effects back from the simulator's state and the instance
store: ordering, outputs feeding later steps, duplicates, park, operator retry/skip/cancel,
compensation in reverse order, and the exception notification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from router import Engine
from router.workflows.state import State, StepStatus, UndoStatus
from simulators.runner import SimulatorThread
from tests.conftest import EngineFactory
from tests.support.webhook_target import records, set_faults

WORKFLOW = """\
id: onboard
kind: workflow
trigger:
  source: demo
  type: deal.won
key: "{{{{ /trigger/deal }}}}"
on_failure: {on_failure}
notify: {{connector: target, path: /exceptions}}
sla: {{objective: 30s, until: provision}}
steps:
  - id: account
    call: {{connector: target, path: /accounts}}
    input:
      set: {{external_id: "acct-{{{{ /trigger/deal }}}}", name: "{{{{ /trigger/name }}}}"}}
    output: {{id: /id}}
    compensate:
      call: {{connector: target, method: DELETE, path: "/accounts/{{/external_id}}"}}
      input: {{set: {{external_id: "acct-{{{{ /trigger/deal }}}}"}}}}
  - id: provision
    call: {{connector: target, path: /entitlements}}
    input:
      set:
        external_id: "ent-{{{{ /trigger/deal }}}}"
        account: "{{{{ /steps/account/id }}}}"
        seats: "{{{{ /trigger/seats }}}}"
    output: {{id: /id}}
    retry: {{max_attempts: 3, initial: 10ms, max: 50ms}}
    compensate:
      call: {{connector: target, method: DELETE, path: "/entitlements/{{/external_id}}"}}
      input: {{set: {{external_id: "ent-{{{{ /trigger/deal }}}}"}}}}
  - id: welcome
    when: [{{pointer: /trigger/seats, exists: true}}]
    call: {{connector: target, path: /emails}}
    input:
      set:
        external_id: "mail-{{{{ /trigger/deal }}}}"
        entitlement: "{{{{ /steps/provision/id }}}}"
    retry: {{max_attempts: 2, initial: 10ms, max: 20ms}}
"""


@pytest.fixture(scope="module")
def target() -> Iterator[SimulatorThread]:
    with SimulatorThread(["webhook"]) as sims:
        yield sims


def _routes(folder: Path, sims: SimulatorThread, on_failure: str = "park") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "sources.yaml").write_text("demo:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        f"target:\n  kind: http\n  base_url: {sims.url('webhook')}\n  timeout: 2s\n"
    )
    (folder / "onboard.yaml").write_text(WORKFLOW.format(on_failure=on_failure))
    return folder


async def _trigger(engine: Engine, deal: str, event: str | None = None, **extra: Any) -> None:
    body = {"type": "deal.won", "id": event or f"evt-{deal}", "deal": deal, "name": "Acme", **extra}
    await engine.submit("demo", orjson.dumps(body))


async def _settled(engine: Engine, deal: str, within_s: float = 10.0) -> Any:
    assert engine.workflows is not None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = await engine.workflows.query(workflow="onboard", key=deal)
        if found and found[0].state not in {State.RUNNING, State.COMPENSATING}:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"instance for {deal} did not settle: {found}")


@pytest.fixture
def reset_target(target: SimulatorThread) -> SimulatorThread:
    sim = target.set.simulator("webhook")
    target.call(sim.reset)
    return target


async def test_steps_run_in_order_and_feed_each_other(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D1", seats=5)
    instance = await _settled(engine, "D1")
    assert instance.state is State.COMPLETED
    assert [s.status for s in instance.steps] == [StepStatus.SUCCEEDED] * 3
    account_id = instance.step("account").output["id"]
    provision = instance.step("provision").output["id"]
    sim = reset_target.set.simulator("webhook")
    requests = reset_target.call(lambda: [e.as_json() for e in sim.log.entries()])
    paths = [r["path"] for r in requests]
    assert paths == ["/accounts", "/entitlements", "/emails"]
    entitlement = orjson.loads(requests[1]["body"])
    assert entitlement == {"external_id": "ent-D1", "account": account_id, "seats": 5}
    assert orjson.loads(requests[2]["body"])["entitlement"] == provision
    assert instance.sla_seconds is not None and instance.sla_seconds < 30


async def test_a_second_trigger_for_the_same_key_is_recorded_not_started(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D7", event="evt-a", seats=1)
    await _trigger(engine, "D7", event="evt-b", seats=1)  # same deal, a new event id
    await _trigger(engine, "D7", event="evt-a", seats=1)  # the same event again: journal dedupe
    first = await _settled(engine, "D7")
    await engine.wait_idle()
    assert engine.workflows is not None
    assert len(await engine.workflows.query(workflow="onboard")) == 1
    instance = await engine.workflows.get(first.id)
    assert instance is not None
    assert [d["message_id"] for d in instance.duplicates] != []
    assert len(instance.duplicates) == 1
    assert any(e.event == "duplicate_trigger" for e in instance.events)
    assert len(records(reset_target, "accounts")) == 1


async def test_permanent_failure_parks_notifies_and_operator_retry_completes(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    set_faults(reset_target, broken=["ent-D2"])
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D2", seats=3)
    parked = await _settled(engine, "D2")
    assert parked.state is State.PARKED
    assert parked.failed_step == "provision"
    assert "422" in (parked.reason or "") or "rejected" in (parked.reason or "")
    assert parked.step("account").status is StepStatus.SUCCEEDED
    assert parked.step("welcome").status is StepStatus.PENDING
    await _until(lambda: records(reset_target, "exceptions"))
    note = records(reset_target, "exceptions")[0]["data"]["body"]
    assert note["state"] == "parked" and note["failed_step"] == "provision"
    assert note["instance"] == parked.id and note["key"] == "D2"
    assert [s["status"] for s in note["steps"]] == ["succeeded", "failed", "pending"]

    set_faults(reset_target, broken=[])
    assert engine.workflows is not None
    summary = await engine.workflows.command("retry", parked.id, "fixed the record", "ops")
    assert summary["state"] == "running"
    done = await _settled(engine, "D2")
    assert done.state is State.COMPLETED
    assert [e.event for e in done.events].count("operator_retry") == 1


async def test_skip_records_the_reason_and_moves_on(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    set_faults(reset_target, broken=["ent-D3"])
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D3")  # no seats: the welcome step's condition fails
    parked = await _settled(engine, "D3")
    assert engine.workflows is not None
    await engine.workflows.command("skip", parked.id, "provisioned by hand", "alice")
    done = await _settled(engine, "D3")
    assert done.state is State.COMPLETED
    assert done.step("provision").status is StepStatus.SKIPPED
    assert done.step("provision").note == "alice: provisioned by hand"
    assert done.step("welcome").status is StepStatus.SKIPPED  # `when` failed
    set_faults(reset_target, broken=[])


async def test_commands_refuse_what_does_not_apply(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D4", seats=1)
    done = await _settled(engine, "D4")
    assert engine.workflows is not None
    with pytest.raises(Exception, match="only a parked instance"):
        await engine.workflows.command("retry", done.id, "", "ops")
    with pytest.raises(LookupError):
        await engine.workflows.command("retry", "0" * 26, "", "ops")


async def _until(check: Any, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def test_compensation_runs_in_reverse_and_notifies(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    set_faults(reset_target, broken=["mail-D5"])
    engine = await make_engine(_routes(tmp_path / "r", reset_target, on_failure="compensate"))
    await _trigger(engine, "D5", seats=2)
    instance = await _settled(engine, "D5")
    assert instance.state is State.COMPENSATED
    assert instance.failed_step == "welcome"
    assert [s.undo for s in instance.steps] == [UndoStatus.DONE, UndoStatus.DONE, UndoStatus.NONE]
    sim = reset_target.set.simulator("webhook")
    log = reset_target.call(lambda: [(e.method, e.path) for e in sim.log.entries()])
    undo = [entry for entry in log if entry[0] == "DELETE"]
    assert undo == [("DELETE", "/entitlements/ent-D5"), ("DELETE", "/accounts/acct-D5")]
    assert records(reset_target, "entitlements")[0]["data"]["status"] == "revoked"
    await _until(lambda: records(reset_target, "exceptions"))
    note = records(reset_target, "exceptions")[0]["data"]["body"]
    assert note["state"] == "compensated"
    assert [s["undo"] for s in note["steps"]] == ["done", "done", "none"]
    set_faults(reset_target, broken=[])


async def test_operator_cancel_compensates_a_completed_instance(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "D6", seats=2)
    done = await _settled(engine, "D6")
    assert engine.workflows is not None
    await engine.workflows.command("cancel", done.id, "deal reversed", "bob")
    cancelled = await _settled(engine, "D6")
    assert cancelled.state is State.CANCELLED
    assert cancelled.step("welcome").undo is UndoStatus.NOT_COMPENSABLE
    assert cancelled.step("provision").undo is UndoStatus.DONE


async def test_a_step_in_flight_at_shutdown_resumes_with_the_same_key(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    routes, data = _routes(tmp_path / "r", reset_target), tmp_path / "data"
    set_faults(reset_target, latency=1.5, match="/entitlements")
    engine = await make_engine(routes, data_dir=data)
    await _trigger(engine, "D8", seats=4)
    assert engine.workflows is not None
    workflows = engine.workflows

    async def provisioning() -> bool:
        found = await workflows.query(workflow="onboard", key="D8")
        return bool(found) and found[0].step("provision").status is StepStatus.RUNNING

    deadline = time.monotonic() + 5
    while not await provisioning():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await engine.stop()  # the call is still held by the target: its effect is unknown
    set_faults(reset_target, latency=0.0, match=None)
    restarted = await make_engine(routes, data_dir=data)
    instance = await _settled(restarted, "D8")
    assert instance.state is State.COMPLETED
    assert instance.step("provision").attempts == 2
    assert any(e.event == "resumed" for e in instance.events)
    sim = reset_target.set.simulator("webhook")
    keys = reset_target.call(
        lambda: [
            e.headers.get("Idempotency-Key") for e in sim.log.entries() if e.path == "/entitlements"
        ]
    )
    assert len(keys) == 2 and keys[0] == keys[1]  # the re-sent attempt carried the same key
    assert len(records(reset_target, "entitlements")) == 1  # and the target applied it once


async def test_metrics_count_instances_by_state_steps_and_the_sla(
    tmp_path: Path, make_engine: EngineFactory, reset_target: SimulatorThread
) -> None:
    from prometheus_client import generate_latest

    set_faults(reset_target, broken=["ent-M2"])
    engine = await make_engine(_routes(tmp_path / "r", reset_target))
    await _trigger(engine, "M1", seats=1)
    await _trigger(engine, "M2", seats=1)
    await _trigger(engine, "M1", event="evt-again", seats=1)
    await _settled(engine, "M1")
    await _settled(engine, "M2")
    await engine.wait_idle()
    text = generate_latest(engine.metrics.registry).decode()
    assert 'interlock_workflow_instances{state="completed",workflow="onboard"} 1.0' in text
    assert 'interlock_workflow_instances{state="parked",workflow="onboard"} 1.0' in text
    assert 'interlock_workflow_triggers_total{outcome="duplicate",workflow="onboard"} 1.0' in text
    assert 'interlock_workflow_sla_seconds_count{workflow="onboard"} 1.0' in text
    assert 'interlock_workflow_sla_outcomes_total{met="true",workflow="onboard"} 1.0' in text
    assert 'interlock_workflow_sla_objective_seconds{workflow="onboard"} 30.0' in text
    step = 'interlock_workflow_step_seconds_count{outcome="permanent",phase="do",step="provision"'
    assert step in text
    set_faults(reset_target, broken=[])
