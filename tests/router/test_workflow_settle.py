"""Workflows in cluster mode, without a backbone: ``on_settled`` and ``hand_back``.

The engine wires ``on_settled`` to the cluster node's ``settle`` (which acks trigger messages on
the backbone); here it records its calls. The pieces are the engine's own (the workflow spec
loaded from a routes folder, the orchestrator, the trigger connector), with a scripted target:
a path in ``broken`` fails permanently (the instance parks), a path in ``held`` waits until
released (the instance stays running).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from router import registry
from router.config.loader import load_config
from router.connector import OutboundRequest
from router.errors import PermanentError
from router.ids import encode_id, new_id_bytes
from router.metrics import Metrics
from router.runtime.bridge import LoopBridge
from router.runtime.outlet import Outlet
from router.workflows.kind import TRIGGER_PREFIX, WORKFLOW
from router.workflows.service import Workflows
from router.workflows.state import ACTIVE, Instance, State

WORKFLOW_FILE = """\
id: onboard
kind: workflow
trigger:
  source: demo
  type: deal.won
key: "{{ /trigger/deal }}"
on_failure: park
steps:
  - id: account
    call: {connector: target, path: /accounts}
    input: {set: {external_id: "acct-{{ /trigger/deal }}"}}
    output: {id: /id}
  - id: provision
    call: {connector: target, path: "/entitlements"}
    input: {set: {external_id: "ent-{{ /trigger/deal }}", account: "{{ /steps/account/id }}"}}
