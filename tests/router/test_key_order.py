"""Key order after a dead letter (``on_dead_letter``), end to end on an embedded engine.

With ``hold`` (the default), a dead-lettered head holds its key: the later messages of that key
stay pending, undelivered, until the operator replays the head (it goes first, then the held ones
in acceptance order) or skips it; other keys flow on, and the hold survives a restart. With
``continue`` they flow on, and a replay arrives after them. Every wait is on a condition with a
generous deadline: nothing here depends on how fast a loaded machine runs.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from router import Engine
from router.cli.app import build
from router.envelope import Envelope
from router.http.admin import create_admin_app
from router.ids import decode_id, encode_id, new_id_bytes
from router.store import queries
from router.store.journal import Journal
from router.store.records import DeliveryState, OutcomeRecord
from router.store.statuses import Status
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.admin_server import AUTH, TOKENS, AdminServer, routes_folder
from tests.support.routes import write_routes

FAST_RETRY = "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
DEADLINE_S = 60.0


def order(ident: str, customer: str = "c1") -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": customer})


def applied(sink: Sink) -> list[str]:
    """The ids the target applied, in the order it applied them."""
    return [body["id"] for body in sink.applied_bodies()]


def sent(sink: Sink) -> list[str]:
    return [call.json()["id"] for call in sink.snapshot()]


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S}s: {what}")
        await asyncio.sleep(0.01)


def gauge(engine: Engine, name: str, route: str = "orders") -> float:
    value = engine.metrics.registry.get_sample_value(name, {"route": route})
    return 0.0 if value is None else value


def held(engine: Engine) -> tuple[float, float]:
    return gauge(engine, "interlock_held_keys"), gauge(engine, "interlock_held_deliveries")


async def submit(engine: Engine, *ids: str, customer: str = "c1") -> list[bytes]:
    return [decode_id((await engine.submit("shop", order(i, customer))).id) for i in ids]


def routes(tmp_path: Path, sink: Sink, extra: str = "", key: str = "/customer") -> Path:
    return write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY + extra, key=key)


async def held_back(engine: Engine, sink: Sink, count: int) -> None:
    """Wait until the head is dead-lettered and ``count`` deliveries wait behind it."""
    await engine.wait_idle(DEADLINE_S)
    await eventually(lambda: held(engine) == (1.0, float(count)), f"{count} held")


# -- hold ----------------------------------------------------------------------------------------


async def test_later_messages_wait_and_a_replay_delivers_the_key_in_order(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink))
    first, second, third = await submit(engine, "m-1", "m-2", "m-3")
    await submit(engine, "o-1", customer="c2")  # another key: not held back
    await held_back(engine, sink, 2)
    assert applied(sink) == ["o-1"]
    assert "m-2" not in sent(sink) and "m-3" not in sent(sink)  # never even attempted
    assert engine.journal is not None
    assert [m for m, _ in engine.journal.dead_letters()] == [first]  # held is not dead
    [dead] = queries.dead_letters_of(engine.journal, first)
    assert dead.holds_key

    later = await submit(engine, "m-4")  # accepted after the dead letter: held too
    await eventually(lambda: held(engine) == (1.0, 3.0), "the later message held")
    await engine.wait_idle(DEADLINE_S)  # held messages hold no credit: the router is idle
    assert "m-4" not in sent(sink)

    sink.fail_keys.clear()
    assert await engine.replay([(first, "orders")]) == 1
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["o-1", "m-1", "m-2", "m-3", "m-4"]
    assert held(engine) == (0.0, 0.0)
    assert engine.journal.dead_letters() == []
    for message_id in (first, second, third, *later):
        assert engine.journal.deliveries(message_id)["orders"].status == "delivered"


async def test_the_timeline_shows_what_a_message_is_held_behind(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink))
    first, second = await submit(engine, "m-1", "m-2")
    await held_back(engine, sink, 1)
    assert engine.journal is not None
    first_id = encode_id(first)
    detail = queries.message_detail(engine.journal, second)
    assert detail is not None
    [delivery] = detail.deliveries
    assert delivery.status == "pending" and delivery.held_by == first_id
    held_events = [e for e in detail.timeline if e.kind == "held"]
    assert len(held_events) == 1 and first_id in held_events[0].detail
    assert held_events[0].route == "orders"
    head = queries.message_detail(engine.journal, first)
    assert head is not None and head.deliveries[0].held_by is None  # it is the dead letter

    sink.fail_keys.clear()
    await engine.replay([(first, "orders")])
    await engine.wait_idle(DEADLINE_S)
    detail = queries.message_detail(engine.journal, second)
    assert detail is not None and detail.deliveries[0].held_by is None
    kinds = [e.kind for e in detail.timeline]
    assert kinds == ["received", "routed", "held", "delivered"]
    kinds = [e.kind for e in queries.message_detail(engine.journal, first).timeline]  # type: ignore[union-attr]
    assert kinds == ["received", "routed", "dead_lettered", "replayed", "delivered"]


async def test_a_skip_releases_the_held_messages(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink))
    first, _, _ = await submit(engine, "m-1", "m-2", "m-3")
    await held_back(engine, sink, 2)

    assert await engine.skip([(first, "orders")], "refunded by hand") == 1
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2", "m-3"]  # m-1 is never delivered
    assert held(engine) == (0.0, 0.0)
    assert engine.journal is not None and engine.journal.dead_letters() == []
    timeline = engine.journal.timeline(first)
    assert timeline[-1].kind == "skipped" and "refunded by hand" in timeline[-1].detail
    assert await engine.replay([(first, "orders")]) == 0  # skipped: nothing to replay
    assert await engine.skip([(first, "orders")], "again") == 0


async def test_a_purge_of_the_dead_letter_releases_its_key_too(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink))
    first, _ = await submit(engine, "m-1", "m-2")
    await held_back(engine, sink, 1)
    assert await engine.purge([(first, "orders")]) == 1
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2"]


async def test_a_replayed_head_that_fails_again_keeps_holding(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink))
    first, _ = await submit(engine, "m-1", "m-2")
    await held_back(engine, sink, 1)
    assert await engine.replay([(first, "orders")]) == 1  # still refused by the target
    await engine.wait_idle(DEADLINE_S)
    await eventually(lambda: held(engine) == (1.0, 1.0), "held again")
    assert applied(sink) == [] and sent(sink) == ["m-1", "m-1"]
    sink.fail_keys.clear()
    await engine.replay([(first, "orders")])
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-1", "m-2"]


async def test_the_hold_survives_a_restart_on_the_same_data_dir(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    folder = routes(tmp_path, sink)
    engine = await make_engine(folder, tmp_path / "data")
    first, _, _ = await submit(engine, "m-1", "m-2", "m-3")
    await held_back(engine, sink, 2)
    await engine.stop()

    sink.fail_keys.clear()
    restarted = await make_engine(folder, tmp_path / "data")
    assert restarted.recovered == 0  # held: pending in the journal, not reloaded
    await eventually(lambda: held(restarted) == (1.0, 2.0), "the hold rebuilt")
    await submit(restarted, "m-4")
    await submit(restarted, "o-1", customer="c2")
    await restarted.wait_idle(DEADLINE_S)
    await eventually(lambda: held(restarted) == (1.0, 3.0), "m-4 held after the restart")
    assert applied(sink) == ["o-1"]

    assert await restarted.replay([(first, "orders")]) == 1
    await restarted.wait_idle(DEADLINE_S)
    assert applied(sink) == ["o-1", "m-1", "m-2", "m-3", "m-4"]


async def test_a_route_switched_to_continue_drops_its_holds_at_start(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    folder = routes(tmp_path, sink)
    engine = await make_engine(folder, tmp_path / "data")
    first, _ = await submit(engine, "m-1", "m-2")
    await held_back(engine, sink, 1)
    await engine.stop()

    routes(tmp_path, sink, "on_dead_letter: continue\n")
    restarted = await make_engine(folder, tmp_path / "data")
    assert restarted.recovered == 1
    await restarted.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2"] and held(restarted) == (0.0, 0.0)
    assert restarted.journal is not None
    await eventually(
        lambda: (
            restarted.journal is not None
            and restarted.journal.timeline(first)[-1].kind == "released"
        ),
        "the dropped hold in the dead letter's timeline",
    )
    [dead] = queries.dead_letters_of(restarted.journal, first)
    assert not dead.holds_key


# -- continue, and routes without a key -----------------------------------------------------------


async def test_with_continue_later_messages_flow_and_a_replay_comes_after_them(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink, "on_dead_letter: continue\n"))
    first, _, _ = await submit(engine, "m-1", "m-2", "m-3")
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2", "m-3"] and held(engine) == (0.0, 0.0)
    sink.fail_keys.clear()
    assert await engine.replay([(first, "orders")]) == 1
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2", "m-3", "m-1"]  # out of order: what `continue` means


async def test_a_route_without_a_key_is_not_held(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    sink.fail_keys["m-1"] = 422
    engine = await make_engine(routes(tmp_path, sink, key=""))  # `key:` empty: unordered
    assert not engine.config.routes["orders"].holds_key_order
    await submit(engine, "m-1", "m-2")
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["m-2"] and held(engine) == (0.0, 0.0)


# -- the admin API and the CLI ---------------------------------------------------------------------


@dataclass
class Admin:
    client: TestClient[web.Request, web.Application]
    engine: Engine

    async def call(
        self, method: str, path: str, body: Any = None, expect: int = 200, **params: Any
    ) -> Any:
        data = None if body is None else orjson.dumps(body)
        response = await self.client.request(method, path, data=data, params=params, headers=AUTH)
        assert response.status == expect, await response.text()
        return await response.json(content_type=None)


@pytest.fixture
async def admin(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> AsyncIterator[Admin]:
    engine = await make_engine(routes_folder(tmp_path, sink, on_dead_letter="hold"))
    async with TestClient(TestServer(create_admin_app(engine, TOKENS))) as client:
        yield Admin(client, engine)


async def test_admin_skip_needs_a_reason_and_releases_the_key(admin: Admin, sink: Sink) -> None:
    sink.fail_keys["d-1"] = 422
    engine = admin.engine
    first = (await engine.submit("shop", order("d-1"))).id
    second = (await engine.submit("shop", order("d-2"))).id
    await held_back(engine, sink, 1)

    letters = (await admin.call("GET", "/dead-letters"))["items"]
    assert [(d["id"], d["holds_key"]) for d in letters] == [(first, True)]
    detail = await admin.call("GET", f"/messages/{second}")
    assert detail["deliveries"][0]["held_by"] == first
    assert any(e["kind"] == "held" and first in e["detail"] for e in detail["timeline"])

    for body in ({}, {"reason": "   "}, {"reason": 5}):
        problem = await admin.call("POST", f"/dead-letters/{first}/skip", body, expect=400)
        assert problem["status"] == 400 and problem["title"] == "Bad Request"
    await admin.call("POST", f"/dead-letters/{first}/skip", None, expect=400)
    none = {"matched": 0, "skipped": 0}
    assert (
        await admin.call("POST", f"/dead-letters/{first}/skip", {"reason": "r"}, route="refunds")
        == none
    )
    unknown = encode_id(bytes(16))
    await admin.call("POST", f"/dead-letters/{unknown}/skip", {"reason": "r"}, expect=404)

    answer = await admin.call("POST", f"/dead-letters/{first}/skip", {"reason": " done by hand "})
    assert answer == {"matched": 1, "skipped": 1}
    await engine.wait_idle(DEADLINE_S)
    assert applied(sink) == ["d-2"]
    timeline = (await admin.call("GET", f"/messages/{first}"))["timeline"]
    assert timeline[-1]["kind"] == "skipped" and timeline[-1]["detail"].startswith("done by hand")
    assert (await admin.call("GET", "/dead-letters"))["items"] == []


@pytest.fixture
def quiet_server_logs() -> Iterator[None]:
    """The server thread logs to stdout, which CliRunner captures: send its logs elsewhere."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("quiet_server_logs")
