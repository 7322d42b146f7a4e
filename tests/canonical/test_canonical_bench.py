"""Smoke test of bench/mapping_cost.py: it runs and reports positive figures (no timing asserts)."""

from __future__ import annotations

from bench.mapping_cost import run


def test_mapping_cost_reports_every_stage() -> None:
    figures = run(n=50)
    assert set(figures) == {
        "payload_bytes",
        "orjson_parse_us",
        "validate_us",
        "inbound_us",
        "chain_us",
        "codec_us",
    }
    assert all(value > 0 for value in figures.values())