"""


@dataclass
class Target:
    """A connector that answers ``{"id": ...}``; ``broken`` bodies fail, ``held`` ones wait."""

    timeout_s: float = 5.0
    concurrency: int = 8
    broken: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (external id, idempotency key)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        external_id = str(orjson.loads(request.body).get("external_id"))
        self.sent.append((external_id, request.idempotency_key))
        if external_id in self.broken:
            raise PermanentError("HTTP 422: rejected")
        if external_id in self.held:
            await self.release.wait()
        return orjson.dumps({"id": "id-" + external_id})


@dataclass
class Setup:
    workflows: Workflows
    target: Target
    settled: list[list[str]]
    data_dir: Path


def _routes(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "sources.yaml").write_text("demo:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        "target:\n  kind: http\n  base_url: http://127.0.0.1:9\n  timeout: 2s\n"
    )
    (folder / "onboard.yaml").write_text(WORKFLOW_FILE)
    return folder


def _start(routes: Path, data_dir: Path, target: Target, settled: list[list[str]]) -> Workflows:
    config = load_config(routes)
    metrics = Metrics()
    loop = asyncio.get_running_loop()

    def on_settled(ids: list[str]) -> None:
        asyncio.get_running_loop()  # raises unless called on the event loop
        settled.append(ids)

    return Workflows(
        config.specs(WORKFLOW),
        data_dir,
        False,
        {"target": Outlet("target", target, metrics)},
        registry.transforms(),
        LoopBridge(loop),
        metrics,
        on_settled=on_settled,
    )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    target, settled = Target(), list[list[str]]()
    data_dir = tmp_path / "data"
    workflows = _start(_routes(tmp_path / "routes"), data_dir, target, settled)
    yield Setup(workflows, target, settled, data_dir)
    target.release.set()
    await asyncio.get_running_loop().run_in_executor(None, workflows.stop)


async def _trigger(workflows: Workflows, deal: str) -> tuple[str, str]:
    """Send one trigger as its route would; (its message id, the instance id it answered)."""
    message_id = encode_id(new_id_bytes())
    body = orjson.dumps({"deal": deal})
    request = OutboundRequest(
        message_id, TRIGGER_PREFIX + "onboard", "POST", "/", body, "k-" + message_id, "c", "", 1
    )
    answer = await workflows.triggers[TRIGGER_PREFIX + "onboard"].send(request)
    assert answer is not None
    return message_id, answer.decode()


async def _until(check: Callable[[], object], what: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached: {what}")
        await asyncio.sleep(0.01)


async def _settled_instance(workflows: Workflows, instance_id: str) -> Instance:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        found = await workflows.get(instance_id)
        if found is not None and found.state not in ACTIVE:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"instance {instance_id} did not settle")


async def test_a_completed_instance_settles_its_trigger(setup: Setup) -> None:
    message_id, instance_id = await _trigger(setup.workflows, "D1")
    instance = await _settled_instance(setup.workflows, instance_id)
    assert instance.state is State.COMPLETED
    await _until(lambda: setup.settled, "the trigger settled")
    assert setup.settled == [[message_id]]


async def test_a_duplicate_trigger_settles_at_once_and_again_with_the_instance(
    setup: Setup,
) -> None:
    setup.target.held.add("acct-D2")  # the first instance stays running
    first, instance_id = await _trigger(setup.workflows, "D2")
    duplicate, same = await _trigger(setup.workflows, "D2")
    assert same == instance_id
    await _until(lambda: setup.settled, "the duplicate settled")
    assert setup.settled == [[duplicate]]  # the duplicate only: the first owns the instance
    running = await setup.workflows.get(instance_id)
    assert running is not None and running.state is State.RUNNING
    again, _ = await _trigger(setup.workflows, "D2")  # another one: also settled at once
    await _until(lambda: len(setup.settled) == 2, "the second duplicate settled")
    assert setup.settled[-1] == [again]
    setup.target.release.set()
    done = await _settled_instance(setup.workflows, instance_id)
    assert done.state is State.COMPLETED
    await _until(lambda: len(setup.settled) == 3, "the instance settled")
    assert setup.settled[-1] == [first, duplicate, again]


async def test_the_owners_own_trigger_redelivered_does_not_settle_a_live_instance(
    setup: Setup,
) -> None:
    setup.target.broken.add("ent-D3")
    message_id, instance_id = await _trigger(setup.workflows, "D3")
    parked = await _settled_instance(setup.workflows, instance_id)
    assert parked.state is State.PARKED
    # The backbone redelivers the parked instance's own trigger (same message id): it stays open.
    trigger = setup.workflows.triggers[TRIGGER_PREFIX + "onboard"]
    body = orjson.dumps({"deal": "D3"})
    request = OutboundRequest(message_id, "r", "POST", "/", body, "k", "c", "", 2)
    assert await trigger.send(request) == instance_id.encode()
    await setup.workflows.query(workflow="onboard")  # a round trip after the orchestrator's turn
    marker, _ = await _trigger(setup.workflows, "D3-later")  # settles once it completes
    await _until(lambda: setup.settled, "the later instance settled")
    assert setup.settled == [[marker]]  # nothing for the parked instance, nor its redelivery


async def test_a_parked_instance_does_not_settle(setup: Setup) -> None:
    setup.target.broken.add("ent-D4")
    _, instance_id = await _trigger(setup.workflows, "D4")
    parked = await _settled_instance(setup.workflows, instance_id)
    assert parked.state is State.PARKED
    marker, _ = await _trigger(setup.workflows, "D4-other")  # orders after the parking
    await _until(lambda: setup.settled, "the other instance settled")
    assert setup.settled == [[marker]]


async def test_hand_back_frees_the_key_and_a_new_trigger_runs_it_again(
    setup: Setup, tmp_path: Path
) -> None:
    setup.target.held.add("ent-D5")  # the instance is mid-flight at the "crash"
    setup.target.broken.add("ent-D6")  # this one parks
    first, running_id = await _trigger(setup.workflows, "D5")
    _, parked_id = await _trigger(setup.workflows, "D6")
    _, done_id = await _trigger(setup.workflows, "D7")
    assert (await _settled_instance(setup.workflows, parked_id)).state is State.PARKED
    assert (await _settled_instance(setup.workflows, done_id)).state is State.COMPLETED
    sent = setup.target.sent
    await _until(lambda: any(e == "ent-D5" for e, _ in sent), "D5's provision step sent")
    await asyncio.get_running_loop().run_in_executor(None, setup.workflows.stop)

    # The restart in cluster mode: hand back, not resume.
    target, settled = Target(), setup.settled
    settled.clear()
    restarted = _start(tmp_path / "routes", setup.data_dir, target, settled)
    setup.workflows = restarted  # the fixture stops this one
    assert await restarted.hand_back() == 2
    for instance_id in (running_id, parked_id):
        handed = await restarted.get(instance_id)
        assert handed is not None and handed.state is State.HANDED_BACK
        assert handed.events[-1].event == "handed_back"
    completed = await restarted.get(done_id)
    assert completed is not None and completed.state is State.COMPLETED  # final: untouched
    assert not await restarted.query(state="running")
    assert settled == []  # handing back settles nothing: the triggers stay unacked

    # The redelivered trigger (its own message id) starts a fresh instance that completes.
    body = orjson.dumps({"deal": "D5"})
    request = OutboundRequest(first, "r", "POST", "/", body, "k", "c", "", 2)
    answer = await restarted.triggers[TRIGGER_PREFIX + "onboard"].send(request)
    assert answer is not None
    new_id = answer.decode()
    assert new_id != running_id
    rerun = await _settled_instance(restarted, new_id)
    assert rerun.state is State.COMPLETED
    found = await restarted.query(workflow="onboard", key="D5")
    assert [i.id for i in found] == [new_id]
    await _until(lambda: settled, "the rerun settled")
    assert settled == [[first]]
    # The rerun's steps carry the first run's idempotency keys: the target dedupes them.
    first_keys = {key for external_id, key in sent if external_id.endswith("-D5")}
    rerun_keys = {key for external_id, key in target.sent if external_id.endswith("-D5")}
    assert len(rerun_keys) == 2 and rerun_keys == first_keys
    states = restarted.store.counts()
    assert states[("onboard", "handed_back")] == 2
    assert states[("onboard", "completed")] == 2


PARENT_FILE = """\
id: deal
kind: workflow
trigger: {source: demo, type: deal.parent}
key: "{{ /trigger/deal }}"
on_failure: park
steps:
  - id: onboarding
    workflow: onboard
    input: {set: {deal: "child-{{ /trigger/deal }}"}}
    output: {account: /steps/account/id}
  - id: order
    call: {connector: target, path: /orders}
    input: {set: {external_id: "order-{{ /trigger/deal }}"}}