def test_cli_dlq_skip_and_trace_show_the_hold(tmp_path: Path, sink: Sink) -> None:
    server = AdminServer(
        routes_folder(tmp_path, sink, on_dead_letter="hold"), tmp_path / "data", TOKENS
    ).start()
    try:
        sink.fail_keys["d-1"] = 422
        first = server.submit(order("d-1"))
        second = server.submit(order("d-2"))
        server.wait_idle()
        server.run(eventually(lambda: held(server.engine) == (1.0, 1.0), "d-2 held"))
        app, api = build(["interlock"]), ["--url", server.url, "--token", TOKENS[1]]
        runner = CliRunner()

        trace = runner.invoke(app, ["trace", second, *api])
        assert trace.exit_code == 0, trace.output
        assert f"(held behind {first})" in trace.output and "held" in trace.output.split()
        listed = runner.invoke(app, ["dlq", "list", *api])
        assert "orders (holds key)" in listed.output

        missing = runner.invoke(app, ["dlq", "skip", first, *api])
        assert missing.exit_code == 2
        blank = runner.invoke(app, ["dlq", "skip", first, "--reason", " ", *api])
        assert blank.exit_code == 2
        done = runner.invoke(app, ["dlq", "skip", first, "--reason", "refunded", *api])
        assert done.exit_code == 0, done.output
        assert done.output.strip() == "skip: 1 matched, 1 skipped"
        server.wait_idle()
        assert applied(sink) == ["d-2"]
        again = runner.invoke(app, ["dlq", "skip", first, "--reason", "refunded", *api, "--json"])
        assert again.exit_code == 0 and orjson.loads(again.output) == {"matched": 0, "skipped": 0}
    finally:
        server.stop()


