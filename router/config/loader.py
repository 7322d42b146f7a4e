"""Load and cross-check a routes folder into a :class:`RouterConfig`.

Every problem found is collected (not just the first) and raised as one :class:`ConfigErrors`, whose
lines read ``file:line: field: message``. ``sources.yaml`` and ``connectors.yaml`` come first; every
other ``.yaml`` file is one of the registered file kinds (:mod:`router.config.kinds`), which this
module knows by none of their names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router import registry
from router.config._yaml import LineIndex, read_yaml
from router.config.kinds import DEFAULT_KIND, FileKind, file_kinds
from router.config.loaded import ConnectorConfig, RouterConfig, SourceConfig
from router.config.models import STEP_TAGS, ConnectorSpec, SourceSpec
from router.config.references import unknown
from router.errors import ConfigError

SpecT = TypeVar("SpecT", bound=BaseModel)

SOURCES_FILE = "sources.yaml"
CONNECTORS_FILE = "connectors.yaml"
RESERVED = {SOURCES_FILE, CONNECTORS_FILE}
LAYOUT = "a routes folder holds sources.yaml, connectors.yaml and one <id>.yaml per route"


class ConfigErrors(ConfigError):  # noqa: N818 - a collection of ConfigError
    """Several configuration errors at once; ``errors`` keeps each with its file and line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))

    def render(self) -> str:
        return "\n".join(e.render() for e in getattr(self, "errors", []))


def _validation_errors(
    exc: ValidationError, index: LineIndex, prefix: tuple[Any, ...]
) -> list[ConfigError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *(p for p in err["loc"] if p not in STEP_TAGS and p != "function-after"))
        out.append(index.error(tuple(loc), err["msg"]))
    return out


