"""Zendesk Support API simulator: organizations (create or update) and tickets.

- ``POST|PUT /api/v2/organizations/create_or_update.json``: ``{"organization": {...}}`` matched
  on ``external_id``, else on ``name``; 201 when created, 200 when updated.
- ``GET /api/v2/organizations/{id}.json``; ``GET /api/v2/organizations[.json]?page[size]=N``
  with ``page[after]`` / ``page[before]``: cursor pagination (the simulator keeps no users).
- ``POST /api/v2/tickets.json``: ``{"ticket": {...}}`` or a bare ticket; 201. Honours
  ``Idempotency-Key`` for 2 hours after its first use, on the simulator's clock (a replay carries
  ``x-idempotency-lookup: hit``; the same key with another body is a 400
  ``IdempotentRequestError``; after 2 hours the key is forgotten and the request makes a second
  ticket). ``external_id`` is not unique, as on Zendesk.
- ``GET /api/v2/tickets/{id}.json``, ``GET /api/v2/tickets.json?external_id=...``.

Auth is basic ``{email}/token:{api_token}``. Validation errors are 422
``{"error": "RecordInvalid", "description": "Record validation errors", "details": {...}}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlencode

from aiohttp import web
from typing_extensions import override

from simulators._auth import basic_credentials
from simulators._base import Simulator, json_response, read_json
from simulators._paging import PagingError, around, bounded_int, decode_cursor, encode_cursor
from simulators._store import Record

API = "/api/v2"
_CODES = {
    "idempotency_error": "IdempotentRequestError",
    "rate_limited": "APIRateLimitExceeded",
    "not_found": "RecordNotFound",
    "server_error": "InternalError",
    "service_unavailable": "ServiceUnavailable",
    "timeout": "InternalError",
}


def _stamp(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ZendeskSimulator(Simulator):
    """Zendesk Support API v2 for organizations and tickets."""

    name = "zendesk"
    defaults: ClassVar[dict[str, str]] = {
        "email": "agent@interlock.test",
        "api_token": "zd_token_interlock",
        "subdomain": "interlock",
    }
    idempotency_window = 2 * 3600.0  # Zendesk: ticket idempotency keys expire after 2 hours

    def _now(self) -> str:
        return _stamp(self.clock.time())

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/organizations/create_or_update.json", self._create_or_update),
            web.put(API + "/organizations/create_or_update.json", self._create_or_update),
            web.get(API + r"/organizations/{id:\d+}.json", self._get),
            web.get(API + "/organizations.json", self._list_organizations),
            web.get(API + "/organizations", self._list_organizations),
            web.post(API + "/tickets.json", self._create_ticket),
            web.get(API + "/tickets.json", self._list_tickets),
            web.get(API + r"/tickets/{id:\d+}.json", self._get),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        if status == 401:
            return json_response({"error": "Couldn't authenticate you"}, status=401)
        body: dict[str, Any] = {"error": _CODES.get(code, code), "description": message}
        if field is not None:
            body["details"] = {field: [{"description": message, "error": "InvalidValue"}]}
        return json_response(body, status=status)

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        c = self.credentials
        if basic_credentials(request) == (f"{c['email']}/token", c["api_token"]):
            return None
        return self.error(401, "Unauthorized", "Couldn't authenticate you")

    def _invalid(self, field: str, error: str, description: str) -> web.Response:
        details = {field: [{"description": description, "error": error}]}
        body = {"error": "RecordInvalid", "description": "Record validation errors"}
        return json_response({**body, "details": details}, status=422)

    def _object(self, record: Record) -> dict[str, Any]:
        kind = "organizations" if record.type == "organization" else "tickets"
        return {"url": f"{API}/{kind}/{record.id}.json", **record.data, "id": int(record.id)}

    async def _payload(self, request: web.Request, key: str) -> dict[str, Any] | None:
        body = await read_json(request)
        if isinstance(body, dict) and isinstance(body.get(key), dict):
            return dict(body[key])
        return dict(body) if isinstance(body, dict) and key not in body else None

    async def _create_or_update(self, request: web.Request) -> web.Response:
        org = await self._payload(request, "organization")
        if org is None:
            return self.error(400, "InvalidEndpoint", "Expected an organization object")
        ext, name = org.get("external_id"), org.get("name")
        if self.is_broken(ext) or self.is_broken(name):
            return self._invalid("name", "InvalidValue", f"Name: {name} is invalid")
        record = self.store.find("organization", str(ext)) if ext else None
        if record is None and name:
            found = [r for r in self.store.all("organization") if r.data.get("name") == name]
            record = found[0] if found else None
        if record is not None:
            self.store.update(record, {**org, "updated_at": self._now()})
            if ext and record.external_id != str(ext):
                self.store.set_external_id(record, str(ext))
            return json_response({"organization": self._object(record)})
        if not name:
            return self._invalid("name", "BlankValue", "Name: cannot be blank")
        data = {"created_at": self._now(), "updated_at": self._now(), **org}
        record = self.store.create("organization", data, None if ext is None else str(ext))
        return json_response({"organization": self._object(record)}, status=201)

    async def _create_ticket(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ticket = await self._payload(request, "ticket")
        key = request.headers.get("Idempotency-Key")

        async def run() -> web.Response:
            if ticket is None:
                return self.error(400, "InvalidEndpoint", "Expected a ticket object")
            if self.is_broken(ticket.get("external_id")):
                return self._invalid("base", "InvalidValue", "Ticket failed a business rule")
            comment = ticket.pop("comment", None) or {}
            text = ticket.get("description") or (comment.get("body") or comment.get("html_body"))
            if not text:
                return self._invalid("description", "BlankValue", "Description: cannot be blank")
            org_id = ticket.get("organization_id")
            if org_id is not None and self.store.get("organization", str(org_id)) is None:
                return self._invalid("organization_id", "InvalidValue", "Organization is invalid")
            data = {
                "status": "new",
                "priority": None,
                "type": None,
                "tags": [],
                **ticket,
                "description": text,
                "created_at": self._now(),
                "updated_at": self._now(),
            }
            ext = ticket.get("external_id")
            record = self.store.create("ticket", data, None if ext is None else str(ext))
            return json_response({"ticket": self._object(record)}, status=201)

        fingerprint = hashlib.sha256(raw).hexdigest()
        response = await self.idempotent(key, fingerprint, run)
        if response.headers.pop("Idempotent-Replayed", None):
            response.headers["x-idempotency-lookup"] = "hit"
        elif key:
            response.headers["x-idempotency-lookup"] = "miss"
        return response

    async def _list_tickets(self, request: web.Request) -> web.Response:
        ext = request.query.get("external_id")
        rows = [r for r in self.store.all("ticket") if ext is None or r.external_id == ext]
        tickets = [self._object(r) for r in rows]
        return json_response({"tickets": tickets, "count": len(tickets), "next_page": None})

    async def _get(self, request: web.Request) -> web.Response:
        kind = "organization" if "/organizations/" in request.path else "ticket"
        record = self.store.get(kind, request.match_info["id"])
        if record is None:
            return self.error(404, "RecordNotFound", "Not found")
        return json_response({kind: self._object(record)})

    async def _list_organizations(self, request: web.Request) -> web.Response:
        """Cursor pagination, shaped as Zendesk's ``meta`` and ``links``.

        ``page[size]`` is 1..100 (default 100); ``page[after]`` / ``page[before]`` take the
        opaque ``after_cursor`` / ``before_cursor`` of an earlier page (base64: a client must
        URL-encode it, or a ``+`` reads as a space). A page with records carries both cursors
        and both links even at the end, so, as Zendesk's docs say, stop on ``meta.has_more``;
        an empty page has nulls. A bad size or cursor is a 400 ``InvalidPaginationParameter``.
        Real Zendesk falls back to offset pagination when no ``page[...]`` parameter is given;
        the simulator always answers with cursors. Order is by id (creation order); a page costs
        O(size).
        """
        query, kind = request.query, "organization"
        try:
            size = bounded_int(query.get("page[size]"), 100, 1, 100, "page[size]")
            after = _cursor_id(query.get("page[after]"), "page[after]")
            before = _cursor_id(query.get("page[before]"), "page[before]")
            rows, position = self.store.ordered(kind), partial(self.store.position, kind)
            window = around(rows, position, after, before, size)
        except PagingError as exc:
            # around() names an unknown record "after"/"before": a cursor for no organization.
            name = {"after": "page[after]", "before": "page[before]"}.get(str(exc.param), exc.param)
            message = f"Invalid {name}: {exc.message}"
            return self.error(400, "InvalidPaginationParameter", message, field=name)
        records = window.records
        first = encode_cursor(records[0].id) if records else None
        last = encode_cursor(records[-1].id) if records else None
        link = f"{request.url.origin()}{request.path}?"
        next_link = link + urlencode({"page[size]": size, "page[after]": last}) if last else None
        prev_link = link + urlencode({"page[size]": size, "page[before]": first}) if first else None
        return json_response(
            {
                "organizations": [self._object(r) for r in records],
                "meta": {"has_more": window.more, "after_cursor": last, "before_cursor": first},
                "links": {"next": next_link, "prev": prev_link},
            }
        )


def _cursor_id(token: str | None, param: str) -> str | None:
    """The record id inside a ``page[after]``/``page[before]`` cursor (None when not given)."""
    if token is None:
        return None
    id_ = decode_cursor(token)
    if id_ is None:
        raise PagingError("it is not a cursor this API returned", param)
    return id_
