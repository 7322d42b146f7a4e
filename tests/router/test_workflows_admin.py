"""The admin API's workflow endpoints over real loopback HTTP, on a real engine and LMDB store.

The workflow calls the generic webhook target simulator: ``account``, then ``provision`` (its SLA
clock stops there), then ``welcome``. The simulator's ``broken`` fault parks an instance at
``provision``; an operator then retries, skips or cancels it through the API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import orjson
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import JsonValue

from router import Engine, Settings, load_config
from router.http.admin import OPERATIONS, create_admin_app
from router.ids import encode_id
from router.testing import Sink
from router.workflows.state import State, StepStatus, UndoStatus
from router.workflows.views import StepStatusName, UndoStatusName, WorkflowState
from simulators.runner import SimulatorThread
from tests.conftest import EngineFactory
from tests.support.admin_server import AUTH, TOKENS, AdminServer, routes_folder

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"
UNKNOWN_ID = encode_id(bytes(16))
WORKFLOW_OPS = [op for op in OPERATIONS if op.tag == "workflows"]

WORKFLOW = """\
id: onboard
kind: workflow
description: Account, entitlement, welcome mail
trigger: {source: demo, type: deal.won}
key: "{{ /trigger/deal }}"
sla: {objective: 30s, until: provision}
steps:
  - id: account
    call: {connector: target, path: /accounts}
    input: {set: {external_id: "acct-{{ /trigger/deal }}", name: "{{ /trigger/name }}"}}
    output: {id: /id}
    compensate:
      call: {connector: target, method: DELETE, path: "/accounts/{/external_id}"}
      input: {set: {external_id: "acct-{{ /trigger/deal }}"}}
  - id: provision
    call: {connector: target, path: /entitlements}
    input: {set: {external_id: "ent-{{ /trigger/deal }}", account: "{{ /steps/account/id }}"}}
    output: {id: /id}
    retry: {max_attempts: 2, initial: 10ms, max: 20ms}
    compensate:
      call: {connector: target, method: DELETE, path: "/entitlements/{/external_id}"}
      input: {set: {external_id: "ent-{{ /trigger/deal }}"}}
  - id: welcome
    call: {connector: target, path: /emails}
    input: {set: {external_id: "mail-{{ /trigger/deal }}"}}
    retry: {max_attempts: 2, initial: 10ms, max: 20ms}
"""
SETTLED = {"completed", "parked", "compensated", "cancelled"}


def workflow_routes(folder: Path, sims: SimulatorThread) -> Path:
    """Source ``demo`` (deal.won), connector ``target`` (the simulator), workflow ``onboard``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text("demo:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        f"target:\n  kind: http\n  base_url: {sims.url('webhook')}\n  timeout: 2s\n"
    )
    (folder / "onboard.yaml").write_text(WORKFLOW)
    return folder


def deal(name: str, event: str | None = None) -> bytes:
    body = {"type": "deal.won", "id": event or f"evt-{name}", "deal": name, "name": "Acme"}
    return orjson.dumps(body)


def break_target(sims: SimulatorThread, *external_ids: str) -> None:
    """The simulator answers 422 (a permanent failure) for these external ids."""
    sims.set_faults("webhook", broken=list(external_ids))


@pytest.fixture(scope="module")
def target() -> Iterator[SimulatorThread]:
    with SimulatorThread(["webhook"]) as sims:
        yield sims


@pytest.fixture
def sims(target: SimulatorThread) -> Iterator[SimulatorThread]:
    target.reset("webhook")
    yield target
    target.reset("webhook")