# -- the journal's side: the hold record --------------------------------------------------------


def _envelope(key: str, customer: str = "c1") -> Envelope:
    return Envelope(new_id_bytes(), "shop", "order.created", key, "", "", time.time(), b"{}",
                    routes=[("orders", customer)])  # fmt: skip


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal", map_size_mb=8, sync=False)
    try:
        yield opened
    finally:
        opened.close()


def _dead(env: Envelope, *, hold: bool, first_sent: float = 5.0) -> OutcomeRecord:
    state = DeliveryState(
        Status.DEAD, 1, "c1", last_error="422", first_attempt_at=first_sent, updated_at=6.0
    )
    return OutcomeRecord(env.id, "orders", state, "dead_lettered", "permanent: 422", hold=hold)


def test_the_hold_is_written_with_its_dead_letter_and_cleared_by_its_replay(
    journal: Journal,
) -> None:
    head, other = _envelope("k1"), _envelope("k2", customer="c9")
    journal.append([head, other], [])
    journal.record([_dead(head, hold=True), _dead(other, hold=False)])
    with journal.reader() as reader:
        assert list(reader.holds()) == [("orders", "c1", head.id)]
        assert reader.holding(head.id, "orders") and not reader.holding(other.id, "orders")
    plain, released = journal.requeue([(head.id, "orders"), (other.id, "orders")])
    assert [d.envelope.id for d in plain] == [other.id]
    [release] = released
    assert (release.route, release.key, release.holder) == ("orders", "c1", head.id)
    assert release.head is not None and release.head.state.first_attempt_at == 5.0
    assert release.head.state.attempts == 0 and release.head.state.retry_from == 0.0
    with journal.reader() as reader:
        assert list(reader.holds()) == []


