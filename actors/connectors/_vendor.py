"""What every vendor connector shares: a :class:`Plan` per operation, built by a pure function.

A vendor kind maps each operation name to a builder ``(config, document, request) -> Plan``;
the builders are plain functions, so request building is tested without a network. A route that
names no operation gets a plain call with its own ``method`` and ``path`` (still authenticated,
rate-limited and circuit-broken). ``send`` returns the 2xx body; a vendor whose answers carry the
result elsewhere (NetSuite's ``Location``) overrides :meth:`VendorConnector.result`.

Each kind also declares its target's key windows (``actors/connectors/_windows.py``): ``WINDOWS``
per operation and ``PLAIN_POST`` for a plain ``POST``; :meth:`VendorConnector.key_window` answers
from them (batch reads and plain calls with other methods are safe at any age).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import orjson
from prometheus_client import CollectorRegistry
from yarl import URL

from actors.connectors._client import (
    MAX_BODY,
    MAX_PAGE,
    ClientConfig,
    ClientConnector,
    OutboundCall,
    Response,
)
from actors.connectors._windows import READ, Rule, Window, document_of
from actors.connectors.http import tracing_headers
from router.plugin import OutboundRequest, PermanentError

__all__ = ["Builder", "Plan", "VendorConnector", "json_object", "require", "segment"]

if TYPE_CHECKING:  # the listers build Plans: they import this module, not the reverse
    from actors.connectors._pages import Lister

ConfigT = TypeVar("ConfigT", bound=ClientConfig)
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Plan:
    """One vendor call: method, encoded path (query included) from the base URL, body, headers."""

    method: str
    path: str
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[ConfigT, dict[str, Any], OutboundRequest], Plan]


def json_object(body: bytes, operation: str, what: str = "the message body") -> dict[str, Any]:
    """``body`` as a JSON object; a permanent error otherwise (retrying cannot fix it)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PermanentError(f"{operation}: {what} is not JSON") from None
    if not isinstance(document, dict):
        raise PermanentError(f"{operation}: {what} is not a JSON object")
    return document


def read_request(body: bytes, operation: str) -> tuple[dict[str, Any], Any]:
    """A batch read's request body: ``{"params": {...}, "cursor": ...}``."""
    document = json_object(body, operation)
    params = document.get("params")
    if not isinstance(params, dict):
        raise PermanentError(f"{operation}: the page request has no `params` object")
    return params, document.get("cursor")


def require(document: Mapping[str, Any], name: str, operation: str) -> str:
    """A scalar field the operation needs (an id or external id), as text."""
    value = document.get(name)
    if value is None or isinstance(value, dict | list | bool) or str(value) == "":
        raise PermanentError(f"{operation}: the message has no `{name}`")
    return str(value)


def segment(value: str) -> str:
    """``value`` percent-encoded as one path segment; ``.`` and ``..`` as ``%2E`` and ``%2E%2E``.

    A dot segment left as it is would be removed by the target (RFC 3986 5.2.4) and move the
    request up a level: an id of ``..`` must name nothing, not the parent collection.
    """
    quoted = urllib.parse.quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)


class VendorConnector(ClientConnector, Generic[ConfigT]):
    """A connector whose routes name operations; subclasses set ``OPERATIONS``."""

    OPERATIONS: ClassVar[Mapping[str, Builder[Any]]] = {}
    LISTS: ClassVar[Mapping[str, Lister]] = {}  # batch reads (``actors/connectors/_pages.py``)
    WINDOWS: ClassVar[Mapping[str, Rule]] = {}  # each operation's key window
    PLAIN_POST: ClassVar[Rule] = Window(0.0, "no idempotency keys")  # a POST without operation

    def __init__(
        self, name: str, config: ConfigT, registry: CollectorRegistry | None = None
    ) -> None:
        super().__init__(name, config, registry)
        self.config = config

    def key_window(self, request: OutboundRequest) -> float | None:
        """Seconds the vendor deduplicates a resend of ``request`` (None: safe at any age).

        An operation missing from ``WINDOWS`` is judged as a plain call with its plan's method,
        so a kind that forgets to declare one errs towards refusing resends of its POSTs."""
        declared = self.WINDOWS.get(request.operation or "")
        if request.operation in self.LISTS:
            rule: Rule = READ
        elif declared is not None:
            rule = declared
        else:
            try:
                method = self.plan(request).method if request.operation else request.method
            except PermanentError:  # send refuses it before any call: nothing to resend
                return None
            if method.upper() != "POST":
                return None  # a read, or an update or delete of the record the path names
            rule = self.PLAIN_POST
        if isinstance(rule, Window):
            return rule.seconds
        return rule.pick(self.config, document_of(request)).seconds

    def default_headers(self) -> dict[str, str]:
        """Headers the vendor wants on every call (API version ...)."""
        return {"Accept": JSON}

    def plan(self, request: OutboundRequest) -> Plan:
        """The call ``request`` asks for: its operation's, or a plain method + path call."""
        if request.operation is None:
            return Plan(request.method, request.path, request.body, request.content_type)
        builder = self.OPERATIONS.get(request.operation)
        if builder is None:
            raise PermanentError(f"unknown operation {request.operation!r}")
        return builder(self.config, json_object(request.body, request.operation), request)

    async def send(self, request: OutboundRequest) -> bytes | None:
        lister = self.LISTS.get(request.operation or "")
        if lister is not None:
            return await self.read_page(lister, request)
        plan = self.plan(request)
        return self.result(plan, await self.call(plan, request))

    async def read_page(self, lister: Lister, request: OutboundRequest) -> bytes:
        """One page of a batch read, answered as a :class:`~router.plugin.Page`."""
        assert request.operation is not None
        params, cursor = read_request(request.body, request.operation)
        plan = lister.plan(self.config, params, cursor)
        body = (await self.call(plan, request, MAX_PAGE)).body
        document = json_object(body, request.operation, "the page")
        return lister.read(self.config, document, plan).encode()

    def result(self, plan: Plan, response: Response) -> bytes | None:
        """What ``send`` returns for a 2xx ``response``: the body, unless a vendor knows better."""
        del plan
        return response.body

    async def call(
        self, plan: Plan, request: OutboundRequest, max_body: int = MAX_BODY
    ) -> Response:
        """Make ``plan``'s call for ``request`` (its tracing and route headers included)."""
        try:
            url = URL(self.base_url + plan.path, encoded=True)
        except ValueError:
            raise PermanentError("the request path does not make a valid URL") from None
        headers = {
            **tracing_headers(request),
            **self.default_headers(),
            **plan.headers,
            **request.headers,
        }
        return await self.client.call(
            OutboundCall(
                method=plan.method,
                url=url,
                body=plan.body,
                operation=request.operation or plan.method.lower(),
                idempotency_key=request.idempotency_key,
                content_type=plan.content_type,
                headers=headers,
                max_body=max_body,
                scrub=tuple(request.headers.values()),  # the route's `to.headers`
            )
        )
