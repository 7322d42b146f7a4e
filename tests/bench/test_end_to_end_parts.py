"""The end-to-end scenario's pure parts: the schedule arithmetic, the sink's latency summary and
that the Node-RED flow's JavaScript transform produces what ``order_to_canonical`` does."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal

import pytest

from bench import payload
from bench.baselines import nodered, sink
from bench.scenarios import end_to_end


def test_expected_count_matches_the_schedule() -> None:
    # 100/s from t=10.0: requests 100..199 are due in [11.0, 12.0)
    assert end_to_end.expected_count(10.0, 100.0, 11.0, 12.0) == 100


def test_latency_summary_counts_window_and_duplicates() -> None:
    arrivals = [(0, 10.005), (100, 11.004), (100, 11.5), (150, 11.52), (250, 12.6)]
    out = sink.latency_summary(arrivals, 10.0, 100.0, 11.0, 12.0)
    assert out["delivered"] == 2
    assert out["duplicates"] == 1
    latency = out["latency_ms"]
    assert isinstance(latency, dict)
    assert 3.9 < latency["p50"] < 4.1
    assert 19.9 < latency["max"] < 20.1


def test_flow_points_at_the_target() -> None:
    nodes = nodered.flow("http://127.0.0.1:1/orders")
    assert [n["url"] for n in nodes if n["type"] == "http request"] == ["http://127.0.0.1:1/orders"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_transform_matches_python() -> None:
    func = next(n["func"] for n in nodered.flow("x") if n["type"] == "function")
    doc = json.loads(payload.body(7, "t"))
    script = (
        f"const f = new Function('msg', {json.dumps(func)});"
        f"const out = f({{payload: {json.dumps(doc)}}});"
        "process.stdout.write(JSON.stringify(out[0].payload));"
    )
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    js = json.loads(done.stdout)
    py = payload.order_to_canonical(payload.BenchOrder.model_validate(doc))
    assert js["order_id"] == py.order_id
    assert js["ship_to_country"] == py.ship_to_country
    assert Decimal(js["net_total"]) == py.net_total
    assert Decimal(js["tax_total"]) == py.tax_total
    assert [Decimal(line["tax_amount"]) for line in js["lines"]] == [
        line.tax_amount for line in py.lines
    ]
