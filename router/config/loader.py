"""Load and cross-check a routes folder into a :class:`RouterConfig`.

Every problem found is collected (not just the first) and raised as one :class:`ConfigErrors`, whose
lines read ``file:line: field: message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from router import registry
from router.config._yaml import LineIndex, read_yaml
from router.config.models import (
    STEP_TAGS,
    ConnectorSpec,
    RequestReplySpec,
    RouteSpec,
    SourceSpec,
)
from router.config.typecheck import chain_problems
from router.errors import ConfigError

SOURCES_FILE = "sources.yaml"
CONNECTORS_FILE = "connectors.yaml"
RESERVED = {SOURCES_FILE, CONNECTORS_FILE}


class ConfigErrors(ConfigError):  # noqa: N818 - a collection of ConfigError
    """Several configuration errors at once; ``errors`` keeps each with its file and line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))

    def render(self) -> str:
        return "\n".join(e.render() for e in getattr(self, "errors", []))


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    name: str
    kind: str
    settings: BaseModel


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    spec: SourceSpec
    verifier_settings: BaseModel | None


@dataclass(slots=True)
class RouterConfig:
    """A validated routes folder: what the engine runs."""

    base: Path
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    routes: dict[str, RouteSpec] = field(default_factory=dict)
    request_reply: dict[str, RequestReplySpec] = field(default_factory=dict)
    workflows: dict[str, Any] = field(default_factory=dict)  # id -> WorkflowSpec
    warnings: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # defined but broken: no cascade of errors


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
    if not path.exists():
        return {}, None
    try:
        data, index = read_yaml(path, env)
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
    kinds: Mapping[str, registry.ComponentSpec[Any]],
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
        errors.append(index.error(key, f"unknown {what} {chosen!r} (known: {known})"))
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
        if scheme in (None, "none"):
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


def _check_route(
    route: RouteSpec | RequestReplySpec,
    index: LineIndex,
    config: RouterConfig,
    errors: list[ConfigError],
) -> None:
    known = registry.transforms()
    if isinstance(route, RouteSpec):
        source = route.from_.source
        if source not in config.sources and f"source:{source}" not in config.invalid:
            errors.append(index.error(("from", "source"), f"unknown source {source!r}"))
    else:
        for i, name in enumerate(route.reply):
            if name not in known:
                errors.append(index.error(("reply", i), f"unknown transform {name!r}"))
    transform_steps = [(i, s) for i, s in enumerate(route.steps) if hasattr(s, "transform")]
    missing = False
    for i, step in transform_steps:
        name = step.transform
        if name not in known:
            missing = True
            errors.append(index.error(("steps", i, "transform"), f"unknown transform {name!r}"))
    if not missing:
        for i, problem in chain_problems([known[name] for name in route.transforms]):
            step_index = transform_steps[i][0]
            errors.append(index.error(("steps", step_index, "transform"), problem))
    target = route.target.connector
    to_loc = ("steps", len(route.steps) - 1, "to")
    if target not in config.connectors and f"connector:{target}" not in config.invalid:
        errors.append(index.error((*to_loc, "connector"), f"unknown connector {target!r}"))
    operation = route.target.operation
    if operation is not None and target in config.connectors:
        offered = registry.connectors()[config.connectors[target].kind].operations
        if operation not in offered:
            names = ", ".join(sorted(offered)) or "none: it takes method and path"
            message = f"connector {target!r} has no operation {operation!r} (it offers: {names})"
            errors.append(index.error((*to_loc, "operation"), message))


def _load_workflow(
    path: Path, data: Any, index: LineIndex, config: RouterConfig, errors: list[ConfigError]
) -> None:
    # Imported here: router.workflows builds on router.config's models.
    from router.workflows.check import workflow_problems  # noqa: PLC0415
    from router.workflows.service import trigger_route  # noqa: PLC0415
    from router.workflows.spec import WorkflowSpec  # noqa: PLC0415

    spec = _validate(WorkflowSpec, data, index, (), errors)
    if spec is None:
        return
    if spec.id != path.stem:
        errors.append(
            index.error(("id",), f"workflow id {spec.id!r} must equal the file stem {path.stem!r}")
        )
        return
    problems = workflow_problems(spec, config)
    errors.extend(index.error(loc, message) for loc, message in problems)
    if not problems:
        config.workflows[spec.id] = spec
        config.routes[spec.id] = trigger_route(spec)


def load_config(base: Path | str, env: Mapping[str, str] | None = None) -> RouterConfig:
    """Read, validate and cross-check a routes folder; raise :class:`ConfigErrors` if wrong."""
    base = Path(base)
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no such routes folder")
    errors: list[ConfigError] = []
    config = RouterConfig(base=base)
    _load_sources(base, env, errors, config)
    _load_connectors(base, env, errors, config)
    errors.extend(
        ConfigError("route files end in .yaml; this file is ignored", file=str(path), line=1)
        for path in sorted(base.glob("*.yml"))
    )
    for path in sorted(base.glob("*.yaml")):
        if path.name in RESERVED:
            continue
        try:
            data, index = read_yaml(path, env)
        except ConfigError as exc:
            errors.append(exc)
            continue
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind == "workflow":
            _load_workflow(path, data, index, config, errors)
            continue
        synchronous = kind == "request-reply"
        model: type[RouteSpec | RequestReplySpec] = RequestReplySpec if synchronous else RouteSpec
        route = _validate(model, data, index, (), errors)
        if route is None:
            continue
        if route.id != path.stem:
            errors.append(
                index.error(
                    ("id",), f"route id {route.id!r} must equal the file stem {path.stem!r}"
                )
            )
            continue
        _check_route(route, index, config, errors)
        if isinstance(route, RequestReplySpec):
            config.request_reply[route.id] = route
        else:
            config.routes[route.id] = route
    if errors:
        raise ConfigErrors(errors)
    return config
