"""A routes folder with one source per verification scheme, plus a CloudEvents source.

Every source has one route (``<source>-to-sink``, any event type) to the ``sink`` connector, an
HTTP connector pointed at a :class:`router.testing.Sink`. The secrets below are the literal
values in ``sources.yaml``, so tests can sign with them; each signing scheme lists a second,
rotated-out secret that must still verify.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

STRIPE_SECRETS = ("whsec_ingress_stripe_current_4f1d2c", "whsec_ingress_stripe_previous_9a8b7c")
STANDARD_SECRETS = (
    "whsec_" + base64.b64encode(b"ingress-standard-webhooks-key-01").decode(),
    "whsec_" + base64.b64encode(b"ingress-standard-webhooks-old-02").decode(),
)
GITHUB_SECRETS = ("It's a Secret to Everybody", "github-rotated-out-secret")
SHOPIFY_SECRETS = ("shpss_ingress_client_secret_1", "shpss_ingress_client_secret_0")
ZENDESK_SECRETS = ("zendesk-signing-secret-current", "zendesk-signing-secret-previous")
HMAC_SECRETS = ("acme-signing-key-current", "acme-signing-key-previous")
BEARER_TOKENS = ("billing-ingest-token-current", "billing-ingest-token-previous")

HMAC_HEADER = "X-Acme-Signature"
HMAC_PREFIX = "v0="
HMAC_TIMESTAMP_HEADER = "X-Acme-Timestamp"
HMAC_ID_HEADER = "X-Acme-Delivery"

CLOUDEVENTS_SOURCE = "events"
ALLOWED_ORIGIN = "sender.example.com"
SCHEMES = ("stripe", "standard-webhooks", "github", "shopify", "zendesk", "hmac", "bearer", "none")
TOLERANCE_S = 300

# The source name is the scheme name; a value here is that source's whole spec.
_SOURCES: dict[str, dict[str, object]] = {
    "stripe": {
        "verify": {"scheme": "stripe", "secrets": list(STRIPE_SECRETS), "tolerance_s": TOLERANCE_S},
        "type": "/type",
        "idempotency_key": "/id",
    },
    "standard-webhooks": {
        "verify": {
            "scheme": "standard-webhooks",
            "secrets": list(STANDARD_SECRETS),
            "tolerance_s": TOLERANCE_S,
        },
        "type": "/type",
    },
    "github": {
        "verify": {"scheme": "github", "secrets": list(GITHUB_SECRETS)},
        "type": "header:X-GitHub-Event",
        "fixed_type": "github.event",
    },
    "shopify": {
        "verify": {"scheme": "shopify", "secrets": list(SHOPIFY_SECRETS)},
        "type": "header:X-Shopify-Topic",
        "fixed_type": "shopify.event",
    },
    "zendesk": {
        "verify": {
            "scheme": "zendesk",
            "secrets": list(ZENDESK_SECRETS),
            "tolerance_s": TOLERANCE_S,
        },
        "type": "/type",
        "idempotency_key": "/id",
    },
    "hmac": {
        "verify": {
            "scheme": "hmac",
            "secrets": list(HMAC_SECRETS),
            "header": HMAC_HEADER,
            "prefix": HMAC_PREFIX,
            "timestamp_header": HMAC_TIMESTAMP_HEADER,
            "signed_payload": "v0:{timestamp}:{body}",
            "tolerance_s": TOLERANCE_S,
            "id_header": HMAC_ID_HEADER,
        },
        "type": "/type",
    },
    "bearer": {
        "verify": {"scheme": "bearer", "tokens": list(BEARER_TOKENS)},
        "fixed_type": "billing.event",
    },
    "none": {"verify": {"scheme": "none"}, "type": "/type"},
    CLOUDEVENTS_SOURCE: {
        "format": "cloudevents",
        "allowed_origins": [ALLOWED_ORIGIN],
        "verify": {"scheme": "none"},
    },
}


def write_ingress_routes(folder: Path, sink_url: str) -> Path:
    """Write the folder (``sources.yaml``, ``connectors.yaml``, one route per source)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text(yaml.safe_dump(_SOURCES, sort_keys=False))
    (folder / "connectors.yaml").write_text(
        yaml.safe_dump({"sink": {"kind": "http", "base_url": sink_url, "timeout": "5s"}})
    )
    for source in _SOURCES:
        route_id = f"{source}-to-sink"
        route = {
            "id": route_id,
            "from": {"source": source, "type": "*"},
            "steps": [{"to": {"connector": "sink", "path": f"/{source}"}}],
        }
        (folder / f"{route_id}.yaml").write_text(yaml.safe_dump(route, sort_keys=False))
    return folder
