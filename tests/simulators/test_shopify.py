"""Shopify simulator: access-token auth, inventory_levels/set upserts, error shapes."""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import Harness, HarnessFactory, Reply, error_shape_ok, reply

API = "/admin/api/2024-10"


async def call(h: Harness, method: str, path: str, body: Any = None, token: str = "") -> Reply:
    headers = {"X-Shopify-Access-Token": token or h.config["access_token"]}
    return await reply(
        await h.http.request(method, f"{h.url}{API}{path}", json=body, headers=headers)
    )


async def test_access_token_is_required(harness: HarnessFactory) -> None:
    h = await harness("shopify")
    status, body, _ = await call(h, "POST", "/inventory_levels/set.json", {}, token="shpat_bad")
    assert status == 401 and error_shape_ok("shopify", 401, body)
    assert "Invalid API key or access token" in body["errors"]


async def test_set_twice_gives_one_level(harness: HarnessFactory) -> None:
    h = await harness("shopify")
    level = {"location_id": 10, "inventory_item_id": 20, "available": 5}
    status, body, headers = await call(h, "POST", "/inventory_levels/set.json", level)
    assert status == 200 and body["inventory_level"]["available"] == 5
    assert headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")
    status, body, _ = await call(h, "POST", "/inventory_levels/set.json", {**level, "available": 7})
    assert status == 200
    status, body, _ = await call(
        h,
        "POST",
        "/inventory_levels/adjust.json",
        {"location_id": 10, "inventory_item_id": 20, "available_adjustment": -2},
    )
    assert status == 200 and body["inventory_level"]["available"] == 5
    (record,) = (await h.state())["inventory_level"]
    assert record["external_id"] == "20@10" and record["data"]["available"] == 5
    _, listed, _ = await call(h, "GET", "/inventory_levels.json?inventory_item_ids=20,21")
    assert [lv["available"] for lv in listed["inventory_levels"]] == [5]


async def test_invalid_and_broken_levels(harness: HarnessFactory) -> None:
    h = await harness("shopify", faults={"broken": ["99"]})
    status, body, _ = await call(h, "POST", "/inventory_levels/set.json", {"location_id": 1})
    assert status == 400 and "inventory_item_id" in body["errors"]
    status, body, _ = await call(
        h, "POST", "/inventory_levels/set.json", {"location_id": 1, "inventory_item_id": 2}
    )
    assert status == 422 and body["errors"]["available"]
    status, body, _ = await call(
        h,
        "POST",
        "/inventory_levels/set.json",
        {"location_id": 1, "inventory_item_id": 99, "available": 1},
    )
    assert status == 422 and error_shape_ok("shopify", 422, body)
    assert await h.state() == {}
