"""The /metrics scrape is valid exposition text: promtool accepts it, one HELP/TYPE per family."""

from __future__ import annotations

from pathlib import Path

import orjson
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from router.http.ingress import create_app
from router.testing import Sink
from tests.conftest import EngineFactory
from tests.support.promtool import check_metrics, require_promtool
from tests.support.routes import write_routes

JSON = {"Content-Type": "application/json"}


def two_connectors(folder: Path, sink: Sink) -> Path:
    """``orders`` to connector ``sink`` and ``copies`` to ``sink2``: two connector registries."""
    write_routes(folder, sink.url)
    (folder / "connectors.yaml").write_text(
        f"sink:\n  kind: http\n  base_url: {sink.url}\n  timeout: 5s\n"
        f"sink2:\n  kind: http\n  base_url: {sink.url}\n  timeout: 5s\n"
    )
    (folder / "copies.yaml").write_text(
        "id: copies\nfrom: {source: shop, type: order.created}\n"
        "steps:\n  - to: {connector: sink2, path: /copies}\n"
    )
    return folder


async def scrape_after_traffic(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> str:
    engine = await make_engine(two_connectors(tmp_path / "routes", sink))
    async with TestClient(TestServer(create_app(engine))) as client:
        for n in range(3):
            body = orjson.dumps({"id": f"o-{n}", "type": "order.created", "customer": "c1"})
            answer = await client.post("/webhooks/shop", data=body, headers=JSON)
            assert answer.status == 202
        await engine.wait_idle()
        assert len(sink.calls) == 6
        return await (await client.get("/metrics")).text()


def families_named_once(text: str) -> dict[str, list[str]]:
    """Every ``# HELP`` and ``# TYPE`` line by metric name: each must appear exactly once."""
    seen: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            seen.setdefault(line.split(" ")[2], []).append(line.split(" ")[1])
    return seen


async def test_one_help_and_type_per_family_across_connectors(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    text = await scrape_after_traffic(tmp_path, sink, make_engine)
    seen = families_named_once(text)
    repeated = {name: kinds for name, kinds in seen.items() if sorted(kinds) != ["HELP", "TYPE"]}
    assert not repeated
    families = {f.name: f for f in text_string_to_metric_families(text)}
    calls = families["interlock_connector_calls"]
    assert {s.labels["connector"] for s in calls.samples} == {"sink", "sink2"}
    assert 'interlock_ingress_requests_total{source="shop",status="202"} 3.0' in text


async def test_promtool_accepts_a_live_scrape(
    tmp_path: Path, sink: Sink, make_engine: EngineFactory
) -> None:
    promtool = require_promtool()
    text = await scrape_after_traffic(tmp_path, sink, make_engine)
    done = await check_metrics(promtool, text)
    # promtool exits 1 for lint findings too; a parse error or a duplicate family is an error.
    assert "error while linting" not in done.stderr + done.stdout, done.stderr + done.stdout
    assert done.stdout + done.stderr == "", done.stdout + done.stderr
