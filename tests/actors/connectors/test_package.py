"""Pins the public names of actors.connectors and what it registers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import actors.connectors
from router.registry import connectors

MINIMAL: dict[str, dict[str, object]] = {
    "http": {"base_url": "https://x.example"},
    "log": {},
    "null": {},
    "netsuite": {"base_url": "https://1.suitetalk.api.netsuite.com"},
    "dynamics": {"base_url": "https://org.crm.dynamics.com"},
    "stripe": {},
    "salesforce": {"base_url": "https://x.my.salesforce.com"},
    "zendesk": {"base_url": "https://x.zendesk.com"},
    "shopify": {"base_url": "https://x.myshopify.com"},
}


def test_public_names() -> None:
    assert sorted(actors.connectors.__all__) == [
        "ClientConfig",
        "ConnectorMetrics",
        "dynamics",
        "http",
        "netsuite",
        "salesforce",
        "shopify",
        "sinks",
        "stripe",
        "zendesk",
    ]
    # The registry is the one list of kinds; every kind the package registers is tested here.
    shipped = {
        k for k, spec in connectors().items() if spec.factory.__module__.startswith("actors.")
    }
    assert shipped == set(MINIMAL)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_configs_are_frozen_forbid_extras_and_build_a_connector(kind: str) -> None:
    spec = connectors()[kind]
    config = spec.config_model.model_validate(MINIMAL[kind])
    connector = spec.factory("c", config)
    assert connector.timeout_s > 0 and connector.concurrency >= 1
    with pytest.raises(ValidationError):
        spec.config_model.model_validate({**MINIMAL[kind], "unexpected": 1})
    assert spec.config_model.model_config.get("frozen") is True


def test_bad_allow_hosts_and_urls_are_config_errors() -> None:
    model = connectors()["http"].config_model
    with pytest.raises(ValidationError, match="base_url"):
        model.model_validate({"base_url": "ftp://x"})
    with pytest.raises(ValidationError, match="url_from"):
        model.model_validate({"base_url": "https://x.example", "url_from": "no-slash"})
    with pytest.raises(ValidationError, match="host:port"):
        model.model_validate({"base_url": "https://x.example", "allow_hosts": ["nope"]})
