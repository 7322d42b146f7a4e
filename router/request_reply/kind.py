"""The ``kind: request-reply`` file: a synchronous route's model, its checks, and its place.

Its ``steps`` are a route's (transforms, then one ``to:``), checked the same way; it has no
``from:`` (the caller posts to ``/api/{id}``) and adds ``reply`` transforms, a timeout, a cache and
``found`` (where the reply says the target knew the thing asked about; otherwise a 404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator

from router import registry
from router.config.kinds import FileKind, Problem, register_file_kind
from router.config.models import ROUTE_ID_PATTERN, Frozen, Step, Steps, one_delivery_last
from router.config.references import unknown
from router.config.route_kind import steps_problems
from router.durations import Duration
from router.pointer import Pointer

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig


class CacheSpec(Frozen):
    """A short answer cache for a request/reply route."""

    ttl: Duration = Field(description="How long an answer is served from the cache")
    key: Annotated[
        list[str] | None,
        # `key: /sku` (one pointer as text) still means that one pointer: the schema says so.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(
        default=None,
        description="JSON Pointers into the request: their values alone are the cache key, so "
        "they must name every input the answer depends on; omitted (best): the whole question "
        "as sent to the target",
    )
    stale_for: Duration = Field(
        default=0.0,
        description="On a timeout or a failed call, serve an expired answer up to this old",
    )

    @field_validator("key", mode="before")
    @classmethod
    def _one_pointer_is_a_list(cls, value: Any) -> Any:
        # `key: /sku` was the only form once; it still means exactly that one pointer.
        return [value] if isinstance(value, str) else value

    @field_validator("key")
    @classmethod
    def _pointers(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("name at least one pointer, or omit `key` to key on the question")
        return None if value is None else [Pointer(v).text for v in value]


class RequestReplySpec(Steps, Frozen):
    """A synchronous route, served at ``POST /api/{id}``: transform, call, answer in ``timeout``.

    Nothing is journaled: the caller waits for the answer and retries itself if it must.
    """

    id: str = Field(pattern=ROUTE_ID_PATTERN, description="kebab-case; equals the file stem")
    kind: Literal["request-reply"] = Field(description="Marks a synchronous route")
    description: str = Field(default="", description="Free text for operators")
    steps: list[Step] = Field(
        min_length=1, description="`transform:` steps in order, then exactly one `to:` step"
    )
    reply: list[str] = Field(
        default_factory=list, description="Transforms applied to the target's JSON answer"
    )
    timeout: Duration = Field(default=2.0, description="Answer within this, or 504")
    cache: CacheSpec | None = Field(default=None, description="Optional answer cache")
    found: str | None = Field(
        default=None,
        description="JSON Pointer into the (mapped) answer: no value there means the target "
        "knows nothing of what was asked, answered 404 and never cached",
    )

    _ends_in_one_delivery = field_validator("steps")(one_delivery_last)
    _check_found = field_validator("found")(lambda v: None if v is None else Pointer(v).text)


def _problems(route: RequestReplySpec, config: RouterConfig) -> list[Problem]:
    # The reply chain starts from the target's JSON answer (untyped), so only its names are
    # checked; the request side type-checks as a route's.
    known = registry.transforms()
    replies: list[Problem] = [
        (("reply", i), unknown("transform", name, known))
        for i, name in enumerate(route.reply)
        if name not in known
    ]
    return replies + steps_problems(route, config)


REQUEST_REPLY: FileKind[RequestReplySpec] = register_file_kind(
    FileKind(
        name="request-reply",
        title="Request/reply route (`kind: request-reply`)",
        plural="request/reply routes",
        model=RequestReplySpec,
        problems=_problems,
        add=lambda _route, _config: None,  # served from config.specs(REQUEST_REPLY)
        docs=(("`cache:` of a request/reply route", CacheSpec),),
    )
)
