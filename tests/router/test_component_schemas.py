"""The JSON Schemas of ``connectors.yaml`` and ``sources.yaml``, checked by ``jsonschema``.

They are built from the registered component models, so the shipped routes folder must validate
against them (after ``${ENV}`` substitution, as ``interlock check`` reads it), and a field a
kind does not have, or an unknown kind or scheme, must not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from router.config._yaml import read_yaml
from router.schema import schema_for

ROOT = Path(__file__).resolve().parents[2]


def _shipped(name: str) -> dict[str, Any]:
    data, _ = read_yaml(ROOT / "routes" / name, {})
    assert isinstance(data, dict)
    return data


def _validator(what: str) -> jsonschema.Draft202012Validator:
    schema = schema_for(what)
    jsonschema.Draft202012Validator.check_schema(schema)  # the schema itself is valid 2020-12
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_connectors_validate_and_every_kind_has_its_own_fields() -> None:
    validator = _validator("connectors")
    errors = [e.message for e in validator.iter_errors(_shipped("connectors.yaml"))]
    assert errors == []
    variants = schema_for("connectors")["$defs"]
    assert "base_url" in variants["connector-netsuite"]["properties"]  # not just `kind`


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "http", "base_url": "http://127.0.0.1:9", "tiemout": "2s"},  # a typo'd field
        {"kind": "htp", "base_url": "http://127.0.0.1:9"},  # an unknown kind
        {"base_url": "http://127.0.0.1:9"},  # no kind
    ],
)
def test_a_wrong_connector_is_refused(entry: dict[str, Any]) -> None:
    assert not _validator("connectors").is_valid({"erp": entry})


def test_the_shipped_sources_validate_and_a_wrong_verify_block_is_refused() -> None:
    validator = _validator("sources")
    assert [e.message for e in validator.iter_errors(_shipped("sources.yaml"))] == []
    wrong = {"shop": {"type": "/type", "verify": {"scheme": "stripe", "secret": ["x"]}}}
    assert not validator.is_valid(wrong)  # stripe takes `secrets`
    unknown = {"shop": {"type": "/type", "verify": {"scheme": "strip", "secrets": ["x"]}}}
    assert not validator.is_valid(unknown)
