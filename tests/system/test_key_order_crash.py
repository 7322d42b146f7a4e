"""A held key survives kill -9 of a real ``interlock run``, and an operator releases it after.

Route ``orders`` (key ``/customer``, ``on_dead_letter: hold`` by default): the head of key c1 and
the head of key c3 are refused by the target (422) and dead-lettered; the later messages of both
keys wait. The router is killed with SIGKILL and started again on the same data dir: the keys are
still held (a message accepted after the restart waits too), other keys flow. Then the operator,
through the ``interlock`` CLI, replays c1's dead letter (delivered first, then the held ones in
acceptance order) and skips c3's (the held one is delivered, the skipped one never). Every wait is
a poll with a generous deadline.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from router.testing import Sink
from tests.support.process import INTERLOCK, RouterProcess
from tests.support.routes import write_routes

pytestmark = pytest.mark.slow
TOKEN = "key-order-token"
FAST_RETRY = "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
DEADLINE_S = 60.0


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S}s: {what}")
        time.sleep(0.05)


def post(router: RouterProcess, ident: str, customer: str) -> str:
    body = orjson.dumps({"id": ident, "type": "order.created", "customer": customer})
    request = urllib.request.Request(
        router.url + "/webhooks/shop", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return str(json.loads(response.read())["id"])


def admin(router: RouterProcess, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{router.admin_port}{path}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def held_by(router: RouterProcess, message_id: str) -> str | None:
    detail = admin(router, f"/messages/{message_id}")
    held: str | None = detail["deliveries"][0]["held_by"]
    return held


def cli(router: RouterProcess, *args: str) -> str:
    api = ["--url", f"http://127.0.0.1:{router.admin_port}", "--token", TOKEN]
    done = subprocess.run(
        [INTERLOCK, *args, *api], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def applied(sink: Sink) -> list[str]:
    return [body["id"] for body in sink.applied_bodies()]


def sent(sink: Sink) -> set[str]:
    return {call.json()["id"] for call in sink.snapshot()}


def test_a_held_key_survives_kill_9_and_is_released_by_the_operator(
    tmp_path: Path, sink: Sink
) -> None:
    sink.fail_keys.update({"m-1": 422, "s-1": 422})
    routes = write_routes(tmp_path / "routes", sink.url, route_extra=FAST_RETRY)
    router = RouterProcess(routes, tmp_path / "data", env={"INTERLOCK_ADMIN_TOKEN": TOKEN})
    router.start()
    try:
        m1, m2, m3 = (post(router, f"m-{i}", "c1") for i in (1, 2, 3))
        s1, s2 = (post(router, f"s-{i}", "c3") for i in (1, 2))
        post(router, "o-1", "c2")
        eventually(
            lambda: held_by(router, m3) == m1 and held_by(router, s2) == s1,
            "the later messages of c1 and c3 held behind their dead letters",
        )
        assert held_by(router, m2) == m1
        router.kill()  # SIGKILL: no shutdown, nothing flushed

        sink.fail_keys.clear()
        router.start()
        letters = admin(router, "/dead-letters")["items"]
        assert sorted((d["id"], d["holds_key"]) for d in letters) == sorted(
            [(m1, True), (s1, True)]
        )
        m4 = post(router, "m-4", "c1")  # accepted after the restart: held too
        post(router, "o-2", "c2")
        eventually(lambda: held_by(router, m4) == m1, "m-4 held after the restart")
        eventually(lambda: {"o-1", "o-2"} <= set(applied(sink)), "the other key flows")
        assert not sent(sink) & {"m-2", "m-3", "m-4", "s-2"}  # held: never attempted
        assert "held behind" in cli(router, "trace", m2)

        assert "1 replayed" in cli(router, "dlq", "replay", m1)
        assert "1 skipped" in cli(router, "dlq", "skip", s1, "--reason", "refunded by hand")
        eventually(lambda: len(applied(sink)) == 7, "every held message delivered")
        delivered = applied(sink)
        assert [i for i in delivered if i.startswith("m-")] == ["m-1", "m-2", "m-3", "m-4"]
        assert [i for i in delivered if i.startswith("s-")] == ["s-2"]  # s-1 skipped
        assert admin(router, "/dead-letters")["items"] == []
        timeline = admin(router, f"/messages/{s1}")["timeline"]
        assert timeline[-1]["kind"] == "skipped" and "refunded by hand" in timeline[-1]["detail"]
        assert router.terminate() == 0
    finally:
        router.stop()