@dataclass
class Wf:
    client: Client
    engine: Engine

    async def trigger(self, name: str, event: str | None = None) -> str:
        return (await self.engine.submit("demo", deal(name, event))).id

    async def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=AUTH)
        assert response.status == expect, await response.text()
        if expect >= 400:
            assert response.headers["Content-Type"].startswith(PROBLEM)
        return await response.json(content_type=None)

    async def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        data = b"" if body is None else orjson.dumps(body)
        response = await self.client.post(path, data=data, headers=AUTH)
        assert response.status == expect, await response.text()
        if expect >= 400:
            assert response.headers["Content-Type"].startswith(PROBLEM)
        return await response.json(content_type=None)

    async def settled(self, key: str, timeout_s: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = (await self.get("/workflows", workflow="onboard", key=key))["instances"]
            if found and found[0]["state"] in SETTLED:
                return found[0]  # type: ignore[no-any-return]
            await asyncio.sleep(0.02)
        raise AssertionError(f"the instance for {key} did not settle")


@pytest.fixture
async def wf(
    tmp_path: Path, make_engine: EngineFactory, sims: SimulatorThread
) -> AsyncIterator[Wf]:
    engine = await make_engine(workflow_routes(tmp_path / "routes", sims))
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        yield Wf(client, engine)


@dataclass
class Seeded:
    wf: Wf
    done: dict[str, Any]
    parked: dict[str, Any]
    done_message: str
    parked_message: str


@pytest.fixture
async def seeded(wf: Wf, sims: SimulatorThread) -> Seeded:
    """D1 completed, then D2 parked at ``provision`` (the target rejects its entitlement)."""
    break_target(sims, "ent-D2")
    done_message = await wf.trigger("D1")
    done = await wf.settled("D1")
    parked_message = await wf.trigger("D2")
    parked = await wf.settled("D2")
    return Seeded(wf, done, parked, done_message, parked_message)


# -- reads ---------------------------------------------------------------------------------------


async def test_list_newest_first_with_filters(seeded: Seeded) -> None:
    wf, done, parked = seeded.wf, seeded.done, seeded.parked
    assert done["state"] == "completed" and parked["state"] == "parked"
    listed = (await wf.get("/workflows"))["instances"]
    assert [i["id"] for i in listed] == [parked["id"], done["id"]]
    assert listed[0] == parked
    assert parked["workflow"] == "onboard" and parked["key"] == "D2"
    assert parked["current_step"] == parked["failed_step"] == "provision"
    assert "422" in parked["reason"] and parked["finished_at"] is None
    assert parked["sla_seconds"] is None and parked["duplicates"] == 0
    assert done["current_step"] is None and done["reason"] is None
    assert done["finished_at"] >= done["received_at"] and 0 < done["sla_seconds"] < 30

    async def ids(**params: Any) -> list[str]:
        return [i["id"] for i in (await wf.get("/workflows", **params))["instances"]]

    assert await ids(state="parked") == [parked["id"]]
    assert await ids(state="completed", workflow="onboard") == [done["id"]]
    assert await ids(state="running") == []
    assert await ids(key="D1") == [done["id"]]
    assert await ids(workflow="onboard", key="D2", state="parked") == [parked["id"]]
    assert await ids(workflow="onboard", key="D2", state="completed") == []
    assert await ids(workflow="elsewhere") == []
    assert await ids(limit=1) == [parked["id"]]


async def test_detail_of_a_parked_instance(seeded: Seeded) -> None:
    detail = await seeded.wf.get(f"/workflows/{seeded.parked['id']}")
    summary = {k: v for k, v in seeded.parked.items() if k != "duplicates"}
    assert {k: detail[k] for k in summary} == summary
    assert detail["trigger_message"] == seeded.parked_message
    assert detail["correlation_id"] == seeded.parked_message  # none given: the message id
    assert len(detail["trace_id"]) == 32 and detail["duplicates"] == []
    assert detail["input"]["trigger"] == orjson.loads(deal("D2"))
    assert detail["input"]["event"]["source"] == "demo"
    account, provision, welcome = detail["steps"]
    assert account["status"] == "succeeded" and account["output"]["id"]
    assert account["attempts"] == 1 and account["finished_at"] >= account["started_at"]
    assert provision["status"] == "failed" and provision["attempts"] == 1
    assert "rejected" in provision["error"] and provision["output"] == {}
    assert welcome == {
        "id": "welcome",
        "status": "pending",
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "output": {},
        "error": None,
        "note": None,
        "undo": "none",
        "undo_attempts": 0,
        "undo_error": None,
        "first_sent_at": None,
        "undo_started_at": None,
        "child": None,
    }
    assert detail["parents"] == []
    events = [(e["event"], e["step"], e["attempt"]) for e in detail["events"]]
    assert events == [
        ("triggered", None, None),
        ("step_started", "account", 1),
        ("step_succeeded", "account", 1),
        ("step_started", "provision", 1),
        ("step_failed", "provision", 1),
        ("parked", "provision", None),
        ("sla_missed", None, None),  # parked before `provision` succeeded: a miss, counted now
    ]
    assert detail["events"][-1]["detail"] == "parked before the end of its SLA"
    assert detail["events"][0]["detail"] == f"message {seeded.parked_message}"
    times = [e["at"] for e in detail["events"]]
    assert times == sorted(times) and times[0] >= detail["received_at"]
    lower = await seeded.wf.get(f"/workflows/{seeded.parked['id'].lower()}")
    assert lower == detail  # ids are case-insensitive, like message ids


async def test_detail_of_a_completed_instance_and_its_duplicates(seeded: Seeded) -> None:
    wf = seeded.wf
    again = await wf.trigger("D1", event="evt-D1-again")  # a new event for the same deal
    await wf.engine.wait_idle()
    detail = await wf.get(f"/workflows/{seeded.done['id']}")
    assert [s["status"] for s in detail["steps"]] == ["succeeded"] * 3
    assert [d["message_id"] for d in detail["duplicates"]] == [again]
    events = [(e["event"], e["step"]) for e in detail["events"]]
    assert events == [
        ("triggered", None),
        ("step_started", "account"),
        ("step_succeeded", "account"),
        ("step_started", "provision"),
        ("step_succeeded", "provision"),
        ("sla_met", None),  # the clock stops at `provision`, not at the end
        ("step_started", "welcome"),
        ("step_succeeded", "welcome"),
        ("completed", None),
        ("duplicate_trigger", None),
    ]
    assert detail["events"][-1]["detail"] == f"message {again}; not started again"
    assert (await wf.get("/workflows", key="D1"))["instances"][0]["duplicates"] == 1


async def test_stats_count_states_and_measure_the_sla(seeded: Seeded) -> None:
    [stats] = (await seeded.wf.get("/workflows/stats"))["workflows"]
    assert stats["workflow"] == "onboard" and stats["configured"] is True
    assert stats["description"] == "Account, entitlement, welcome mail"
    assert stats["steps"] == ["account", "provision", "welcome"]
    assert stats["on_failure"] == "park"
    assert stats["counts"] == {s.value: int(s in (State.COMPLETED, State.PARKED)) for s in State}
    sla = stats["sla"]
    measured = seeded.done["sla_seconds"]
    assert sla == {
        "objective_s": 30.0,
        "until": "provision",
        "measured": 2,  # the parked one never reached `provision`: it is a miss
        "met": 1,
        "missed": 1,
        "p50_s": measured,
        "p95_s": measured,
        "max_s": measured,
    }


# -- commands ------------------------------------------------------------------------------------


async def test_retry_completes_a_parked_instance(seeded: Seeded, sims: SimulatorThread) -> None:
    wf, parked = seeded.wf, seeded.parked
    break_target(sims)  # the record was fixed at the target
    answer = await wf.post(f"/workflows/{parked['id']}/retry", {"reason": "fixed", "by": "ops"})
    assert answer["id"] == parked["id"] and answer["state"] == "running"
    assert answer["failed_step"] is None and answer["reason"] is None
    assert (await wf.settled("D2"))["state"] == "completed"
    detail = await wf.get(f"/workflows/{parked['id']}")
    retry = next(e for e in detail["events"] if e["event"] == "operator_retry")
    assert retry["step"] == "provision" and retry["detail"] == "ops: fixed"
    assert detail["steps"][1]["status"] == "succeeded" and detail["steps"][1]["attempts"] == 1
    await wf.post(f"/workflows/{parked['id']}/retry", {}, expect=409)  # completed now
    # It missed its SLA when it parked; completing after an operator does not turn that into a
    # meeting of it, nor count it twice.
    assert [e["event"] for e in detail["events"]].count("sla_missed") == 1
    assert "sla_reached" in [e["event"] for e in detail["events"]]
    (stats,) = (await wf.get("/workflows/stats"))["workflows"]
    assert (stats["sla"]["measured"], stats["sla"]["met"], stats["sla"]["missed"]) == (2, 1, 1)


async def test_skip_needs_a_reason_and_records_it(seeded: Seeded) -> None:
    wf, parked = seeded.wf, seeded.parked
    for body in ({}, {"reason": ""}, {"reason": "  "}):
        problem = await wf.post(f"/workflows/{parked['id']}/skip", body, expect=400)
        assert problem["errors"][0]["loc"] == "reason"
    answer = await wf.post(f"/workflows/{parked['id']}/skip", {"reason": "done by hand"})
    assert answer["state"] == "running"
    assert (await wf.settled("D2"))["state"] == "completed"
    detail = await wf.get(f"/workflows/{parked['id']}")
    provision = detail["steps"][1]
    assert provision["status"] == "skipped" and provision["note"] == "admin-api: done by hand"
    assert detail["steps"][2]["status"] == "succeeded"


async def test_cancel_compensates_in_reverse(seeded: Seeded, sims: SimulatorThread) -> None:
    wf, done, parked = seeded.wf, seeded.done, seeded.parked
    answer = await wf.post(f"/workflows/{done['id']}/cancel", {"reason": "deal lost", "by": "bob"})
    assert answer["state"] == "compensating"
    cancelled = await wf.settled("D1")
    assert cancelled["state"] == "cancelled" and cancelled["finished_at"] is not None
    detail = await wf.get(f"/workflows/{done['id']}")
    assert [s["undo"] for s in detail["steps"]] == ["done", "done", "not_compensable"]
    undone = [e["step"] for e in detail["events"] if e["event"].startswith("undo_")]
    assert undone == ["provision", "account"]
    cancel = next(e for e in detail["events"] if e["event"] == "operator_cancel")
    assert cancel["detail"] == "bob: deal lost"
    sim = sims.set.simulator("webhook")
    deletes = sims.call(lambda: [e.path for e in sim.log.entries() if e.method == "DELETE"])
    assert deletes == ["/entitlements/ent-D1", "/accounts/acct-D1"]

    await wf.post(f"/workflows/{parked['id']}/cancel", {"reason": "give up"})
    assert (await wf.settled("D2"))["state"] == "cancelled"
    steps = (await wf.get(f"/workflows/{parked['id']}"))["steps"]
    assert [s["undo"] for s in steps] == ["done", "none", "none"]  # only account had an effect
    await wf.post(f"/workflows/{parked['id']}/cancel", {"reason": "again"}, expect=409)
    [stats] = (await wf.get("/workflows/stats"))["workflows"]
    assert stats["counts"]["cancelled"] == 2 and stats["counts"]["completed"] == 0


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"/workflows/{UNKNOWN_ID}", None, 404),
        ("POST", f"/workflows/{UNKNOWN_ID}/retry", {}, 404),
        ("POST", f"/workflows/{UNKNOWN_ID}/skip", {"reason": "r"}, 404),
        ("POST", f"/workflows/{UNKNOWN_ID}/cancel", {"reason": "r"}, 404),
        ("GET", "/workflows/not-an-id", None, 400),
        ("GET", "/workflows/" + "U" * 26, None, 400),  # U is not Crockford
        ("POST", "/workflows/not-an-id/retry", {}, 400),
        ("POST", f"/workflows/{UNKNOWN_ID}/retry", None, 400),  # no body
        ("POST", f"/workflows/{UNKNOWN_ID}/retry", {"reason": 5}, 400),
        ("POST", f"/workflows/{UNKNOWN_ID}/retry", {"by": ""}, 400),
        ("POST", f"/workflows/{UNKNOWN_ID}/retry", {"colour": "red"}, 400),
        ("POST", f"/workflows/{UNKNOWN_ID}/pause", {}, 404),
        ("GET", "/workflows?state=lost", None, 400),
        ("GET", "/workflows?limit=0", None, 400),
        ("GET", "/workflows?limit=1001", None, 400),
        ("GET", "/workflows?key=a&key=b", None, 400),
        ("POST", "/workflows/stats", {}, 405),
    ],
)
async def test_client_errors_are_problem_json(
    wf: Wf, method: str, path: str, body: Any, status: int
) -> None:
    data = None if body is None else orjson.dumps(body)
    response = await wf.client.request(method, path, data=data, headers=AUTH)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith(PROBLEM)
    problem = await response.json(content_type=None)
    assert problem["status"] == status and problem["title"]


