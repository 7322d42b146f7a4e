"""NetSuite REST Record API v1 simulator (token-based auth: OAuth 1.0a, HMAC-SHA256).

Endpoints, under ``/services/rest/record/v1``:

- ``POST /{type}``: create; 204 + ``Location`` (a duplicate ``externalId`` is a 400).
- ``PUT /{type}/eid:{externalId}``: upsert by external id; 204 + ``Location``.
- ``PATCH /{type}/{id}`` and ``PATCH /{type}/eid:{externalId}``: update; 204, 404 if missing.
- ``GET /{type}/{id}`` and ``GET /{type}/eid:{externalId}``: the record; 404 if missing.

Transaction types (``salesOrder``, ``invoice``, ``cashSale``) need an ``entity`` reference
(``{"id": ...}`` or ``{"externalId": ...}``) to an existing customer, as NetSuite does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web
from typing_extensions import override

from simulators._auth import OAuth1Verifier
from simulators._base import Simulator, json_response, read_json

API = "/services/rest/record/v1"
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
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        detail: dict[str, Any] = {"detail": message, "o:errorCode": _CODES.get(code, code)}
        if field is not None:
            detail["o:errorPath"] = field
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
