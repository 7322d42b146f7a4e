"""Inbound signature-verification schemes; importing this package registers every one of them.

Each ``verify_<scheme>`` module registers its scheme with :func:`router.plugin.register`
at import. See docs/sources.md for the ``verify:`` block of each.
"""

from actors.sources.verify_bearer import BearerTokenConfig, BearerTokenVerifier
from actors.sources.verify_github import GitHubSignatureConfig, GitHubSignatureVerifier
from actors.sources.verify_hmac import HmacSignatureConfig, HmacSignatureVerifier
from actors.sources.verify_none import NoVerificationConfig, NoVerifier
from actors.sources.verify_shopify import ShopifySignatureConfig, ShopifySignatureVerifier
from actors.sources.verify_standard_webhooks import (
    StandardWebhooksConfig,
    StandardWebhooksVerifier,
)
from actors.sources.verify_stripe import StripeSignatureConfig, StripeSignatureVerifier
from actors.sources.verify_zendesk import ZendeskSignatureConfig, ZendeskSignatureVerifier

__all__ = [
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