async def test_commands_that_do_not_apply_are_409(seeded: Seeded) -> None:
    wf, done = seeded.wf, seeded.done
    problem = await wf.post(f"/workflows/{done['id']}/retry", {}, expect=409)
    assert problem["title"] == "Conflict" and "completed" in problem["detail"]
    await wf.post(f"/workflows/{done['id']}/skip", {"reason": "r"}, expect=409)
    detail = await wf.get(f"/workflows/{done['id']}")
    assert not [e for e in detail["events"] if e["event"].startswith("operator_")]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic tok-new"])
async def test_the_workflow_operations_need_the_token(wf: Wf, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert len(WORKFLOW_OPS) == 6
    for op in WORKFLOW_OPS:
        path = op.path.replace("{id}", UNKNOWN_ID)
        response = await wf.client.request(op.method, path, headers=headers, data=b"{}")
        assert response.status == 401, (op.method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_router_without_workflows(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    engine = await make_engine(routes_folder(tmp_path, sink))
    assert engine.workflows is None
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        admin = Wf(client, engine)
        assert await admin.get("/workflows") == {"instances": []}
        assert await admin.get("/workflows/stats") == {"workflows": []}
        await admin.get(f"/workflows/{UNKNOWN_ID}", expect=404)
        await admin.post(f"/workflows/{UNKNOWN_ID}/cancel", {"reason": "r"}, expect=404)


async def test_workflows_not_running_yet_answer_503(tmp_path: Path, sims: SimulatorThread) -> None:
    routes = workflow_routes(tmp_path / "routes", sims)
    engine = Engine(load_config(routes), Settings(data_dir=tmp_path / "data"))  # not started
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        for path in ("/workflows", "/workflows/stats", f"/workflows/{UNKNOWN_ID}"):
            response = await client.get(path, headers=AUTH)
            assert response.status == 503, path
            assert response.headers["Retry-After"] == "1"


# -- the contract --------------------------------------------------------------------------------


def test_the_literals_match_the_state_machine() -> None:
    assert set(get_args(WorkflowState)) == {s.value for s in State}
    assert set(get_args(StepStatusName)) == {s.value for s in StepStatus}
    assert set(get_args(UndoStatusName)) == {s.value for s in UndoStatus}


async def test_openapi_documents_the_workflow_operations(wf: Wf) -> None:
    doc = await wf.get("/openapi.json")
    ids = {
        spec["operationId"]: (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method, spec in ops.items()
        if spec["tags"] == ["workflows"]
    }
    assert ids == {
        "listWorkflowInstances": ("GET", "/workflows"),
        "getWorkflowStats": ("GET", "/workflows/stats"),
        "getWorkflowInstance": ("GET", "/workflows/{id}"),
        "retryWorkflowInstance": ("POST", "/workflows/{id}/retry"),
        "skipWorkflowInstance": ("POST", "/workflows/{id}/skip"),
        "cancelWorkflowInstance": ("POST", "/workflows/{id}/cancel"),
    }
    listing = doc["paths"]["/workflows"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"workflow", "state", "key", "limit"}
    state = next(p for p in listing["parameters"] if p["name"] == "state")
    assert set(state["schema"]["enum"]) == {s.value for s in State}
    for action in ("retry", "skip", "cancel"):
        responses = doc["paths"][f"/workflows/{{id}}/{action}"]["post"]["responses"]
        assert {"200", "400", "401", "404", "409", "503"} <= set(responses)
    detail = doc["paths"]["/workflows/{id}"]["get"]
    assert "workflow instance" in detail["parameters"][0]["description"]
    assert detail["responses"]["404"]["description"] == "No such workflow instance"
    assert "message id" in doc["paths"]["/messages/{id}"]["get"]["parameters"][0]["description"]
    skip = doc["components"]["schemas"]["SkipBody"]
    assert skip["required"] == ["reason"] and skip["properties"]["reason"]["pattern"] == r"\S"


def test_real_answers_conform_to_the_document(tmp_path: Path, sims: SimulatorThread) -> None:
    """Schemathesis checks the answers about real instances (its own fuzzing finds none)."""
    break_target(sims, "ent-D2")
    server = AdminServer(workflow_routes(tmp_path / "routes", sims), tmp_path / "data", TOKENS)
    server.start()
    try:
        for name in ("D1", "D2"):
            server.run(server.engine.submit("demo", deal(name)))
        assert server.engine.workflows is not None
        workflows = server.engine.workflows

        async def settled() -> list[Any]:
            while True:
                found = await workflows.query()
                if len(found) == 2 and all(i.state.value in SETTLED for i in found):
                    return found
                await asyncio.sleep(0.02)

        found = {i.key: i for i in server.run(settled(), timeout=10)}
        done, parked = found["D1"], found["D2"]
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=AUTH)
        calls = [
            ("GET", "/workflows", {}, None, 200),
            ("GET", "/workflows/stats", {}, None, 200),
            ("GET", "/workflows/{id}", {"id": parked.id}, None, 200),
            ("GET", "/workflows/{id}", {"id": done.id}, None, 200),
            ("POST", "/workflows/{id}/retry", {"id": done.id}, {}, 409),
            ("POST", "/workflows/{id}/cancel", {"id": parked.id}, {"reason": "r"}, 200),
        ]
        for method, path, params, body, status in calls:
            operation = schema[path][method]
            if body is None:
                case = operation.Case(path_parameters=params)
            else:
                payload: JsonValue = dict(body)
                case = operation.Case(path_parameters=params, body=payload)
            response = case.call_and_validate(headers=AUTH, timeout=10)
            assert response.status_code == status, (path, response.text)
    finally:
        server.stop()
