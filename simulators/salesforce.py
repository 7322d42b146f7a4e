"""Salesforce REST API simulator (``/services/data/vXX.X``) with OAuth2 client credentials.

- ``POST /services/oauth2/token``: ``grant_type=client_credentials``; the session lasts
  ``token_ttl`` seconds, then the API answers 401 ``INVALID_SESSION_ID``.
- ``PATCH /sobjects/{type}/{extIdField}/{value}``: upsert; 201 ``{"id","success","errors",
  "created": true}`` when created; when updated, 200 with ``"created": false`` (API v46.0 and
  later, as Salesforce documents) or 204 (earlier versions).
- ``PATCH /composite/sobjects/{type}/{extIdField}``: sObject Collections upsert, 200 with one
  result per record; ``allOrNone`` rolls every record back on any failure.
- ``POST /sobjects/{type}``, ``PATCH|GET /sobjects/{type}/{id}``, ``GET .../{extIdField}/{value}``.
- ``GET /query?q=SELECT Id, Name FROM Account [WHERE F = 'v' [AND ...]]`` and
  ``GET /query/{locator}-{offset}``: SOQL results in batches behind a query locator.

External-id fields are custom fields (``..__c``). A relationship written as
``"Account": {"Interlock_External_Id__c": "..."}`` must match an existing record of that type.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web
from typing_extensions import override

from simulators._auth import bearer_token
from simulators._base import Simulator, json_response, read_json
from simulators._paging import Cursors, QueryError, equals, field, parse_query
from simulators._store import Record

PREFIX = "/services/data/{version:v\\d+\\.\\d}"
_KEY_PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Case": "500"}
_REQUIRED = {"Account": ("Name",), "Contact": ("LastName",), "Opportunity": ("Name",)}
_STANDARD = ("Account", "Contact", "Opportunity", "Case", "Lead", "User", "Product2", "Order")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
OPEN_CURSORS = 10
"""Salesforce keeps ten query cursors open per user; opening another releases the oldest."""
_CODES = {
    "rate_limited": "REQUEST_LIMIT_EXCEEDED",
    "server_error": "UNKNOWN_EXCEPTION",
    "service_unavailable": "SERVER_UNAVAILABLE",
    "timeout": "UNKNOWN_EXCEPTION",
}


_ROLLED_BACK = {
    "id": None,
    "success": False,
    "errors": [
        {
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "message": "Record rolled back because not all records were valid and the request "
            "was using AllOrNone header",
            "fields": [],
        }
    ],
}


class Failure(Exception):  # noqa: N818 - a vendor error result, not a bug
    """One record's failure: the Salesforce error code, message and fields."""

    def __init__(self, status: int, code: str, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


@dataclass(frozen=True)
class QueryCursor:
    """What a query locator remembers: the result set (a snapshot of its size) and batch size.

    Without a WHERE ``rows`` is the store's live ordered list and ``total`` its length at query
    time: records are never deleted, so its first ``total`` entries are the query's rows.
    """

    columns: tuple[str, ...]
    rows: Sequence[Record]
    total: int
    batch: int


class SalesforceSimulator(Simulator):
    """Salesforce sObject REST endpoints keyed by custom external-id fields."""

    name = "salesforce"
    token_prefix = "00DINTERLOCK!"  # noqa: S105 - a prefix, not a secret
    defaults: ClassVar[dict[str, str]] = {
        "client_id": "3MVG9interlock",
        "client_secret": "sf_secret_interlock",
    }

    @override
    def new_id(self, type_: str, n: int) -> str:
        return f"{_KEY_PREFIX.get(type_, 'a0X')}{n:012d}AAA"[:18]

    @override
    def config(self, base_url: str) -> dict[str, str]:
        return {
            **super().config(base_url),
            "token_url": f"{base_url}/services/oauth2/token",
            "api_version": "v60.0",
        }

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/services/oauth2/token", self._token),
            web.post(PREFIX + "/sobjects/{type}", self._create),
            web.patch(PREFIX + "/sobjects/{type}/{field}/{value}", self._upsert),
            web.get(PREFIX + "/sobjects/{type}/{field}/{value}", self._get_by_ext),
            web.patch(PREFIX + "/sobjects/{type}/{id}", self._update),
            web.get(PREFIX + "/sobjects/{type}/{id}", self._get),
            web.patch(PREFIX + "/composite/sobjects/{type}/{field}", self._collection_upsert),
            web.get(PREFIX + "/query", self._query),
            web.get(PREFIX + "/query/", self._query),
            web.get(PREFIX + "/query/{locator}", self._query_more),
        ]

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.cursors: Cursors[QueryCursor] = Cursors(OPEN_CURSORS, "01g")

    @override
    def reset(self) -> None:
        super().reset()
        self.cursors.clear()

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        body = [
            {
                "message": message,
                "errorCode": _CODES.get(code, code),
                "fields": [] if field is None else [field],
            }
        ]
        return json_response(body, status=status)

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        if not request.path.startswith("/services/data/"):
            return None
        if self.tokens.check(bearer_token(request)) == "ok":
            return None
        return self.error(401, "INVALID_SESSION_ID", "Session expired or invalid")

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                status=400,
            )
        c = self.credentials
        if (
            form.get("client_id") != c["client_id"]
            or form.get("client_secret") != c["client_secret"]
        ):
            return json_response(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status=400,
            )
        token, _ttl = self.tokens.issue(c["client_id"])
        origin = str(request.url.origin())
        return json_response(
            {
                "access_token": token,
                "instance_url": origin,
                "token_type": "Bearer",
                "id": f"{origin}/id/00DINTERLOCK/005INTERLOCK",
                "scope": "api",
                "issued_at": str(int(time.time() * 1000)),
                "signature": secrets.token_urlsafe(32),
            }
        )

    # --- record logic ---------------------------------------------------------------------------

    def _validate(self, type_: str, data: dict[str, Any], creating: bool) -> None:
        for value in data.values():
            if self.is_broken(value):
                raise Failure(
                    400,
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    f"Record {value} failed a validation rule.",
                    [],
                )
        missing = [f for f in _REQUIRED.get(type_, ()) if creating and not data.get(f)]
        if missing:
            raise Failure(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name, ref in data.items():
            keys = [k for k in ref if k != "attributes"] if isinstance(ref, dict) else []
            if name == "attributes" or len(keys) != 1:
                continue
            field, value = keys[0], ref[keys[0]]
            parent_type = (ref.get("attributes") or {}).get("type") or name.removesuffix("__r")
            if field.endswith("__c") and self._find(parent_type, field, str(value)) is None:
                raise Failure(
                    400,
                    "INVALID_FIELD",
                    f"Foreign key external ID: {value} not found for field {field} in "
                    f"entity {parent_type}",
                    [name],
                )

    def _find(self, type_: str, field: str, value: str) -> Record | None:
        # Salesforce matches any record whose field holds the value, not only records created by
        # an upsert on that field: an Account made by one key is found by another it carries.
        found = self.store.find(type_, f"{field}={value}")
        if found is not None:
            return found
        return next(
            (
                r
                for r in self.store.all(type_)
                if r.data.get(field) is not None and str(r.data[field]) == value
            ),
            None,
        )

    def _write(
        self, type_: str, field: str, value: str, data: dict[str, Any]
    ) -> tuple[Record, bool]:
        data = {k: v for k, v in data.items() if k != "attributes"}
        existing = self._find(type_, field, value)
        self._validate(type_, {**data, field: value}, creating=existing is None)
        if existing is not None:
            return self.store.update(existing, data), False
        return self.store.create(type_, {**data, field: value}, f"{field}={value}"), True

    def _failure(self, exc: Failure) -> web.Response:
        body = [{"message": exc.message, "errorCode": exc.code, "fields": exc.fields}]
        return json_response(body, status=exc.status)

    def _check_path(self, request: web.Request) -> tuple[str, str] | web.Response:
        type_, field = request.match_info["type"], request.match_info["field"]
        if not type_[:1].isupper():
            return self.error(404, "NOT_FOUND", f"The requested resource does not exist: {type_}")
        if not field.endswith("__c"):
            return self.error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field}",
            )
        return type_, field

    # --- handlers -------------------------------------------------------------------------------

    async def _upsert(self, request: web.Request) -> web.Response:
        checked = self._check_path(request)
        if isinstance(checked, web.Response):
            return checked
        data = await read_json(request)
        if not isinstance(data, dict):
            return self.error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
        try:
            record, created = self._write(*checked, request.match_info["value"], data)
        except Failure as exc:
            return self._failure(exc)
        result = {"id": record.id, "success": True, "errors": [], "created": created}
        if created:
            return json_response(result, status=201)
        major = int(request.match_info["version"][1:].split(".")[0])
        return json_response(result) if major >= 46 else web.Response(status=204)

    async def _collection_upsert(self, request: web.Request) -> web.Response:
        checked = self._check_path(request)
        if isinstance(checked, web.Response):
            return checked
        type_, field = checked
        body = await read_json(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not 0 < len(records) <= 200:
            return self.error(400, "INVALID_FIELD", "records must be a list of 1 to 200 records")
        if body.get("allOrNone"):
            dry_run = [self._try(type_, field, rec, write=False) for rec in records]
            if not all(r["success"] for r in dry_run):
                return json_response([r if not r["success"] else _ROLLED_BACK for r in dry_run])
        return json_response([self._try(type_, field, rec, write=True) for rec in records])

    def _try(self, type_: str, field: str, rec: Any, *, write: bool) -> dict[str, Any]:
        if not isinstance(rec, dict) or not rec.get(field):
            error: dict[str, Any] = {
                "statusCode": "MISSING_ARGUMENT",
                "message": f"{field} missing",
            }
            return {"id": None, "success": False, "errors": [{**error, "fields": [field]}]}
        try:
            if not write:
                existing = self._find(type_, field, str(rec[field]))
                self._validate(type_, rec, creating=existing is None)
                return {"success": True}
            record, created = self._write(type_, field, str(rec[field]), rec)
        except Failure as exc:
            error = {"statusCode": exc.code, "message": exc.message, "fields": exc.fields}
            return {"id": None, "success": False, "errors": [error]}
        return {"id": record.id, "success": True, "errors": [], "created": created}

    async def _create(self, request: web.Request) -> web.Response:
        type_ = request.match_info["type"]
        data = await read_json(request)
        if not isinstance(data, dict):
            return self.error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
        try:
            self._validate(type_, data, creating=True)
        except Failure as exc:
            return self._failure(exc)
        record = self.store.create(type_, {k: v for k, v in data.items() if k != "attributes"})
        return json_response({"id": record.id, "success": True, "errors": []}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        type_ = request.match_info["type"]
        record = self.store.get(type_, request.match_info["id"])
        data = await read_json(request)
        if record is None:
            return self.error(404, "NOT_FOUND", "The requested resource does not exist")
        if not isinstance(data, dict):
            return self.error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
        try:
            self._validate(type_, data, creating=False)
        except Failure as exc:
            return self._failure(exc)
        self.store.update(record, data)
        return web.Response(status=204)

    def _render(self, request: web.Request, record: Record | None) -> web.Response:
        if record is None:
            return self.error(404, "NOT_FOUND", "The requested resource does not exist")
        url = f"{request.path.rsplit('/sobjects/', 1)[0]}/sobjects/{record.type}/{record.id}"
        return json_response(
            {"attributes": {"type": record.type, "url": url}, **record.data, "Id": record.id}
        )

    async def _get(self, request: web.Request) -> web.Response:
        return self._render(
            request, self.store.get(request.match_info["type"], request.match_info["id"])
        )

    async def _get_by_ext(self, request: web.Request) -> web.Response:
        info = request.match_info
        return self._render(request, self._find(info["type"], info["field"], info["value"]))

    # --- SOQL -----------------------------------------------------------------------------------

    async def _query(self, request: web.Request) -> web.Response:
        """``GET /query?q=<SOQL>``: the first batch of a query, with a locator for the rest.

        As on Salesforce: the answer is ``{"totalSize", "done", "records", "nextRecordsUrl"}``
        (the URL only while not done), each record led by ``attributes`` (type and URL) and
        holding only the selected fields; batches hold 2000 records unless the
        ``Sforce-Query-Options: batchSize=N`` header asks for 200..2000 (values outside are
        clamped, as the size is only a request there too). Object and field names match ignoring
        case and fields come back spelled as stored (as written when absent: null); text
        compares ignoring case, as SOQL's ``=`` does. Unparseable SOQL is a 400
        ``MALFORMED_QUERY``, an unknown object a 400 ``INVALID_TYPE``. Records come in insertion
        order; a query without WHERE costs O(batch) per batch, with one it is scanned once.
        """
        text = request.query.get("q")
        if not text:
            return self.error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = parse_query(text, allow_star=False)
        except QueryError as exc:
            message = f"\n{text}\n^\nERROR at Row:1:Column:{exc.column}\n{exc.message}"
            return self.error(400, "MALFORMED_QUERY", message)
        known = {t.lower(): t for t in (*_STANDARD, *self.store.types())}
        type_ = known.get(query.table.lower()) or (
            query.table if query.table.lower().endswith("__c") else None
        )
        if type_ is None:
            return self.error(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.table}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name.",
            )
        rows = self.store.ordered(type_)
        if query.where:
            where = query.where
            rows = [
                r for r in rows if all(equals(_field(r, c)[1], v, fold_case=True) for c, v in where)
            ]
        wanted = _BATCH_SIZE.search(request.headers.get("Sforce-Query-Options", ""))
        batch = min(2000, max(200, int(wanted[1]))) if wanted else 2000
        assert query.columns is not None  # parse_query(allow_star=False) always names columns
        cursor = QueryCursor(query.columns, rows, len(rows), batch)
        return self._batch(request, cursor, None, 0)

    async def _query_more(self, request: web.Request) -> web.Response:
        """``GET /query/{locator}-{offset}``: the batch of an open query starting at ``offset``.

        An unknown or released locator, or an offset outside the result, is Salesforce's 400
        ``INVALID_QUERY_LOCATOR``.
        """
        locator, _, offset = request.match_info["locator"].rpartition("-")
        cursor = self.cursors.get(locator)
        if cursor is None or not offset.isdigit() or int(offset) >= cursor.total:
            return self.error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(request, cursor, locator, int(offset))

    def _batch(
        self, request: web.Request, cursor: QueryCursor, locator: str | None, offset: int
    ) -> web.Response:
        base = f"/services/data/{request.match_info['version']}"
        end = min(offset + cursor.batch, cursor.total)
        body: dict[str, Any] = {
            "totalSize": cursor.total,
            "done": end >= cursor.total,
            "records": [self._soql_row(base, r, cursor.columns) for r in cursor.rows[offset:end]],
        }
        if not body["done"]:
            locator = locator or self.cursors.open(cursor)
            body["nextRecordsUrl"] = f"{base}/query/{locator}-{end}"
        return json_response(body)

    @staticmethod
    def _soql_row(base: str, record: Record, columns: tuple[str, ...]) -> dict[str, Any]:
        url = f"{base}/sobjects/{record.type}/{record.id}"
        row: dict[str, Any] = {"attributes": {"type": record.type, "url": url}}
        return row | dict(_field(record, column) for column in columns)


def _field(record: Record, column: str) -> tuple[str, Any]:
    """A SOQL column's (name as stored, value); an absent field is (name as written, None)."""
    if column.lower() == "id":
        return "Id", record.id
    key = field(record.data, column)
    return (column, None) if key is None else (key, record.data[key])
