"""Dynamics 365 / Dataverse Web API (OData v4) simulator with an Entra ID token endpoint.

- ``POST /{tenant}/oauth2/v2.0/token``: client credentials; short-lived bearer tokens.
- ``PATCH /api/data/v9.2/{set}({altkey}='{value}')``: upsert by alternate key, honouring
  ``If-Match: *`` (update only, 404) and ``If-None-Match: *`` (create only, 412); also by GUID.
- ``POST /api/data/v9.2/{set}``: create (``salesorders`` needs ``customerid_account@odata.bind``).
- ``GET /api/data/v9.2/{set}({key})`` and ``GET /api/data/v9.2/{set}?$filter=f eq 'v' and ...``,
  paged by ``Prefer: odata.maxpagesize=N`` and ``@odata.nextLink`` (a ``$skiptoken`` cookie).

Inventory availability is *simulated* as the entity set ``msdyn_inventoryonhands`` (fields
``msdyn_itemnumber``, ``msdyn_warehouse``, ``msdyn_availablequantity``), read with ``$filter`` and
preloaded through ``POST /_sim/seed``; the real product exposes stock through the Supply Chain
inventory APIs instead. Writes answer 204 + ``OData-EntityId``; with ``Prefer:
return=representation`` they answer 201 (created) or 200 (updated) with the entity.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar
from urllib.parse import quote

from aiohttp import web
from typing_extensions import override

from simulators._auth import bearer_token
from simulators._base import Simulator, json_response, read_json
from simulators._paging import forward, paging_cookie, read_paging_cookie
from simulators._store import Record

API = "/api/data/v9.2"
KEY_COLUMN = "ilk_externalid"
# entity set -> (primary id attribute, alternate keys; the first is the upsert index)
ENTITY_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accounts": ("accountid", (KEY_COLUMN, "accountnumber")),
    "contacts": ("contactid", (KEY_COLUMN, "emailaddress1")),
    "salesorders": ("salesorderid", (KEY_COLUMN, "ordernumber")),
    "invoices": ("invoiceid", (KEY_COLUMN, "invoicenumber")),
    "products": ("productid", ("productnumber",)),
    "transactioncurrencies": ("transactioncurrencyid", ("isocurrencycode",)),
    "msdyn_inventoryonhands": ("msdyn_inventoryonhandid", ("msdyn_itemnumber",)),
}
REFERENCE_SETS = frozenset({"products", "transactioncurrencies"})
"""Binds to these are checked only once the set holds records (seed them to make them strict)."""
DEFAULT_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF", "SEK", "NOK", "DKK")
_TARGET = re.compile(r"^(?P<set>\w+)(?:\((?P<key>.*)\))?$")
_ALT_KEY = re.compile(r"^(?P<name>\w+)=(?:'(?P<str>(?:[^']|'')*)'|(?P<num>-?[\d.]+))$")
_BIND = re.compile(r"^/?(?P<set>\w+)\((?P<key>.*)\)$")
_CLAUSE = re.compile(r"^\s*(?P<field>\w+)\s+eq\s+(?:'(?P<str>(?:[^']|'')*)'|(?P<num>-?[\d.]+))\s*$")
_MAX_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")
MAX_PAGE_SIZE = 5000
"""Dataverse's default and largest page: ``Prefer: odata.maxpagesize`` can only lower it."""
_SAFE = "$,'()=/:"
_CODES = {
    "rate_limited": "0x80072322",
    "server_error": "0x80040216",
    "service_unavailable": "0x80040216",
    "timeout": "0x80040216",
    "not_found": "0x8006088a",
}
_MESSAGES = {
    "rate_limited": "Number of requests exceeded the limit of 6000 over time window of 300 "
    "seconds.",
}


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    return json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


