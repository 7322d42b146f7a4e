"""``interlock schema`` and ``interlock check`` agree (issue 15, finding 14).

* Every shipped file in ``routes/`` validates, with the real ``check-jsonschema`` CLI, against the
  schema ``interlock schema <kind>`` prints for it.
* Every ``examples`` entry of every emitted schema validates against its own subschema.
* A corpus of files ``interlock check`` rejects, each also rejected by the schema when JSON Schema
  can say why (``EXPRESSED``); the ones it cannot (``NOT_EXPRESSIBLE``) are listed with the reason,
  and stay accepted by the schema, so a rule that becomes expressible shows up here.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from router.config import ConfigErrors, load_config
from router.schema import schema_for, schema_names
from router.testing import Sink

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ROOT / "routes"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
Doc = dict[str, Any]


def _kind_of(file: Path) -> str:
    if file.name in ("sources.yaml", "connectors.yaml"):
        return file.stem
    data = yaml.safe_load(file.read_text())
    kind = data.get("kind", "route") if isinstance(data, dict) else "route"
    assert isinstance(kind, str)
    return kind


def _by_kind() -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for file in sorted(ROUTES.glob("*.yaml")):
        out.setdefault(_kind_of(file), []).append(file)
    return out


@pytest.fixture(scope="module")
def schema_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``interlock schema <kind>`` as the CLI prints it, one file per kind."""
    folder = tmp_path_factory.mktemp("schemas")
    cli = Path(sys.executable).parent / "interlock"
    out = {}
    for what in schema_names():
        result = subprocess.run(
            [str(cli), "schema", what], capture_output=True, text=True, check=True, timeout=60
        )
        out[what] = folder / f"{what}.json"
        out[what].write_text(result.stdout)
    return out


# -- the shipped files, by the real CLI --------------------------------------------------------


def test_every_shipped_file_has_a_schema_of_its_kind() -> None:
    kinds = _by_kind()
    assert set(kinds) <= set(schema_names()), kinds
    assert sum(len(files) for files in kinds.values()) == len(list(ROUTES.glob("*.yaml")))
    assert {"route", "workflow", "sources", "connectors"} <= set(kinds)


@pytest.mark.parametrize("kind", sorted(_by_kind()))
def test_check_jsonschema_accepts_the_shipped_files(
    kind: str, schema_files: dict[str, Path]
) -> None:
    files = [str(f) for f in _by_kind()[kind]]
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema_files[kind]), *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_check_jsonschema_rejects_a_wrong_file(
    schema_files: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "demo-orders.yaml"
    bad.write_text((ROUTES / "demo-orders.yaml").read_text() + "colour: blue\n")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema_files["route"]), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "colour" in result.stdout


def test_canonical_is_one_json_schema_document() -> None:
    schema = schema_for("canonical")
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"Customer", "Invoice", "Payment"} <= set(schema["$defs"])
    assert {"$ref": "#/$defs/Invoice"} in schema["anyOf"]
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"not": "a canonical document"})


# -- examples ----------------------------------------------------------------------------------


