"""NetSuite REST Record API v1 simulator (token-based auth: OAuth 1.0a, HMAC-SHA256).

Endpoints, under ``/services/rest/record/v1``:

- ``POST /{type}``: create; 204 + ``Location`` (a duplicate ``externalId`` is a 400).
- ``PUT /{type}/eid:{externalId}``: upsert by external id; 204 + ``Location``.
- ``PATCH /{type}/{id}`` and ``PATCH /{type}/eid:{externalId}``: update; 204, 404 if missing.
- ``GET /{type}/{id}`` and ``GET /{type}/eid:{externalId}``: the record; 404 if missing.

Transaction types (``salesOrder``, ``invoice``, ``cashSale``) need an ``entity`` reference
(``{"id": ...}`` or ``{"externalId": ...}``) to an existing customer, as NetSuite does.

SuiteQL: ``POST /services/rest/query/v1/suiteql?limit=&offset=`` with ``Prefer: transient`` and
``{"q": "SELECT cols|* FROM <record type> [WHERE col = 'v' [AND ...]]"}``, paged by offset.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web
from typing_extensions import override

from simulators._auth import OAuth1Verifier
from simulators._base import Simulator, json_response, read_json
from simulators._paging import PagingError, QueryError, Scalar, bounded_int, equals, parse_query
from simulators._store import Record

API = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"
RECORD_TYPES = frozenset(
    {
        "customer",
        "contact",
        "salesOrder",
        "invoice",
        "customerPayment",
        "cashSale",
        "creditMemo",
        "itemFulfillment",
        "inventoryItem",
    }
)
NEEDS_ENTITY = frozenset({"salesOrder", "invoice", "cashSale", "creditMemo"})
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_CODES = {
    "rate_limited": "CONCURRENCY_LIMIT_EXCEEDED",
    "service_unavailable": "SERVICE_UNAVAILABLE",
    "server_error": "UNEXPECTED_ERROR",
    "timeout": "UNEXPECTED_ERROR",
    "not_found": "NONEXISTENT_ID",
}
_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


def _problem_type(status: int) -> str:
    if status == 429:
        return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
    section = f"15.{status // 100 + 1}.{status % 100 + 1}"
    return f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"


class NetSuiteSimulator(Simulator):
    """NetSuite's REST Record API, with TBA signatures verified for real."""

    name = "netsuite"
    defaults: ClassVar[dict[str, str]] = {
        "account_id": "1234567_SB1",
        "consumer_key": "ns_consumer_key_interlock",
        "consumer_secret": "ns_consumer_secret_interlock",
        "token_id": "ns_token_id_interlock",
        "token_secret": "ns_token_secret_interlock",
    }

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        c = self.credentials
        self.oauth = OAuth1Verifier(
            realm=c["account_id"],
            consumer_key=c["consumer_key"],
            consumer_secret=c["consumer_secret"],
            token=c["token_id"],
            token_secret=c["token_secret"],
        )
        self.auth_failures: list[str] = []  # why each 401 was given, for debugging a signer

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/{type}", self._create),
            web.put(API + "/{type}/{ref}", self._put),
            web.patch(API + "/{type}/{ref}", self._patch),
            web.get(API + "/{type}/{ref}", self._get),
            web.post(SUITEQL, self._suiteql),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        detail: dict[str, Any] = {"detail": message, "o:errorCode": _CODES.get(code, code)}
        if field is not None:
            detail["o:errorPath"] = field
        return self._problem(status, detail)

    def _query_error(self, code: str, message: str, param: str | None) -> web.Response:
        """A 400 about the request's query parameters or SuiteQL text (``o:errorQueryParam``)."""
        detail: dict[str, Any] = {"detail": message, "o:errorCode": code}
        if param is not None:
            detail["o:errorQueryParam"] = param
        return self._problem(400, detail)

    def _problem(self, status: int, detail: dict[str, Any]) -> web.Response:
        body = {
            "type": _problem_type(status),
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "o:errorDetails": [detail],
        }
        response = json_response(body, status=status)
        response.content_type = "application/vnd.oracle.resource+json"
        return response

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        problem = self.oauth.verify(
            request.method, str(request.url), request.headers.get("Authorization", ""), []
        )
        if not problem:
            return None
        self.auth_failures.append(problem)
        return self.error(401, "INVALID_LOGIN", _LOGIN_DETAIL)

    @override
    def reset(self) -> None:
        super().reset()
        self.oauth.clear()
        self.auth_failures.clear()

    # --- handlers -------------------------------------------------------------------------------

    def _location(self, request: web.Request, type_: str, id_: str) -> dict[str, str]:
        return {"Location": f"{request.url.origin()}{API}/{type_}/{id_}"}

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        data = await read_json(request)
        if not isinstance(data, dict):
            return self.error(400, "INVALID_CONTENT", "The request body must be a JSON object.")
        return data

    def _check(self, type_: str, external_id: object, data: dict[str, Any]) -> web.Response | None:
        if type_ not in RECORD_TYPES:
            return self.error(404, "NONEXISTENT_ID", f"Record type '{type_}' does not exist.")
        if self.is_broken(external_id):
            return self.error(
                400,
                "USER_ERROR",
                f"Error while accessing a resource. Invalid field value for record "
                f"'{external_id}'. Please enter value(s) for: Subsidiary.",
                field="subsidiary",
            )
        if type_ in NEEDS_ENTITY:
            return self._check_entity(data.get("entity"))
        return None

    def _check_entity(self, entity: object) -> web.Response | None:
        if not isinstance(entity, dict):
            return self.error(
                400, "USER_ERROR", "Please enter value(s) for: Customer.", field="entity"
            )
        found = (
            self.store.get("customer", str(entity["id"]))
            if "id" in entity
            else self.store.find("customer", str(entity.get("externalId")))
        )
        if found is None:
            return self.error(
                400,
                "USER_ERROR",
                f"Invalid Field Value {entity} for the following field: entity",
                field="entity",
            )
        return None

    def _lookup(self, type_: str, ref: str) -> Any:
        if ref.startswith("eid:"):
            return self.store.find(type_, ref[4:])
        return self.store.get(type_, ref)

    async def _create(self, request: web.Request) -> web.Response:
        type_ = request.match_info["type"]
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        ext = data.get("externalId")
        denied = self._check(type_, ext, data)
        if denied is not None:
            return denied
        if ext is not None and self.store.find(type_, str(ext)) is not None:
            return self.error(
                400,
                "USER_ERROR",
                "Error while accessing a resource. A record with this external ID already exists.",
                field="externalId",
            )
        record = self.store.create(type_, data, None if ext is None else str(ext))
        return web.Response(status=204, headers=self._location(request, type_, record.id))

    async def _put(self, request: web.Request) -> web.Response:
        type_, ref = request.match_info["type"], request.match_info["ref"]
        if not ref.startswith("eid:"):
            return self.error(405, "METHOD_NOT_ALLOWED", "PUT is only supported with eid: keys.")
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        denied = self._check(type_, ref[4:], data)
        if denied is not None:
            return denied
        record, _created = self.store.upsert(type_, ref[4:], {**data, "externalId": ref[4:]})
        return web.Response(status=204, headers=self._location(request, type_, record.id))

    async def _patch(self, request: web.Request) -> web.Response:
        type_, ref = request.match_info["type"], request.match_info["ref"]
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        record = self._lookup(type_, ref) if type_ in RECORD_TYPES else None
        if record is None:
            return self._missing(type_, ref)
        denied = self._check(type_, record.external_id, {**record.data, **data})
        if denied is not None:
            return denied
        self.store.update(record, data)
        return web.Response(status=204, headers=self._location(request, type_, record.id))

    async def _get(self, request: web.Request) -> web.Response:
        type_, ref = request.match_info["type"], request.match_info["ref"]
        record = self._lookup(type_, ref) if type_ in RECORD_TYPES else None
        if record is None:
            return self._missing(type_, ref)
        self_link = self._location(request, type_, record.id)["Location"]
        body = {
            "links": [{"rel": "self", "href": self_link}],
            **record.data,
            "id": record.id,
        }
        if record.external_id is not None:
            body["externalId"] = record.external_id
        return json_response(body)

    def _missing(self, type_: str, ref: str) -> web.Response:
        return self.error(
            404,
            "NONEXISTENT_ID",
            f"The record instance does not exist. Provide a valid record instance ID "
            f"({type_} {ref}).",
        )

    # --- SuiteQL --------------------------------------------------------------------------------

    async def _suiteql(self, request: web.Request) -> web.Response:  # noqa: PLR0911
        """SuiteQL over REST: one page of rows, paged by ``limit`` and ``offset``.

        As on NetSuite: the ``Prefer: transient`` header is required; ``limit`` is 1..1000
        (default 1000) and ``offset`` must be a multiple of it; rows come with ``"links": []``,
        lowercase column names and no key for an empty (null) column; the envelope carries
        ``count``, ``hasMore``, ``offset``, ``totalResults`` and ``links`` (``previous``,
        ``first``, ``next``, ``last``, ``self``). A reference such as ``entity: {"id": "12"}``
        reads as ``"12"``. Tables are this simulator's record types, matched ignoring case.
        Real NetSuite stops at 100,000 rows per query (without SuiteAnalytics Connect); the
        simulator does not. Without a WHERE a page costs O(limit); with one the table is scanned.
        """
        if "transient" not in request.headers.get("Prefer", "").lower():
            return self._query_error(
                "INVALID_HEADER", "The request header 'Prefer' must be 'transient'.", None
            )
        try:
            limit = bounded_int(request.query.get("limit"), 1000, 1, 1000, "limit")
            offset = bounded_int(request.query.get("offset"), 0, 0, 10**9, "offset")
        except PagingError as exc:
            message = f"Invalid value for query parameter '{exc.param}'. {exc.message}"
            return self._query_error("INVALID_PARAMETER", message, exc.param)
        if offset % limit:
            message = f"Invalid value for query parameter 'offset': {offset}. The offset must be "
            return self._query_error(
                "INVALID_PARAMETER", message + f"a multiple of the limit ({limit}).", "offset"
            )
        body = await read_json(request)
        text = body.get("q") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return self.error(
                400, "INVALID_CONTENT", 'The request body must be {"q": "<SuiteQL>"}.'
            )
        try:
            query = parse_query(text, allow_star=True)
        except QueryError as exc:
            return self._search_error(f"{exc.message} at column {exc.column}")
        tables = {t.lower(): t for t in (*RECORD_TYPES, *self.store.types())}
        type_ = tables.get(query.table.lower())
        if type_ is None:
            return self._search_error(f"Record '{query.table}' was not found.")
        rows = self.store.ordered(type_)
        if query.where:
            where = [(c.lower(), v) for c, v in query.where]
            rows = [r for r in rows if self._where(self._columns(r), where)]
        total = len(rows)
        page = rows[offset : offset + limit]
        items = [self._row(r, query.columns) for r in page]
        return json_response(
            {
                "links": self._links(request, limit, offset, total),
                "count": len(items),
                "hasMore": offset + len(items) < total,
                "items": items,
                "offset": offset,
                "totalResults": total,
            }
        )

    def _search_error(self, message: str) -> web.Response:
        detail = f"Invalid search query. Detailed unprocessed description follows. {message}"
        return self._query_error("INVALID_PARAMETER", detail, "q")

    @staticmethod
    def _where(columns: dict[str, Scalar], where: list[tuple[str, Scalar]]) -> bool:
        return all(equals(columns.get(c), v) for c, v in where)

    def _columns(self, record: Record) -> dict[str, Scalar]:
        """The record as SuiteQL sees it: lowercase names, references as ids, no nulls."""
        out: dict[str, Scalar] = {"id": record.id}
        if record.external_id is not None:
            out["externalid"] = record.external_id
        for key, raw in record.data.items():
            name, value = key.lower(), raw
            if name in out:
                continue
            if isinstance(raw, dict) and name == "currency" and "id" not in raw:
                # No currency records here: a currency reads as its code, as the usual
                # `SELECT currency.symbol ... JOIN currency` (or BUILTIN.DF) would give it.
                value = raw.get("externalId") or raw.get("refName")
            elif isinstance(raw, dict):  # a reference reads as its internal id; sublists vanish
                ref = raw.get("id")
                if ref is None and "externalId" in raw:  # references here point at customers
                    found = self.store.find("customer", str(raw["externalId"]))
                    ref = None if found is None else found.id
                value = None if ref is None else str(ref)
            if value is not None and not isinstance(value, list):
                out[name] = value
        return out

    def _row(self, record: Record, columns: tuple[str, ...] | None) -> dict[str, Any]:
        values = self._columns(record)
        if columns is not None:
            wanted = [c.lower() for c in columns]
            values = {c: values[c] for c in wanted if c in values}
        return {"links": [], **values}

    def _links(
        self, request: web.Request, limit: int, offset: int, total: int
    ) -> list[dict[str, str]]:
        base = f"{request.url.origin()}{SUITEQL}?limit={limit}&offset="
        last = max(0, (total - 1) // limit * limit)
        rels: list[tuple[str, int]] = []
        if offset > 0:
            rels += [("previous", max(0, offset - limit)), ("first", 0)]
        if offset + limit < total:
            rels += [("next", offset + limit), ("last", last)]
        rels.append(("self", offset))
        return [{"rel": rel, "href": f"{base}{at}"} for rel, at in rels]