class DynamicsSimulator(Simulator):
    """Dataverse Web API v9.2 with alternate-key upserts and OAuth2 client credentials."""

    name = "dynamics"
    token_prefix = "eyJ0eXAiOiJKV1QiLCJzaW0iOiJkeW5hbWljcyJ9."  # noqa: S105 - a prefix
    defaults: ClassVar[dict[str, str]] = {
        "tenant_id": "interlock-tenant",
        "client_id": "interlock-client",
        "client_secret": "dyn_secret_interlock",
    }

    @override
    def new_id(self, type_: str, n: int) -> str:
        return str(uuid.uuid4())

    @override
    def config(self, base_url: str) -> dict[str, str]:
        return {
            **super().config(base_url),
            "token_url": f"{base_url}/{self.credentials['tenant_id']}/oauth2/v2.0/token",
            "scope": f"{base_url}/.default",
            "api_url": f"{base_url}{API}",
        }

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/{tenant}/oauth2/v2.0/token", self._token),
            web.patch(API + "/{target}", self._patch),
            web.post(API + "/{target}", self._post),
            web.get(API + "/{target}", self._get),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        body = {"error": {"code": _CODES.get(code, code), "message": _MESSAGES.get(code, message)}}
        response = json_response(body, status=status, headers={"OData-Version": "4.0"})
        if status == 401:
            response.headers["WWW-Authenticate"] = (
                f'Bearer error="invalid_token", error_description="{message}"'
            )
        return response

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        if not request.path.startswith(API):
            return None
        state = self.tokens.check(bearer_token(request))
        if state == "ok":
            return None
        message = "The access token expired" if state == "expired" else "Invalid access token"
        return self.error(401, "", message)

    # --- token ----------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        c = self.credentials
        if request.match_info["tenant"] != c["tenant_id"]:
            return _aad_error(400, "invalid_request", 90002, "Tenant not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400, "unsupported_grant_type", 70003, "The grant type is unsupported."
            )
        if form.get("client_id") != c["client_id"]:
            return _aad_error(400, "unauthorized_client", 700016, "Application not found.")
        if form.get("client_secret") != c["client_secret"]:
            return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        token, ttl = self.tokens.issue(c["client_id"])
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": round(ttl),
                "ext_expires_in": round(ttl),
                "access_token": token,
            }
        )

    # --- Web API --------------------------------------------------------------------------------

    def _parse(self, target: str) -> tuple[str, str | None, str | None] | web.Response:
        """(entity set, key attribute or None for a GUID, key value) from ``set(key)``."""
        m = _TARGET.match(target)
        if m is None or m["set"] not in ENTITY_SETS:
            name = m["set"] if m else target
            return self.error(404, "0x8006088a", f"Resource not found for the segment '{name}'.")
        set_, key = m["set"], m["key"]
        if key is None:
            return set_, None, None
        alt = _ALT_KEY.match(key)
        if alt is None:
            return set_, None, key.strip()
        if alt["name"] not in ENTITY_SETS[set_][1]:
            return self.error(
                400, "0x80060888", f"Invalid alternate key '{alt['name']}' for entity set {set_}."
            )
        value = alt["num"] if alt["str"] is None else alt["str"].replace("''", "'")
        return set_, alt["name"], value

    def _find(self, set_: str, key: str | None, value: str) -> Record | None:
        if key is None:
            return self.store.get(set_, value)
        if key == ENTITY_SETS[set_][1][0]:
            return self.store.find(set_, value)
        return next((r for r in self.store.all(set_) if str(r.data.get(key)) == value), None)

    def _existing(self, set_: str, data: dict[str, Any]) -> Record | None:
        """A record sharing any alternate-key value with ``data``."""
        for key in ENTITY_SETS[set_][1]:
            if data.get(key) is not None:
                found = self._find(set_, key, str(data[key]))
                if found is not None:
                    return found
        return None

    def _ext(self, set_: str, data: dict[str, Any]) -> str | None:
        value = data.get(ENTITY_SETS[set_][1][0])
        return None if value is None else str(value)

    @override
    def seed_defaults(self) -> None:
        for code in DEFAULT_CURRENCIES:
            self.store.create("transactioncurrencies", {"isocurrencycode": code}, code)

    def _entity(self, request: web.Request, record: Record) -> dict[str, Any]:
        id_attr = ENTITY_SETS[record.type][0]
        return {
            "@odata.context": f"{request.url.origin()}{API}/$metadata#{record.type}/$entity",
            "@odata.etag": f'W/"{record.version}"',
            **record.data,
            id_attr: record.id,
        }

    def _written(self, request: web.Request, record: Record, created: bool) -> web.Response:
        entity_id = f"{request.url.origin()}{API}/{record.type}({record.id})"
        headers = {"OData-Version": "4.0", "OData-EntityId": entity_id}
        if "return=representation" in request.headers.get("Prefer", ""):
            status = 201 if created else 200
            return json_response(self._entity(request, record), status=status, headers=headers)
        return web.Response(status=204, headers=headers)

    def _validate(self, set_: str, data: dict[str, Any]) -> web.Response | None:
        broken = [data[k] for k in ENTITY_SETS[set_][1] if self.is_broken(data.get(k))]
        if broken:
            return self.error(
                400,
                "0x80040203",
                f"A validation error occurred. The value of 'name' on record {broken[0]} is "
                "not valid.",
            )
        for attr, ref in data.items():
            if not attr.endswith("@odata.bind"):
                continue
            bind = _BIND.match(str(ref))
            parsed = self._parse(f"{bind['set']}({bind['key']})") if bind else None
            if not isinstance(parsed, tuple) or parsed[2] is None:
                return self.error(400, "0x80060888", f"Invalid reference {ref!r} in {attr}.")
            lenient = parsed[0] in REFERENCE_SETS and not self.store.all(parsed[0])
            if not lenient and self._find(parsed[0], parsed[1], parsed[2]) is None:
                return self.error(
                    404, "0x80040217", f"{parsed[0]} With Ids = {parsed[2]} Does Not Exist"
                )
        if set_ == "salesorders" and "customerid_account@odata.bind" not in data:
            return self.error(
                400, "0x80040203", "Attribute 'customerid' cannot be NULL.", field="customerid"
            )
        return None

    async def _patch(self, request: web.Request) -> web.Response:  # noqa: PLR0911
        parsed = self._parse(request.match_info["target"])
        if isinstance(parsed, web.Response):
            return parsed
        set_, key, value = parsed
        data = await read_json(request)
        if value is None or not isinstance(data, dict):
            return self.error(400, "0x80048d19", "A key and a JSON object body are required.")
        record = self._find(set_, key, value)
        if record is None and request.headers.get("If-Match") == "*":
            return self.error(
                404,
                "0x80040217",
                f"A record with the specified key values does not exist in {set_} entity",
            )
        if record is not None and request.headers.get("If-None-Match") == "*":
            return self.error(
                412, "0x80040237", "A record with matching key values already exists."
            )
        denied = self._validate(
            set_, {**(record.data if record else {}), **data, **({key: value} if key else {})}
        )
        if denied is not None:
            return denied
        if record is not None:
            return self._written(request, self.store.update(record, data), created=False)
        if key is None:
            record = self.store.create(set_, data, self._ext(set_, data), id_=value)
        else:
            data = {**data, key: value}
            record = self.store.create(set_, data, self._ext(set_, data))
        return self._written(request, record, created=True)

    async def _post(self, request: web.Request) -> web.Response:
        parsed = self._parse(request.match_info["target"])
        if isinstance(parsed, web.Response):
            return parsed
        set_, _key, value = parsed
        data = await read_json(request)
        if value is not None or not isinstance(data, dict):
            return self.error(400, "0x80048d19", "POST takes an entity set and a JSON object.")
        denied = self._validate(set_, data)
        if denied is not None:
            return denied
        if self._existing(set_, data) is not None:
            return self.error(
                412, "0x80040237", "A record with matching key values already exists."
            )
        record = self.store.create(set_, data, self._ext(set_, data))
        return self._written(request, record, created=True)

    async def _get(self, request: web.Request) -> web.Response:
        parsed = self._parse(request.match_info["target"])
        if isinstance(parsed, web.Response):
            return parsed
        set_, key, value = parsed
        if value is not None:
            record = self._find(set_, key, value)
            if record is None:
                return self.error(404, "0x80040217", f"{set_} With Ids = {value} Does Not Exist")
            return json_response(self._entity(request, record), headers={"OData-Version": "4.0"})
        return self._collection(request, set_)

    def _collection(self, request: web.Request, set_: str) -> web.Response:
        """``GET /{set}``: one page of an entity set, paged as Dataverse pages.

        ``Prefer: odata.maxpagesize=N`` sets the page size (default and most 5000; the answer
        says ``Preference-Applied: odata.maxpagesize=N``). While more rows remain the answer
        carries ``@odata.nextLink``: this URL with ``$select``/``$filter`` kept and a
        ``$skiptoken`` paging cookie naming the page's first and last primary keys, so the next
        page resumes after the last one (O(page) without a filter). Dataverse has no ``$skip``
        (400), and ``$top`` limits the whole answer, without paging. A bad ``$skiptoken`` or an
        unsupported ``$filter`` is a 400. Rows come in insertion order (Dataverse: by key).
        """
        query = request.query
        clauses = self._filter(query.get("$filter", ""))
        if isinstance(clauses, web.Response):
            return clauses
        if "$skip" in query:
            return self.error(400, "0x80060888", "The query parameter $skip is not supported")
        id_attr, headers = ENTITY_SETS[set_][0], {"OData-Version": "4.0"}
        asked = _MAX_PAGE.search(request.headers.get("Prefer", ""))
        size = min(MAX_PAGE_SIZE, max(1, int(asked[1]))) if asked else MAX_PAGE_SIZE
        if asked:
            headers["Preference-Applied"] = f"odata.maxpagesize={size}"
        page, start, token = 1, 0, query.get("$skiptoken")
        if token is not None:
            cookie = read_paging_cookie(token, id_attr)
            at = None if cookie is None else self.store.position(set_, cookie[1])
            if cookie is None or at is None:
                return self.error(400, "0x80060888", "The $skiptoken value is not valid.")
            page, start = cookie[0], at + 1
        top = query.get("$top")
        if top and top.isdigit():
            size, start = int(top), 0
        match = (lambda r: all(str(r.data.get(f)) == v for f, v in clauses)) if clauses else None
        window = forward(self.store.ordered(set_), start, size, match)
        select = query.get("$select")
        keep = {c.strip() for c in select.split(",")} | {id_attr} if select else None
        body: dict[str, Any] = {
            "@odata.context": f"{request.url.origin()}{API}/$metadata#{set_}",
            "value": [self._row(r, keep) for r in window.records],
        }
        if window.more and not (top and top.isdigit()):
            token = paging_cookie(page, id_attr, window.records[0].id, window.records[-1].id)
            kept = [
                f"{k}={quote(query[k], safe=_SAFE)}" for k in ("$select", "$filter") if k in query
            ]
            link = "&".join([*kept, f"$skiptoken={quote(token, safe='/=')}"])
            body["@odata.nextLink"] = f"{request.url.origin()}{request.path}?{link}"
        return json_response(body, headers=headers)

    def _row(self, record: Record, keep: set[str] | None) -> dict[str, Any]:
        """A collection row: its etag, (the selected) fields and primary key, no context."""
        row = {"@odata.etag": f'W/"{record.version}"', **record.data}
        row[ENTITY_SETS[record.type][0]] = record.id
        return (
            row
            if keep is None
            else {k: v for k, v in row.items() if k in keep or k.startswith("@")}
        )

    def _filter(self, expression: str) -> list[tuple[str, str]] | web.Response:
        clauses: list[tuple[str, str]] = []
        for part in filter(None, re.split(r"\s+and\s+", expression.strip())):
            m = _CLAUSE.match(part)
            if m is None:
                return self.error(
                    400,
                    "0x80060888",
                    f"The simulator supports only 'field eq value' and 'and': {part!r}",
                )
            clauses.append(
                (m["field"], m["num"] if m["str"] is None else m["str"].replace("''", "'"))
            )
        return clauses
