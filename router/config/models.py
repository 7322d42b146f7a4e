"""The route-file language: pydantic models that are the validation, the JSON Schema and the docs.

A routes folder holds ``sources.yaml`` (name -> :class:`SourceSpec`), ``connectors.yaml``
(name -> ``{kind: ..., <kind's own fields>}``) and one ``<route-id>.yaml`` per :class:`RouteSpec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    IPvAnyNetwork,
    Tag,
    field_validator,
    model_validator,
)

from router.durations import Duration
from router.pointer import Pointer

ROUTE_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
HEADER_PREFIX = "header:"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_field_ref(value: str) -> str:
    if value.startswith(HEADER_PREFIX):
        if not value[len(HEADER_PREFIX) :].strip():
            raise ValueError("'header:' needs a header name, e.g. 'header:X-GitHub-Event'")
        return value
    Pointer(value)  # raises ValueError with the reason
    return value


FieldRef = Annotated[
    str,
    Field(
        description="A JSON Pointer into the body (`/data/object/id`) or `header:Name`",
        examples=["/type", "header:X-GitHub-Event"],
    ),
]


class VerifySpec(BaseModel):
    """``verify:`` block: a scheme name plus that scheme's own fields (see docs/sources.md)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    scheme: str


class SourceSpec(Frozen):
    """An inbound source: a webhook at ``POST /webhooks/{name}``, or CloudEvents at ``/events``."""

    format: Literal["webhook", "cloudevents", "internal", "files"] = Field(
        default="webhook",
        description="webhook: vendor JSON at /webhooks/{name}; cloudevents: CloudEvents 1.0 at "
        "/events/{name} (and /events when it is the only one); internal: no HTTP endpoint, only "
        "messages Interlock makes itself (a reconciliation's repairs); files: CSV or JSON-lines "
        "files dropped in `folder`, one message per row",
    )
    folder: str | None = Field(
        default=None,
        description="files: the drop folder (absolute, or relative to the data dir); "
        "omitted: DATA_DIR/drop/{name}. Done files move to done/, unreadable ones to failed/",
    )
    poll: Duration = Field(default=2.0, description="files: how often the folder is looked at")
    max_file_mb: int = Field(
        default=256, ge=1, le=65536, description="files: a larger file is moved to failed/"
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="CloudEvents webhook handshake: WebHook-Request-Origin values ('*': any)",
    )
    verify: VerifySpec | None = Field(
        default=None, description="Signature scheme; omitted means none (flagged by `check`)"
    )
    allow_unverified_from: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="A source with no verification (no `verify:`, or scheme none) accepts only "
        "loopback peers; these networks (CIDR) are allowed too. Prefer a signature scheme",
    )
    type: FieldRef | None = Field(
        default=None, description="Where the event type is read; omitted: `fixed_type`"
    )
    fixed_type: str | None = Field(default=None, description="Event type when none is in the data")
    idempotency_key: FieldRef | None = Field(
        default=None,
        description="Where the dedupe key is read; omitted: the scheme's key, else SHA-256 of body",
    )

    _check_refs = field_validator("type", "idempotency_key")(
        lambda v: None if v is None else _check_field_ref(v)
    )

    @model_validator(mode="after")
    def _type_is_known(self) -> SourceSpec:
        if self.format != "files" and self.folder is not None:
            raise ValueError("`folder` is for a `format: files` source")
        if self.format == "files" and (self.verify is not None or self.idempotency_key):
            raise ValueError(
                "a files source takes no `verify` or `idempotency_key`: a row's key is its "
                "file's SHA-256 and its row number"
            )
        if self.format == "internal":
            if self.verify is not None or self.type is not None or self.idempotency_key:
                raise ValueError(
                    "an internal source takes no `verify`, `type` or `idempotency_key`: "
                    "the messages it carries are made inside the router, with their own"
                )
            return self
        if self.format == "cloudevents":
            if self.type is not None or self.idempotency_key is not None:
                raise ValueError(
                    "a cloudevents source takes its type and dedupe key from the event"
                )
            return self
        if self.type is None and self.fixed_type is None:
            raise ValueError("a source needs `type` (pointer or header) or `fixed_type`")
        return self


class Predicate(Frozen):
    """A condition on the payload; all of a route's predicates must hold."""

    pointer: str = Field(description="JSON Pointer into the body")
    equals: Any = Field(default=None, description="The value must equal this")
    in_: list[Any] | None = Field(default=None, alias="in", description="The value is one of these")
    exists: bool | None = Field(default=None, description="The pointer resolves (or not)")

    _check_pointer = field_validator("pointer")(lambda v: Pointer(v).text)

    @model_validator(mode="after")
    def _one_test(self) -> Predicate:
        tests = [self.in_ is not None, self.exists is not None, "equals" in self.model_fields_set]
        if sum(tests) != 1:
            raise ValueError("a predicate takes exactly one of `equals`, `in`, `exists`")
        return self


