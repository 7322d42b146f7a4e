"""Pins the public names of actors.sources and what it registers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import actors.sources
from router.errors import SignatureError
from router.registry import verifiers
from router.verify import Verified, Verifier

EXPECTED = {
    "stripe": actors.sources.StripeSignatureConfig,
    "standard-webhooks": actors.sources.StandardWebhooksConfig,
    "github": actors.sources.GitHubSignatureConfig,
    "shopify": actors.sources.ShopifySignatureConfig,
    "zendesk": actors.sources.ZendeskSignatureConfig,
    "hmac": actors.sources.HmacSignatureConfig,
    "bearer": actors.sources.BearerTokenConfig,
    "none": actors.sources.NoVerificationConfig,
}
MINIMAL: dict[str, dict[str, object]] = {
    "stripe": {"secrets": ["whsec_x"]},
    "standard-webhooks": {"secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
    "github": {"secrets": ["s"]},
    "shopify": {"secrets": ["s"]},
    "zendesk": {"secrets": ["s"]},
    "hmac": {"secrets": ["s"], "header": "X-Signature"},
    "bearer": {"tokens": ["t"]},
    "none": {},
}


def test_public_names() -> None:
    assert sorted(actors.sources.__all__) == [
        "BearerTokenConfig",
        "BearerTokenVerifier",
        "GitHubSignatureConfig",
        "GitHubSignatureVerifier",
        "HmacSignatureConfig",
        "HmacSignatureVerifier",
        "NoVerificationConfig",
        "NoVerifier",
        "ShopifySignatureConfig",
        "ShopifySignatureVerifier",
        "StandardWebhooksConfig",
        "StandardWebhooksVerifier",
        "StripeSignatureConfig",
        "StripeSignatureVerifier",
        "ZendeskSignatureConfig",
        "ZendeskSignatureVerifier",
    ]
    assert set(verifiers()) == set(EXPECTED)  # the registry is the one list of schemes


def test_every_scheme_is_registered_with_its_config_model() -> None:
    registered = verifiers()
    for scheme, model in EXPECTED.items():
        assert registered[scheme].config_model is model


@pytest.mark.parametrize("scheme", sorted(EXPECTED))
def test_configs_are_frozen_forbid_extras_and_build_a_verifier(scheme: str) -> None:
    spec = verifiers()[scheme]
    config = spec.config_model.model_validate(MINIMAL[scheme])
    verifier: Verifier = spec.factory(config)
    # Unsigned junk: only `none` accepts it, every other scheme answers with a SignatureError.
    try:
        result = verifier.verify({"X-Junk": "\udcff"}, b"{}", 0.0)
    except SignatureError:
        assert scheme != "none"
    else:
        assert scheme == "none"
        assert result == Verified()
    with pytest.raises(ValidationError):
        spec.config_model.model_validate({**MINIMAL[scheme], "unexpected": 1})
    assert spec.config_model.model_config.get("frozen") is True
    for field in type(config).model_fields:
        with pytest.raises(ValidationError, match="frozen"):
            setattr(config, field, getattr(config, field))


def test_verifier_classes_satisfy_the_protocol_statically() -> None:
    # mypy checks each assignment against the Verifier protocol; the runtime check is the count.
    built: list[Verifier] = [
        actors.sources.StripeSignatureVerifier(
            actors.sources.StripeSignatureConfig.model_validate(MINIMAL["stripe"])
        ),
        actors.sources.StandardWebhooksVerifier(
            actors.sources.StandardWebhooksConfig.model_validate(MINIMAL["standard-webhooks"])
        ),
        actors.sources.GitHubSignatureVerifier(
            actors.sources.GitHubSignatureConfig.model_validate(MINIMAL["github"])
        ),
        actors.sources.ShopifySignatureVerifier(
            actors.sources.ShopifySignatureConfig.model_validate(MINIMAL["shopify"])
        ),
        actors.sources.ZendeskSignatureVerifier(
            actors.sources.ZendeskSignatureConfig.model_validate(MINIMAL["zendesk"])
        ),
        actors.sources.HmacSignatureVerifier(
            actors.sources.HmacSignatureConfig.model_validate(MINIMAL["hmac"])
        ),
        actors.sources.BearerTokenVerifier(
            actors.sources.BearerTokenConfig.model_validate(MINIMAL["bearer"])
        ),
        actors.sources.NoVerifier(actors.sources.NoVerificationConfig()),
    ]
    assert len(built) == len(EXPECTED)