def _validate(
    model: type[BaseModel],
    data: Any,
    index: LineIndex,
    prefix: tuple[Any, ...],
    errors: list[ConfigError],
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.extend(_validation_errors(exc, index, prefix))
        return None


def _mapping_file(
    path: Path, env: Mapping[str, str] | None, errors: list[ConfigError]
) -> tuple[dict[str, Any], LineIndex | None]:
    if not os.path.lexists(path):  # a dangling link is not "no file": read_yaml says what it is
        return {}, None
    try:
        data, index = read_yaml(path, env, root=path.parent)
    except ConfigError as exc:
        errors.append(exc)
        return {}, None
    if data is None:
        return {}, index
    if not isinstance(data, dict):
        errors.append(index.error((), f"{path.name} must map names to definitions"))
        return {}, index
    return data, index


def _component(
    kinds: Mapping[str, registry.ConnectorSpec[Any] | registry.VerifierSpec[Any]],
    chosen: str,
    what: str,
    fields: dict[str, Any],
    index: LineIndex,
    at: tuple[Any, ...],
    errors: list[ConfigError],
) -> BaseModel | None:
    """Validate ``fields`` against the config model registered as ``chosen`` (a scheme or kind).

    An unknown name is reported at its own key (``at`` + ``scheme``/``kind``) with the known ones.
    """
    component = kinds.get(chosen)
    if component is None:
        known = ", ".join(sorted(kinds)) or "none registered"
        key = (*at, what.rsplit(maxsplit=1)[-1])
        errors.append(index.error(key, f"{unknown(what, chosen, kinds)} (known: {known})"))
        return None
    result: BaseModel | None = _validate(component.config_model, fields, index, at, errors)
    return result


def _load_sources(
    base: Path, env: Mapping[str, str] | None, errors: list[ConfigError], config: RouterConfig
) -> None:
    data, index = _mapping_file(base / SOURCES_FILE, env, errors)
    verifiers = registry.verifiers()
    for name, raw in data.items():
        assert index is not None
        config.invalid.add(f"source:{name}")  # until it validates completely
        spec = _validate(SourceSpec, raw, index, (name,), errors)
        if spec is None:
            continue
        settings = None
        scheme = spec.verify.scheme if spec.verify is not None else None
        if scheme in (None, "none") and spec.format not in ("internal", "files"):
            how = "has no `verify:`" if scheme is None else "uses scheme 'none'"
            where = f"{index.file}:{index.line_of((name,))}"
            config.warnings.append(f"{where}: source {name!r} {how}; use only on loopback")
        if scheme is not None:
            fields = {k: v for k, v in raw["verify"].items() if k != "scheme"}
            at = (name, "verify")
            settings = _component(verifiers, scheme, "scheme", fields, index, at, errors)
            if settings is None:
                continue
        config.sources[name] = SourceConfig(name, spec, settings)
        config.invalid.discard(f"source:{name}")
    if index is not None:
        _note_demo_secrets(index, config)


def _is_secret_field(loc: tuple[Any, ...], config: RouterConfig) -> bool:
    """``loc`` is inside a loaded source's ``verify:`` secret (``secret``, ``secrets[i]``...)."""
    return (
        len(loc) >= 3
        and loc[0] in config.sources
        and loc[1] == "verify"
        and isinstance(loc[2], str)
        and "secret" in loc[2]
    )


def _note_demo_secrets(index: LineIndex, config: RouterConfig) -> None:
    """Each verification secret that came from a placeholder's default: refused outside demo
    mode (:func:`refuse_demo_secrets`), a warning for ``interlock check``."""
    for used in index.defaulted:
        if not _is_secret_field(used.loc, config):
            continue
        field = ".".join(str(p) for p in used.loc)
        message = f"{used.name} is not set and its default is a shared demo secret"
        config.demo_secrets.append(
            ConfigError(
                f"{message}; set it, or run with --demo",
                file=str(index.file),
                line=used.line,
                field=field,
            )
        )
        config.warnings.append(
            f"{index.file}:{used.line}: {field}: {message} (`interlock run` refuses it without "
            "--demo)"
        )


def refuse_demo_secrets(config: RouterConfig, demo: bool) -> None:
    """Outside demo mode, raise :class:`ConfigErrors` for every source secret that is a
    placeholder's shipped default (``interlock run``, ``Engine.start``)."""
    if not demo and config.demo_secrets:
        raise ConfigErrors(list(config.demo_secrets))


def _load_connectors(
    base: Path, env: Mapping[str, str] | None, errors: list[ConfigError], config: RouterConfig
) -> None:
    data, index = _mapping_file(base / CONNECTORS_FILE, env, errors)
    kinds = registry.connectors()
    for name, raw in data.items():
        assert index is not None
        config.invalid.add(f"connector:{name}")  # until it validates completely
        spec = _validate(ConnectorSpec, raw, index, (name,), errors)
        if spec is None:
            continue
        fields = {k: v for k, v in raw.items() if k != "kind"}
        settings = _component(kinds, spec.kind, "connector kind", fields, index, (name,), errors)
        if settings is not None:
            config.connectors[name] = ConnectorConfig(name, spec.kind, settings)
            config.invalid.discard(f"connector:{name}")


def _load_file(
    path: Path, data: Any, index: LineIndex, config: RouterConfig, errors: list[ConfigError]
) -> None:
    """One route-folder file of a registered kind: validate, check its id, cross-check, add."""
    kinds = file_kinds()
    name = data.get("kind", DEFAULT_KIND) if isinstance(data, dict) else DEFAULT_KIND
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None:
        message = f"{unknown('kind', str(name), kinds)} (known: {', '.join(sorted(kinds))})"
        errors.append(index.error(("kind",), message))
        return
    config.invalid.add(f"{kind.name}:{path.stem}")  # until it is added: no cascade of errors
    spec = _validate(kind.model, data, index, (), errors)
    if spec is None:
        return
    if spec.id != path.stem:
        message = f"{kind.name} id {spec.id!r} must equal the file stem {path.stem!r}"
        errors.append(index.error(("id",), message))
        return
    problems = kind.problems(spec, config)
    errors.extend(index.error(loc, message) for loc, message in problems)
    if not problems:
        config.sections.setdefault(kind.name, {})[spec.id] = spec
        kind.add(spec, config)
        config.invalid.discard(f"{kind.name}:{path.stem}")


def _referred_first(
    files: list[tuple[int, Path, Any, LineIndex]], kinds: dict[str, FileKind[Any]]
) -> list[tuple[Path, Any, LineIndex]]:
    """The files in load order, each same-kind file it refers to (``FileKind.refers``) moved
    before it; a cycle keeps the file order, and the kind's own check reports it."""
    by_stem = {(_kind_name(data), path.stem): (path, data, index) for _, path, data, index in files}
    ordered: list[tuple[Path, Any, LineIndex]] = []
    placed: set[Path] = set()

    def place(path: Path, data: Any, index: LineIndex, visiting: frozenset[Path]) -> None:
        if path in placed or path in visiting:
            return
        kind = kinds.get(_kind_name(data))
        refers = kind.refers(data) if kind is not None and kind.refers is not None else []
        for stem in refers:
            target = by_stem.get((_kind_name(data), stem))
            if target is not None:
                place(*target, visiting | {path})
        placed.add(path)
        ordered.append((path, data, index))

    for _, path, data, index in files:
        place(path, data, index, frozenset())
    return ordered


def _kind_name(data: Any) -> str:
    named = data.get("kind", DEFAULT_KIND) if isinstance(data, dict) else DEFAULT_KIND
    return named if isinstance(named, str) else DEFAULT_KIND


def load_config(base: Path | str, env: Mapping[str, str] | None = None) -> RouterConfig:
    """Read, validate and cross-check a routes folder; raise :class:`ConfigErrors` if wrong."""
    base = Path(base)
    if not base.exists():
        raise FileNotFoundError(f"{base}: no such routes folder")
    if not base.is_dir():
        raise ConfigError(f"not a routes folder: {LAYOUT}", file=str(base))
    if not any(base.glob("*.yaml")) and not any(base.glob("*.yml")):
        raise ConfigError(f"no route files here: {LAYOUT}", file=str(base))
    errors: list[ConfigError] = []
    config = RouterConfig(base=base)
    _load_sources(base, env, errors, config)
    _load_connectors(base, env, errors, config)
    errors.extend(
        ConfigError("route files end in .yaml; this file is ignored", file=str(path), line=1)
        for path in sorted(base.glob("*.yml"))
    )
    files: list[tuple[int, Path, Any, LineIndex]] = []
    kinds = file_kinds()
    for path in sorted(base.glob("*.yaml")):
        if path.name in RESERVED:
            continue
        try:
            data, index = read_yaml(path, env, root=base)
        except ConfigError as exc:
            errors.append(exc)
            continue
        named = data.get("kind", DEFAULT_KIND) if isinstance(data, dict) else DEFAULT_KIND
        kind = kinds.get(named) if isinstance(named, str) else None
        files.append((kind.rank if kind is not None else 0, path, data, index))
    # A job names reconciliations: kinds that refer to others load after them (a stable sort).
    for path, data, index in _referred_first(sorted(files, key=lambda item: item[0]), kinds):
        _load_file(path, data, index, config, errors)
    if errors:
        raise ConfigErrors(errors)
    return config