def test_a_dead_letter_that_holds_its_key_outlives_the_dead_letter_retention(
    journal: Journal,
) -> None:
    holder, plain = _envelope("k1"), _envelope("k2", customer="c9")
    journal.append([holder, plain], [])
    journal.record([_dead(holder, hold=True), _dead(plain, hold=False)])
    swept = journal.sweep(time.time() + 400 * 86400, 60, dead_retention_s=86400)
    assert [key for key, _, _ in swept.dead] == [plain.id]  # the holder waits for a decision
    assert journal.skip([(holder.id, "orders")], "done by hand")[0] == 1
    swept = journal.sweep(time.time() + 400 * 86400, 60, dead_retention_s=86400)
    assert [key for key, _, _ in swept.dead] == [plain.id]
    assert journal.message(holder.id) is None  # skipped: finished, swept like any other


def test_a_journal_written_before_holds_existed_opens_read_only(tmp_path: Path) -> None:
    from router.store import lmdb_env

    env, _, _ = lmdb_env.open_environment(
        tmp_path / "journal",
        ("msg", "idem", "dlv", "pending", "ev", "dlq", "unrouted"),
        what="journal",
        map_size_mb=8,
        sync=False,
        readonly=False,
        max_readers=8,
    )
    env.close()
    journal = Journal(tmp_path / "journal", readonly=True)
    try:
        with journal.reader() as reader:
            assert list(reader.holds()) == [] and reader.holder("orders", "c1") is None
        assert "holds" not in journal.counts()
    finally:
        journal.close()
