"""Shopify Admin REST API simulator: inventory levels.

- ``POST /admin/api/{version}/inventory_levels/set.json``: ``{"location_id", "inventory_item_id",
  "available"}``; sets (upserts) one level, 200 ``{"inventory_level": {...}}``.
- ``POST /admin/api/{version}/inventory_levels/adjust.json``: ``available_adjustment`` instead.
- ``GET /admin/api/{version}/inventory_levels.json?inventory_item_ids=1,2&location_ids=3``.

Auth is the ``X-Shopify-Access-Token`` header. Every answer carries
``X-Shopify-Shop-Api-Call-Limit``; a 429 carries ``Retry-After``. A level's external id is
``{inventory_item_id}@{location_id}``; ``broken`` matches either id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from aiohttp import web
from typing_extensions import override

from simulators._base import Simulator, json_response, read_json
from simulators._store import Record

API = "/admin/api/{version:\\d{4}-\\d{2}|unstable}"
_MESSAGES = {
    "rate_limited": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
    "uninterrupted service.",
    "server_error": "Internal Server Error",
    "not_found": "Not Found",
}


class ShopifySimulator(Simulator):
    """Shopify Admin REST inventory levels."""

    name = "shopify"
    defaults: ClassVar[dict[str, str]] = {
        "access_token": "shpat_interlock",
        "shop": "interlock-demo.myshopify.com",
        "api_version": "2024-10",
    }

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/inventory_levels/set.json", self._set),
            web.post(API + "/inventory_levels/adjust.json", self._adjust),
            web.get(API + "/inventory_levels.json", self._list),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        text = _MESSAGES.get(code, message)
        errors: Any = {field: [text]} if field is not None else text
        return json_response({"errors": errors}, status=status, headers=self._limit_header())

    def _limit_header(self) -> dict[str, str]:
        return {"X-Shopify-Shop-Api-Call-Limit": f"{min(40, len(self._hits))}/40"}

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-Shopify-Access-Token") == self.credentials["access_token"]:
            return None
        return self.error(
            401,
            "unauthorized",
            "[API] Invalid API key or access token (unrecognized login or wrong password)",
        )

    def _level(self, record: Record) -> dict[str, Any]:
        item = record.data["inventory_item_id"]
        return {
            **record.data,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{item}?inventory_item_id={item}",
        }

    async def _ids(self, request: web.Request) -> tuple[dict[str, Any], int, int] | web.Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            return self.error(400, "bad_request", "Required parameter missing or invalid")
        ids: list[int] = []
        for field in ("location_id", "inventory_item_id"):
            value = body.get(field)
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                return self.error(
                    400, "bad_request", "Required parameter missing or invalid", field=field
                )
            ids.append(value)
        location, item = ids
        if self.is_broken(item) or self.is_broken(location):
            return json_response(
                {"errors": ["Inventory item does not have inventory tracking enabled"]},
                status=422,
                headers=self._limit_header(),
            )
        return body, location, item

    def _save(self, location: int, item: int, available: int) -> web.Response:
        data = {
            "inventory_item_id": item,
            "location_id": location,
            "available": available,
            "updated_at": dt.datetime.fromtimestamp(self.clock.time(), dt.UTC).isoformat(
                timespec="seconds"
            ),
        }
        record, _created = self.store.upsert("inventory_level", f"{item}@{location}", data)
        return json_response({"inventory_level": self._level(record)}, headers=self._limit_header())

    async def _set(self, request: web.Request) -> web.Response:
        checked = await self._ids(request)
        if isinstance(checked, web.Response):
            return checked
        body, location, item = checked
        available = body.get("available")
        if not isinstance(available, int) or isinstance(available, bool):
            return self.error(422, "invalid", "is required and must be an integer", "available")
        return self._save(location, item, available)

    async def _adjust(self, request: web.Request) -> web.Response:
        checked = await self._ids(request)
        if isinstance(checked, web.Response):
            return checked
        body, location, item = checked
        delta = body.get("available_adjustment")
        if not isinstance(delta, int) or isinstance(delta, bool):
            return self.error(
                422, "invalid", "is required and must be an integer", "available_adjustment"
            )
        current = self.store.find("inventory_level", f"{item}@{location}")
        return self._save(location, item, (current.data["available"] if current else 0) + delta)

    async def _list(self, request: web.Request) -> web.Response:
        def wanted(name: str) -> set[int] | None:
            raw = request.query.get(name)
            return None if raw is None else {int(x) for x in raw.split(",") if x.strip().isdigit()}

        items, locations = wanted("inventory_item_ids"), wanted("location_ids")
        if items is None and locations is None:
            return self.error(422, "invalid", "inventory_item_ids or location_ids is required")
        levels = [
            self._level(r)
            for r in self.store.all("inventory_level")
            if (items is None or r.data["inventory_item_id"] in items)
            and (locations is None or r.data["location_id"] in locations)
        ]
        return json_response({"inventory_levels": levels}, headers=self._limit_header())
