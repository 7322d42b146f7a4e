"""A generic webhook target: ``POST|PUT /{anything}`` stores the JSON body once per key.

It stands in for an entitlement-provisioning service and a 3PL fulfilment API. A repeated
``Idempotency-Key`` replays the first 2xx answer (``Idempotent-Replayed: true``) and never stores a
second record, whatever the body. The answer status is configurable (``status=``, or at run time
``POST /_sim/status {"status": 202}``). With a non-empty ``bearer_token`` the target requires
``Authorization: Bearer <token>``. A record's type is its path (``entitlements``), its external id
the body's ``external_id`` or ``id``, else the idempotency key; ``broken`` matches any of them and
answers 422. Errors are ``{"error": {"code", "message"}}``.

``GET /{type}/{external_id}`` reads a record and ``DELETE /{type}/{external_id}`` revokes it (a
workflow's compensation: de-provision an entitlement, cancel a shipment). The type is the path up
to the last segment (``DELETE /3pl/shipments/S-1``). Revoking keeps the record, marked ``status:
revoked`` with ``revoked_at``, so a test can still count it and see it was undone; a second DELETE
answers the same record unchanged, as a retried compensation must. Both answer 200 with
``{"id", "type", "external_id", "status", "revoked_at", "body"}``, or 404 when nothing was stored.
A configured failure status (300 or more) fails a DELETE too, changing nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from aiohttp import web
from typing_extensions import override

from simulators._auth import bearer_token
from simulators._base import Simulator, json_response, read_json
from simulators._store import Record


class WebhookTargetSimulator(Simulator):
    """A JSON webhook receiver with ``Idempotency-Key`` dedupe and a configurable status."""

    name = "webhook"
    defaults: ClassVar[dict[str, str]] = {"bearer_token": ""}

    def __init__(self, *, status: int = 200, **settings: Any) -> None:
        super().__init__(**settings)
        self.status = status

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sim/status", self._set_status),
            web.post("/{path:.+}", self._receive),
            web.put("/{path:.+}", self._receive),
            web.get("/{type:.+}/{external_id:[^/]+}", self._read),
            web.delete("/{type:.+}/{external_id:[^/]+}", self._revoke),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        body: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            body["field"] = field
        return json_response({"error": body}, status=status)

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        expected = self.credentials["bearer_token"]
        if not expected or bearer_token(request) == expected:
            return None
        return self.error(401, "unauthorized", "A valid bearer token is required")

    async def _set_status(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, int) or not 200 <= status < 600:
            return json_response({"error": "status must be an HTTP status code"}, status=400)
        self.status = status
        return json_response({"status": status})

    async def _receive(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        payload = await read_json(request)
        type_ = request.match_info["path"].strip("/")

        async def run() -> web.Response:
            if not isinstance(payload, dict):
                return self.error(400, "invalid_json", "The body must be a JSON object")
            ext = payload.get("external_id") or payload.get("id") or key
            if self.is_broken(ext) or self.is_broken(key):
                return self.error(422, "validation_error", f"Record {ext} was rejected", "id")
            if self.status >= 300:
                return self.error(self.status, "configured_failure", "Configured to fail")
            stored = {"body": payload, "idempotency_key": key, "status": "active"}
            record = self.store.create(type_, stored, None if ext is None else str(ext))
            return web.Response(
                status=self.status,
                body=orjson.dumps({"id": record.id, "received": True}),
                content_type="application/json",
            )

        return await self.idempotent(key, "", run)

    def _render(self, record: Record) -> dict[str, Any]:
        return {
            "id": record.id,
            "type": record.type,
            "external_id": record.external_id,
            "status": record.data.get("status", "active"),
            "revoked_at": record.data.get("revoked_at"),
            "body": record.data.get("body"),
        }

    def _stored(self, request: web.Request) -> Record | web.Response:
        type_, ext = request.match_info["type"].strip("/"), request.match_info["external_id"]
        record = self.store.find(type_, ext)
        if record is None:
            return self.error(404, "not_found", f"No {type_} record with external id {ext}")
        return record

    async def _read(self, request: web.Request) -> web.Response:
        record = self._stored(request)
        if isinstance(record, web.Response):
            return record
        return json_response(self._render(record))

    async def _revoke(self, request: web.Request) -> web.Response:
        record = self._stored(request)
        if isinstance(record, web.Response):
            return record
        if self.status >= 300:
            return self.error(self.status, "configured_failure", "Configured to fail")
        if record.data.get("status") != "revoked":  # the first DELETE wins; repeats change nothing
            self.store.update(record, {"status": "revoked", "revoked_at": self.clock.time()})
        return json_response(self._render(record))
