"""Shared building blocks: the frozen base model, entities, external references, lifecycles."""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from canonical.errors import CurrencyMismatchError
from canonical.money import Money, minor_exponent

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=1000)]
ShortStr = Annotated[str, Field(min_length=1, max_length=255)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=28)]


class CanonicalModel(BaseModel):
    """Frozen and closed: an unknown field is an error, never silently kept or dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ExternalRef(CanonicalModel):
    """The same record's identity in one system (``stripe``/``cus_..``)."""

    system: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    id: Annotated[str, Field(min_length=1, max_length=255)]

    def __str__(self) -> str:
        return f"{self.system}:{self.id}"


def _check_unique_systems(refs: tuple[ExternalRef, ...]) -> None:
    seen = [ref.system for ref in refs]
    dupes = sorted({s for s in seen if seen.count(s) > 1})
    if dupes:
        raise ValueError(f"external_refs names {', '.join(dupes)} more than once")


class _Referenced(CanonicalModel):
    """Anything carrying ``external_refs``; the first ref is the record's system of origin."""

    external_refs: tuple[ExternalRef, ...] = ()

    @model_validator(mode="after")
    def _unique_refs(self) -> Self:
        _check_unique_systems(self.external_refs)
        return self

    def ref(self, system: str) -> str | None:
        """Return this record's id in ``system``, or None when it has not been linked there."""
        return next((r.id for r in self.external_refs if r.system == system), None)

    @property
    def origin(self) -> ExternalRef | None:
        """The system of record: the first external ref, by convention."""
        return self.external_refs[0] if self.external_refs else None


class EntityRef(_Referenced):
    """A pointer to another entity (an invoice's customer), by its ids in other systems."""

    name: str | None = None


class Entity(_Referenced):
    """A versioned canonical document.

    Each subclass declares ``schema_version: Literal[N] = N``. A payload of an older version is
    refused with a message pointing at :func:`canonical.load`, which upcasts it first.
    """

    @classmethod
    def current_version(cls) -> int:
        """The version this class validates (the default of its ``schema_version`` field)."""
        default = cls.model_fields["schema_version"].default
        assert isinstance(default, int), f"{cls.__name__} must declare schema_version"
        return default

    @model_validator(mode="before")
    @classmethod
    def _refuse_old_versions(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            version = data.get("schema_version")
            current = cls.current_version()
            if isinstance(version, int) and not isinstance(version, bool) and version < current:
                raise ValueError(
                    f"schema_version {version} is older than {cls.__name__} v{current}; "
                    "load it with canonical.load() so it is upcast first"
                )
        return data


def _may_hold_money(tp: Any, seen: set[type]) -> bool:
    if tp is Money:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return False
        seen.add(tp)
        return any(_may_hold_money(f.annotation, seen) for f in tp.model_fields.values())
    return any(_may_hold_money(arg, seen) for arg in typing.get_args(tp))


@functools.cache
def _money_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``cls`` whose type can contain Money (computed once per class)."""
    return tuple(n for n, f in cls.model_fields.items() if _may_hold_money(f.annotation, set()))


def iter_money(value: Any) -> Iterator[tuple[str, Money]]:
    """Yield ``(path, money)`` for every Money nested in a model or tuple.

    Only fields whose annotation can hold Money are visited, which keeps the single-currency check
    cheap enough to run on every validation.
    """
    if isinstance(value, Money):
        yield "", value
    elif isinstance(value, BaseModel):
        for name in _money_fields(type(value)):
            for path, money in iter_money(getattr(value, name)):
                yield (f"{name}.{path}" if path else name), money
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            for path, money in iter_money(item):
                yield (f"[{i}].{path}" if path else f"[{i}]"), money


def check_single_currency(model: BaseModel, currency: str) -> None:
    """Raise if any Money inside ``model`` is not in ``currency`` (a document has one currency)."""
    for path, money in iter_money(model):
        if money.currency != currency:
            where = path.replace(".[", "[")
            raise CurrencyMismatchError(
                f"{where} is in {money.currency}, the document is in {currency}"
            )


def within_one_minor_unit(a: Money, b: Money) -> bool:
    """True when two amounts differ by at most one minor unit (vendor per-line rounding)."""
    return abs(a.amount - b.amount) <= Decimal((0, (1,), -minor_exponent(a.currency)))


class Period(CanonicalModel):
    """A half-open time range ``[start, end)``, e.g. a billing period."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("period end is before its start")
        return self


class Lifecycle(StrEnum):
    """A status enum with an explicit transition table (subclasses set ``_transitions``).

    ``TRANSITIONS`` maps each status to the statuses it may move to; terminal states map to an
    empty set. Mappings record whatever a vendor says; :meth:`check_transition` is for code that
    *changes* a status and wants the lifecycle enforced.
    """

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """The transition table: status -> statuses reachable in one step."""
        raise NotImplementedError

    def can_become(self, new: Lifecycle) -> bool:
        """True when moving from this status to ``new`` is a legal single step (or a no-op)."""
        return new == self or str(new) in self.transitions().get(str(self), frozenset())

    def check_transition(self, new: Lifecycle) -> None:
        """Raise ValueError unless :meth:`can_become` allows ``new``."""
        if not self.can_become(new):
            allowed = ", ".join(sorted(self.transitions().get(str(self), ()))) or "nothing"
            raise ValueError(f"{type(self).__name__} {self} cannot become {new} (only {allowed})")


def table(**edges: str) -> dict[str, frozenset[str]]:
    """Build a transition table from ``status="next1 next2"`` keyword pairs."""
    return {k: frozenset(v.split()) for k, v in edges.items()}