def _with_examples(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Doc]]:
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list):
            yield "/".join(map(str, path)), node
        for key, value in node.items():
            if key not in ("examples", "default", "const", "enum"):
                yield from _with_examples(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _with_examples(value, (*path, i))


def test_every_example_validates_against_its_own_subschema() -> None:
    checked, failures = 0, []
    for what in schema_names():
        root = schema_for(what)
        jsonschema.Draft202012Validator.check_schema(root)
        for where, sub in _with_examples(root):
            validator = jsonschema.Draft202012Validator({**sub, "$defs": root.get("$defs", {})})
            for example in sub["examples"]:
                checked += 1
                failures += [
                    f"{what}:{where}: {example!r}: {e.message}"
                    for e in validator.iter_errors(example)
                ]
    assert failures == []
    assert checked >= 20  # durations, paths, pointers... are all exercised


# -- what `check` rejects, the schema rejects where it can say so ------------------------------

Mutation = Callable[[Any], None]


def _set(path: str, value: Any) -> Mutation:
    *parents, last = path.split(".")

    def mutate(doc: Any) -> None:
        for part in parents:
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        doc[int(last) if isinstance(doc, list) else last] = value

    return mutate


def _drop(path: str) -> Mutation:
    *parents, last = path.split(".")

    def mutate(doc: Any) -> None:
        for part in parents:
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        del doc[last]

    return mutate


# (id, shipped file changed, the change) -> JSON Schema says it: the schema must reject it.
EXPRESSED: dict[str, tuple[str, Mutation]] = {
    "route: unknown field": ("demo-orders.yaml", _set("colour", "blue")),
    "route: unknown field in a step": ("demo-orders.yaml", _set("steps.0.to.colour", "blue")),
    "route: bad duration": ("demo-orders.yaml", _set("retry.initial", "5 parsecs")),
    "route: negative duration": ("demo-orders.yaml", _set("retry.initial", -1)),
    "route: a duration too large for a float": ("demo-orders.yaml", _set("retry.max", 10**400)),
    "route: empty steps": ("demo-orders.yaml", _set("steps", [])),
    "route: no from": ("demo-orders.yaml", _drop("from")),
    "route: id not kebab-case": ("demo-orders.yaml", _set("id", "Demo_Orders")),
    "route: max_attempts 0": ("demo-orders.yaml", _set("retry.max_attempts", 0)),
    "route: unknown backoff": ("demo-orders.yaml", _set("retry.backoff", "linear")),
    "route: a step neither transform nor to": ("demo-orders.yaml", _set("steps.0", {"x": 1})),
    "sources: unknown scheme": ("sources.yaml", _set("stripe.verify.scheme", "pgp")),
    "sources: stripe given `secret`": (
        "sources.yaml",
        _set("stripe.verify", {"scheme": "stripe", "secret": ["x"]}),
    ),
    "sources: hmac algorithm md5": ("sources.yaml", _set("salesforce.verify.algorithm", "md5")),
    "sources: hmac header not a token": ("sources.yaml", _set("salesforce.verify.header", "X Sig")),
    "sources: tolerance 0": ("sources.yaml", _set("stripe.verify.tolerance_s", 0)),
    "sources: no secrets": ("sources.yaml", _set("stripe.verify.secrets", [])),
    "sources: a blank secret": ("sources.yaml", _set("stripe.verify.secrets", ["  "])),
    "connectors: a blank secret": ("connectors.yaml", _set("orders-api.auth.token", " ")),
    "sources: unknown format": ("sources.yaml", _set("demo.format", "xml")),
    "sources: max_file_mb 0": ("sources.yaml", _set("order-files.max_file_mb", 0)),
    "connectors: base_url not http": (
        "connectors.yaml",
        _set("dry-run", {"kind": "http", "base_url": "ftp://x"}),
    ),
    "connectors: unknown kind": ("connectors.yaml", _set("dry-run.kind", "carrier-pigeon")),
    "connectors: no kind": ("connectors.yaml", _drop("dry-run.kind")),
    "connectors: typo'd field": ("connectors.yaml", _set("ops-alerts.tiemout", "2s")),
    "connectors: concurrency 0": ("connectors.yaml", _set("ops-alerts.concurrency", 0)),
    "connectors: rate 0": ("connectors.yaml", _set("ops-alerts.rate_limit", {"rate_per_s": 0})),
    "connectors: unknown auth kind": (
        "connectors.yaml",
        _set("ops-alerts.auth", {"kind": "kerberos"}),
    ),
    "job: no reconcile": ("accounts-hourly.yaml", _set("reconcile", [])),
    "job: unknown missed": ("accounts-hourly.yaml", _set("missed", "catch_up")),
    "request-reply: unknown cache field": ("inventory-availability.yaml", _set("cache.size", 5)),
    "alerts: unknown field": ("alerts.yaml", _set("colour", "blue")),
}

# (id, shipped file changed, the change, why JSON Schema cannot say it) -> only `check` rejects.
NOT_EXPRESSIBLE: dict[str, tuple[str, Mutation, str]] = {
    "route: id is not the file stem": (
        "demo-orders.yaml",
        _set("id", "other-orders"),
        "the file's name is not part of the document",
    ),
    "route: unknown source": (
        "demo-orders.yaml",
        _set("from.source", "ghost"),
        "a reference to another file (sources.yaml)",
    ),
    "route: unknown connector": (
        "demo-orders.yaml",
        _set("steps.0.to.connector", "phantom"),
        "a reference to another file (connectors.yaml)",
    ),
    "route: unknown transform": (
        "demo-orders.yaml",
        _set("steps", [{"transform": "nobody.nothing"}, {"to": {"connector": "dry-run"}}]),
        "the registry of transforms the plugins load at run time",
    ),
    "route: to: not the last step": (
        "demo-orders.yaml",
        _set("steps", [{"to": {"connector": "dry-run"}}, {"transform": "nobody.nothing"}]),
        "'the last item, and only it' has no JSON Schema keyword (contains counts, not places)",
    ),
    "route: initial above max": (
        "demo-orders.yaml",
        _set("retry", {"initial": "10m", "max": "1s"}),
        "a comparison of two values (and of two units)",
    ),
    "route: key is not a JSON Pointer": (
        "demo-orders.yaml",
        _set("key", "customer"),
        "JSON Pointer syntax is checked by router.pointer (escapes, and `header:` forms elsewhere)",
    ),
    "job: unknown reconciliation": (
        "accounts-hourly.yaml",
        _set("reconcile", ["ghost"]),
        "a reference to another file",
    ),
    "job: bad cron": (
        "accounts-hourly.yaml",
        _set("schedule", {"cron": "61 * * * *"}),
        "cron field ranges, parsed by router.jobs.cron",
    ),
    "job: every under a minute": (
        "accounts-hourly.yaml",
        _set("schedule", {"every": "30s"}),
        "a bound on a duration written with units",
    ),
    "sources: hmac payload without {body}": (
        "sources.yaml",
        _set("salesforce.verify.signed_payload", "{timestamp}"),
        "a template rule tied to another field (timestamp_header)",
    ),
    "sources: a files source with verify": (
        "sources.yaml",
        _set("order-files.verify", {"scheme": "none"}),
        "a rule across fields, by format, in SourceSpec's model validator",
    ),
    "connectors: allow_hosts entry without a port": (
        "connectors.yaml",
        _set("ops-alerts.allow_hosts", ["example.com"]),
        "host patterns are parsed by actors.connectors._ssrf.HostPattern",
    ),
    "workflow: unknown connector": (
        "customer-onboarding.yaml",
        _set("steps.0.call.connector", "phantom"),
        "a reference to another file (connectors.yaml)",
    ),
}


def _mutated(tmp_path: Path, file: str, mutate: Mutation) -> tuple[Path, Doc]:
    folder = tmp_path / "routes"
    shutil.copytree(ROUTES, folder)
    doc = yaml.safe_load((folder / file).read_text())
    mutate(doc)
    (folder / file).write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder, copy.deepcopy(doc)


def _check_rejects(folder: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_config(folder, env={})
    return [e.render() for e in caught.value.errors]


def _schema_errors(file: str, doc: Doc) -> list[str]:
    schema = schema_for(_kind_of(ROUTES / file))
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


@pytest.mark.parametrize("case", EXPRESSED, ids=list(EXPRESSED))
def test_what_check_rejects_the_schema_rejects(case: str, tmp_path: Path) -> None:
    file, mutate = EXPRESSED[case]
    folder, doc = _mutated(tmp_path, file, mutate)
    assert _check_rejects(folder)
    assert _schema_errors(file, doc), f"{case}: the schema accepts what `check` rejects"


@pytest.mark.parametrize("case", NOT_EXPRESSIBLE, ids=list(NOT_EXPRESSIBLE))
def test_what_only_check_can_reject_is_listed_with_its_reason(case: str, tmp_path: Path) -> None:
    file, mutate, reason = NOT_EXPRESSIBLE[case]
    assert reason
    folder, doc = _mutated(tmp_path, file, mutate)
    assert _check_rejects(folder)
    assert _schema_errors(file, doc) == [], f"{case}: now expressed, move it to EXPRESSED"


def test_yaml_level_refusals_are_not_the_schemas_to_make() -> None:
    """Tags, merge keys, aliases, nesting and size bounds, duplicate keys (test_config_hardened,
    test_config) are refused while the YAML is read, before a document exists to validate."""
    assert json.dumps(schema_for("route"))  # nothing to check: the reason is the record


# -- the admin API's OpenAPI document ----------------------------------------------------------


def test_the_served_admin_openapi_document_is_valid_openapi_3_1(tmp_path: Path, sink: Sink) -> None:
    """``openapi-spec-validator`` on ``GET /openapi.json`` as a live admin listener serves it."""
    import urllib.request

    from openapi_spec_validator import validate

    from tests.support.admin_server import AUTH, TOKENS, AdminServer, routes_folder

    admin = AdminServer(routes_folder(tmp_path, sink), tmp_path / "data", TOKENS).start()
    try:
        request = urllib.request.Request(f"{admin.url}/openapi.json", headers=AUTH)
        with urllib.request.urlopen(request, timeout=10) as response:
            document = json.loads(response.read())
    finally:
        admin.stop()
    validate(document)  # raises OpenAPIValidationError with the path of the first problem
    assert document["openapi"].startswith("3.1")
    assert "/dead-letters" in document["paths"]
