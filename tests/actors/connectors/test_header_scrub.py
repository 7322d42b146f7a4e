"""Static header values (a connector's ``headers:``, a route's ``to.headers``) never leave in
a dead letter's reason or a log line, even when the target echoes them back."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import orjson
from aiohttp import web
from structlog.testing import capture_logs

from tests.actors.connectors._support import Target
from tests.conftest import EngineFactory

CONNECTOR_VALUE = "conn-static-KEY-0123456789"
ROUTE_VALUE = "route-static-KEY-9876543210"
SHORT = "v1"  # under 8 characters: an ordinary word, left as it is


def _routes(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        dedent(
            f"""\
            echo:
              kind: http
              base_url: {url}
              timeout: 5s
              headers: {{X-Api-Key: {CONNECTOR_VALUE}, X-Version: {SHORT}}}
            """
        )
    )
    (folder / "orders.yaml").write_text(
        dedent(
            f"""\
            id: orders
            from: {{source: shop, type: order.created}}
            steps:
              - to:
                  connector: echo
                  path: /orders
                  headers: {{X-Partner-Token: {ROUTE_VALUE}}}
            """
        )
    )
    return folder


async def test_an_echoing_target_leaks_no_static_header_into_the_dead_letter_or_the_log(
    tmp_path: Path, target: Target, make_engine: EngineFactory
) -> None:
    async def echo(request: web.Request, _body: bytes) -> web.Response:
        echoed = {k: request.headers[k] for k in ("X-Api-Key", "X-Partner-Token", "X-Version")}
        return web.json_response({"message": f"bad request, got {echoed}"}, status=400)

    target.on("/orders", echo)
    with capture_logs() as logs:
        engine = await make_engine(_routes(tmp_path / "routes", target.url))
        body = orjson.dumps({"id": "evt-1", "type": "order.created", "customer": "c1"})
        await engine.submit("shop", body)
        await engine.wait_idle(10)
    [seen] = target.calls
    assert seen.headers["X-Api-Key"] == CONNECTOR_VALUE  # both were sent
    assert seen.headers["X-Partner-Token"] == ROUTE_VALUE
    assert engine.journal is not None
    [(_, dead)] = engine.journal.dead_letters()
    reason = str(dead)
    assert "[redacted]" in reason
    for value in (CONNECTOR_VALUE, ROUTE_VALUE):
        assert value not in reason
        assert value not in repr(logs)
    assert f"'X-Version': '{SHORT}'" in reason  # short values are not secrets: kept readable
    assert any("[redacted]" in repr(entry) for entry in logs)
