"""Render the reference tables of the docs from the registered models (``python -m router.docgen``).

As Redpanda Connect generates its docs from each component's spec: ``docs/routes.md`` gets every
registered file kind, ``docs/connectors.md`` every connector kind (its operations and fields) and
``docs/sources.md`` every verify scheme's fields and ``docs/operations.md`` every setting, each
between markers. A test fails when a page is stale, so the models stay the one source of
validation, JSON Schema and docs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from router import registry
from router.config.kinds import file_kinds

_QUALIFIED = re.compile(r"\b(?:[a-z_]\w*\.)+([A-Za-z_]\w*)")
BEGIN = "<!-- BEGIN GENERATED: python -m router.docgen -->"
END = "<!-- END GENERATED -->"


def models() -> list[tuple[str, type[BaseModel]]]:
    """Each registered file kind's table, then its sub-models', in registration order."""
    out: list[tuple[str, type[BaseModel]]] = []
    for kind in file_kinds().values():
        out += [(kind.title, kind.model), *kind.docs]
    return out


def _type_name(annotation: Any) -> str:
    """``NoAuth or BearerAuth``, not ``actors.connectors._auth.NoAuth or ...``."""
    text = getattr(annotation, "__name__", None) or str(annotation)
    return _QUALIFIED.sub(r"\1", text).replace("|", "or")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "" if field.default is None else f"`{field.default!r}`"
    if field.default_factory is not None:
        value = field.default_factory()
        return "its defaults" if isinstance(value, BaseModel) else f"`{value!r}`"
    return "**required**"


def _table(title: str, fields: dict[str, Any]) -> list[str]:
    lines = ["", f"### {title}", "", "| field | type | default | meaning |", "|---|---|---|---|"]
    for name, field in fields.items():
        key = field.alias or name
        meaning = (field.description or "").replace("|", "\\|")
        lines.append(
            f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |"
        )
    return lines


def routes_page() -> str:
    """The tables of every registered file kind and its sub-models."""
    parts = [BEGIN]
    for title, model in models():
        parts += _table(title, model.model_fields)
    return "\n".join([*parts, "", END])


def connectors_page() -> str:
    """Every connector kind: its operations, the shared fields once, then each kind's own."""
    kinds = registry.connectors()
    parts = [
        BEGIN,
        "",
        "| kind | operations | batch reads (docs/reconciliation.md) | config model |",
        "|---|---|---|---|",
    ]
    for kind, spec in sorted(kinds.items()):
        operations = ", ".join(f"`{o}`" for o in sorted(spec.operations)) or "none (method + path)"
        lists = ", ".join(f"`{o}`" for o in sorted(spec.lists)) or "-"
        parts.append(f"| `{kind}` | {operations} | {lists} | `{spec.config_model.__name__}` |")
    parts += _key_windows(kinds)
    # A base model shared by several kinds (ClientConfig) is documented once.
    bases: dict[type[BaseModel], list[str]] = {}
    for kind, spec in kinds.items():
        for base in spec.config_model.__mro__[1:]:
            if isinstance(base, type) and issubclass(base, BaseModel) and base.model_fields:
                bases.setdefault(base, []).append(kind)
    shared = {b: ks for b, ks in bases.items() if len(ks) > 1}
    for base, users in sorted(shared.items(), key=lambda item: item[0].__name__):
        title = f"`{base.__name__}`: the fields of {', '.join(f'`{k}`' for k in sorted(users))}"
        parts += _table(title, base.model_fields)
    for kind, spec in sorted(kinds.items()):
        inherited = {
            n for b in spec.config_model.__mro__[1:] if b in shared for n in b.model_fields
        }
        own = {n: f for n, f in spec.config_model.model_fields.items() if n not in inherited}
        if own:
            parts += _table(f"`kind: {kind}`: its own fields", own)
    return "\n".join([*parts, "", END])


def _key_windows(kinds: dict[str, registry.ConnectorSpec[Any]]) -> list[str]:
    """Each kind's key windows, per operation and plain call, as the kind registered them."""
    lines = [
        "",
        "### Key windows",
        "",
        "How long each target deduplicates a resend with the same `Idempotency-Key` (the "
        "connector's `key_window`); the engine refuses a retry or replay whose key was first sent "
        "longer ago. *permanent*: safe to resend at any age; *none*: the target keeps no key, so "
        "no resend is safe.",
        "",
        "| kind | call | key window |",
        "|---|---|---|",
    ]
    for kind, spec in sorted(kinds.items()):
        named = spec.operations | spec.lists
        for call, window in spec.key_windows or (("every call", "not declared"),):
            shown = f"`{call}`" if call in named else call
            lines.append(f"| `{kind}` | {shown} | {window.replace('|', chr(92) + '|')} |")
    return lines


def sources_page() -> str:
    """Every verify scheme's fields (the ``verify:`` block besides ``scheme``)."""
    parts = [BEGIN]
    for scheme, spec in sorted(registry.verifiers().items()):
        fields = spec.config_model.model_fields
        if fields:
            parts += _table(f"`scheme: {scheme}`", fields)
        else:
            parts += ["", f"### `scheme: {scheme}`", "", "No fields."]
    return "\n".join([*parts, "", END])


def _setting_default(field: Any) -> str:
    value = field.default
    if value is None or value is PydanticUndefined:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def settings_page() -> str:
    """Every field of :class:`router.settings.Settings`, as its ``INTERLOCK_`` variable."""
    from router.settings import Settings  # noqa: PLC0415 - only this page needs it

    parts = [
        BEGIN,
        "",
        "| setting | default | what it does |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        parts.append(f"| `INTERLOCK_{name.upper()}` | {_setting_default(field)} | {meaning} |")
    return "\n".join([*parts, "", END])


PAGES = {
    "docs/routes.md": routes_page,
    "docs/connectors.md": connectors_page,
    "docs/sources.md": sources_page,
    "docs/operations.md": settings_page,
}


def render() -> str:
    return routes_page()


def stale(path: Path, page: str) -> str | None:
    """The page with its generated section replaced, or None when it is current."""
    text = path.read_text()
    head, found, rest = text.partition(BEGIN)
    if not found:
        raise ValueError(f"{path}: no {BEGIN} marker")
    _, _, tail = rest.partition(END)
    new = head + page + tail
    return None if new == text else new


def update(path: Path, page: str | None = None) -> bool:
    """Rewrite the generated section of ``path``; True when it changed."""
    new = stale(path, routes_page() if page is None else page)
    if new is None:
        return False
    path.write_text(new)
    return True


def main(argv: list[str]) -> int:
    """``python -m router.docgen [--check] [ROOT]``: rewrite the pages, or (``--check``) exit 1
    naming the stale ones. Run it in a process of its own: only the components the installed
    plugins register are documented, not what a test process registered on the side."""
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = Path(args[0] if args else ".")
    stale_pages = []
    for name, page in PAGES.items():
        target = root / name
        if check:
            if stale(target, page()) is not None:
                stale_pages.append(name)
            continue
        print(f"{target}: {'updated' if update(target, page()) else 'up to date'}")
    for name in stale_pages:
        print(f"{root / name}: stale; run `python -m router.docgen`")
    return 1 if stale_pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
