"""Schema versions: upcasting old payloads and letting consumers pin the version they read.

Every :class:`~canonical.models.Entity` carries ``schema_version``. When a model changes shape, its
version goes up and an *upcaster* (a pure ``dict -> dict`` function) is registered to lift a payload
of the previous version. :func:`load` applies the chain, so a journal record written a year ago
still validates today. A payload without ``schema_version`` is taken to be current, since every
producer here stamps it.

Consumers declare the version they were written against with :func:`consumer`. It refuses at setup,
not per message, when a *breaking* step lies between that version and the current one, so an
incompatible model change fails a deploy instead of mis-reading data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from canonical.errors import SchemaVersionError
from canonical.models import Customer, Entitlement, EntitlementStatus, Entity

E = TypeVar("E", bound=Entity)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Lifts a payload of version N to version N + 1 (without touching ``schema_version``)."""


@dataclass(frozen=True, slots=True)
class UpcastStep:
    """One registered upcaster."""

    model: str
    from_version: int
    fn: Upcaster
    breaking: bool
    note: str


_steps: dict[tuple[str, int], UpcastStep] = {}


def upcaster(
    model: type[Entity], from_version: int, *, breaking: bool, note: str
) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the upcaster of ``model`` from ``from_version`` to the next version.

    Args:
        model: The entity class whose payloads the function lifts.
        from_version: The version the function accepts.
        breaking: True when a consumer written for ``from_version`` would mis-read the new shape
            (a field removed or renamed); :func:`consumer` refuses such consumers.
        note: One line on what changed, shown in errors and docs.
    """

    def register(fn: Upcaster) -> Upcaster:
        key = (model.__name__, from_version)
        if key in _steps:
            raise ValueError(f"{model.__name__} v{from_version} already has an upcaster")
        _steps[key] = UpcastStep(model.__name__, from_version, fn, breaking, note)
        return fn

    return register


def steps(model: type[Entity]) -> list[UpcastStep]:
    """The registered upcasters of ``model``, oldest first."""
    return sorted(
        (s for s in _steps.values() if s.model == model.__name__), key=lambda s: s.from_version
    )


def upcast(model: type[Entity], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``payload`` lifted to ``model``'s current version (a new dict; input untouched).

    Raises:
        SchemaVersionError: The version is newer than this code, not an int, or a step is missing.
    """
    current = model.current_version()
    version = payload.get("schema_version", current)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SchemaVersionError(f"{model.__name__}: schema_version {version!r} is not valid")
    if version > current:
        raise SchemaVersionError(
            f"{model.__name__} v{version} is newer than this code (v{current}); upgrade the reader"
        )
    data = dict(payload)
    start = version
    while version < current:
        step = _steps.get((model.__name__, version))
        if step is None:
            raise SchemaVersionError(
                f"{model.__name__} v{start} cannot be upcast to v{current}: "
                f"no upcaster for v{version} -> v{version + 1}"
            )
        data = step.fn(data)
        version += 1
        data["schema_version"] = version
    return data


def load(model: type[E], payload: Mapping[str, Any]) -> E:
    """Upcast ``payload`` to the current version and validate it as ``model``.

    Raises:
        SchemaVersionError: See :func:`upcast`.
        pydantic.ValidationError: The (upcast) payload is not a valid ``model``.
    """
    return model.model_validate(upcast(model, payload))


def consumer(model: type[E], version: int) -> Callable[[Mapping[str, Any]], E]:
    """Declare that a consumer reads ``model`` as of ``version``; return its loader.

    The loader accepts payloads of any older version (upcasting them). Declaring a version is a
    compatibility check made once, at setup.

    Raises:
        SchemaVersionError: ``version`` is newer than the model, or a breaking change happened
            after it (the consumer must be updated before it can read current payloads).
    """
    current = model.current_version()
    if version > current:
        raise SchemaVersionError(
            f"consumer expects {model.__name__} v{version}, this code has only v{current}"
        )
    breaking = [s for s in steps(model) if s.from_version >= version and s.breaking]
    if breaking:
        first = breaking[0]
        raise SchemaVersionError(
            f"consumer reads {model.__name__} v{version}, but v{first.from_version} -> "
            f"v{first.from_version + 1} is breaking ({first.note}); update it to v{current}"
        )

    def read(payload: Mapping[str, Any]) -> E:
        return load(model, payload)

    return read


_V1_ADDRESS = {
    "street": "line1",
    "street2": "line2",
    "city": "city",
    "state": "region",
    "postal_code": "postal_code",
    "country": "country",
}


@upcaster(
    Customer,
    1,
    breaking=True,
    note="name split into legal_name/display_name; flat address became billing_address",
)
def _customer_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Customer v1 held ``name``, ``email``, ``phone``, a flat address, ``payment_terms_days``."""
    out = {k: v for k, v in data.items() if k not in _V1_ADDRESS}
    name = out.pop("name", None)
    out["legal_name"] = name
    out["display_name"] = name
    address = {new: data[old] for old, new in _V1_ADDRESS.items() if data.get(old)}
    out["billing_address"] = address or None
    email, phone = out.pop("email", None), out.pop("phone", None)
    if email or phone:
        out["contacts"] = [
            {"schema_version": 1, "name": name, "email": email, "phone": phone, "is_primary": True}
        ]
    days = out.pop("payment_terms_days", None)
    if days is not None:
        out["payment_terms"] = {"kind": "net", "days": days} if days else {"kind": "due_on_receipt"}
    return out


@upcaster(Entitlement, 1, breaking=False, note="status added; a v1 entitlement becomes active")
def _entitlement_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Entitlement v1 had no ``status``: a grant was in force over ``[starts_at, ends_at)``.

    That is what ``active`` means in v2 (the range still bounds it), so the step fills it in. An
    explicit ``status`` is kept rather than overwritten, so nothing is ever upgraded to active.
    """
    out = dict(data)
    out.setdefault("status", EntitlementStatus.ACTIVE.value)
    return out