"""


async def test_a_child_started_by_its_parent_settles_no_trigger_of_its_own(
    tmp_path: Path,
) -> None:
    routes = _routes(tmp_path / "routes")
    (routes / "deal.yaml").write_text(PARENT_FILE)
    target, settled = Target(), list[list[str]]()
    workflows = _start(routes, tmp_path / "data", target, settled)
    try:
        message_id = encode_id(new_id_bytes())
        body = orjson.dumps({"deal": "P1"})
        request = OutboundRequest(message_id, "r", "POST", "/", body, "k", "c", "", 1)
        answer = await workflows.triggers[TRIGGER_PREFIX + "deal"].send(request)
        assert answer is not None
        parent = await _settled_instance(workflows, answer.decode())
        assert parent.state is State.COMPLETED
        child_id = parent.step("onboarding").child
        assert child_id is not None
        child = await workflows.get(child_id)
        assert child is not None and child.state is State.COMPLETED and child.by_parent
        # The child carries its parent's trigger message; only the parent's end settles it.
        assert child.trigger_message == message_id
        await _until(lambda: settled, "the parent settled")
        # The child's own trigger route, for the same key: a duplicate, settled at once.
        duplicate, same = await _trigger(workflows, "child-P1")
        assert same == child_id
        await _until(lambda: len(settled) == 2, "the duplicate settled")
        assert settled == [[message_id], [duplicate]]
    finally:
        await asyncio.get_running_loop().run_in_executor(None, workflows.stop)