class FromSpec(Frozen):
    source: str = Field(description="A source name from sources.yaml")
    type: str | list[str] = Field(
        min_length=1, description="Event type(s) to match; '*' matches any"
    )
    when: list[Predicate] = Field(default_factory=list, description="Extra conditions (all)")


class TransformStep(Frozen):
    transform: str = Field(description="A registered transform, `vendor.thing`")


class ToSpec(Frozen):
    connector: str = Field(description="A connector name from connectors.yaml")
    operation: str | None = Field(
        default=None,
        description="A vendor connector's operation (e.g. `upsert_customer`); it decides the "
        "method and path. Omitted: a plain call with `method` and `path`",
    )
    method: Literal["POST", "PUT", "PATCH", "DELETE", "GET"] = Field(default="POST")
    path: str = Field(
        default="",
        description="Appended to the connector's base URL; `{/pointer}` parts are read from the "
        "transformed message and URL-encoded",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers per route")


class ToStep(Frozen):
    to: ToSpec


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "transform-step" if "transform" in value else "to-step" if "to" in value else None
    return "transform-step" if isinstance(value, TransformStep) else "to-step"


# Discriminated, so that an error inside a step is reported at that step's own key and line.
Step = Annotated[
    Annotated[TransformStep, Tag("transform-step")] | Annotated[ToStep, Tag("to-step")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step is either `transform: NAME` or `to: {connector: ...}`",
    ),
]
STEP_TAGS = frozenset({"transform-step", "to-step"})


class RetryPolicy(Frozen):
    """Redelivery policy: exponential backoff with full jitter, bounded by attempts and age."""

    max_attempts: int = Field(default=8, ge=1, le=1000, description="Attempts before dead-letter")
    backoff: Literal["exponential", "fixed"] = Field(default="exponential", description="Growth")
    initial: Duration = Field(default=1.0, description="First backoff ceiling")
    max: Duration = Field(default=600.0, description="Largest backoff ceiling")
    max_age: Duration = Field(default=3 * 86400.0, description="Dead-letter once this old")

    @model_validator(mode="after")
    def _initial_within_max(self) -> RetryPolicy:
        if self.initial > self.max:
            raise ValueError("`initial` must not exceed `max`")
        return self

    jitter: Literal["full", "none"] = Field(
        default="full", description="full: wait uniform(0, ceiling); none: the ceiling"
    )


class Steps:
    """What both route kinds derive from their ``steps``: the transform names and the target."""

    if TYPE_CHECKING:  # declared for the type checker only: each model declares the fields itself
        id: str
        steps: list[Step]

    @property
    def transforms(self) -> list[str]:
        return [s.transform for s in self.steps if isinstance(s, TransformStep)]

    @property
    def target(self) -> ToSpec:
        last = self.steps[-1]
        assert isinstance(last, ToStep)
        return last.to


def one_delivery_last(steps: list[Step]) -> list[Step]:
    targets = [i for i, step in enumerate(steps) if isinstance(step, ToStep)]
    if targets != [len(steps) - 1]:
        raise ValueError("steps must end with exactly one `to:` step, after the transforms")
    return steps


class RouteSpec(Steps, Frozen):
    """One route: match inbound messages, transform them, deliver them to one connector."""

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    description: str = Field(default="", description="Free text for operators")
    from_: FromSpec = Field(alias="from", description="Which messages this route takes")
    key: str | None = Field(
        default=None, description="Ordering key pointer; same key = in order. Omitted: unordered"
    )
    steps: list[Step] = Field(
        min_length=1, description="`transform:` steps in order, then exactly one `to:` step"
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Redelivery policy")
    on_dead_letter: Literal["hold", "continue"] = Field(
        default="hold",
        description="What the rest of an ordering key does once its head is dead-lettered. "
        "hold: the key's later messages (queued, and any accepted later) stay journaled and "
        "pending, and are not delivered, until an operator replays the dead letter (it is then "
        "delivered first, the held ones after it in acceptance order) or skips it (`interlock "
        "dlq skip`); other keys flow on, and the hold survives a restart. continue: the later "
        "messages flow on, so a replay arrives after them, out of order. Only a route with a "
        "`key` holds: without one every message is its own lane",
    )

    _check_key = field_validator("key")(lambda v: None if v is None else Pointer(v).text)

    @property
    def holds_key_order(self) -> bool:
        """A dead-lettered head holds back its key's later messages (``hold``, and a ``key``)."""
        return self.on_dead_letter == "hold" and self.key is not None

    _ends_in_one_delivery = field_validator("steps")(one_delivery_last)


class ConnectorSpec(BaseModel):
    """A ``connectors.yaml`` entry: ``kind`` picks the registered config model for the rest."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str = Field(description="A registered connector kind: http, log, null, ...")
