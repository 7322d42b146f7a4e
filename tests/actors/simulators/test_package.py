"""The public names of ``actors.simulators`` are deliberate; this pins them."""

from __future__ import annotations

import actors.simulators
from router import registry


def test_public_names() -> None:
    assert sorted(actors.simulators.__all__) == sorted(
        [
            "SIMULATORS",
            "DynamicsSimulator",
            "Faults",
            "NetSuiteSimulator",
            "SalesforceSimulator",
            "ShopifySimulator",
            "Simulator",
            "SimulatorSet",
            "SimulatorThread",
            "StripeSimulator",
            "WebhookTargetSimulator",
            "ZendeskSimulator",
            "add_cli",
            "start",
        ]
    )
    assert list(actors.simulators.SIMULATORS) == [
        "netsuite",
        "dynamics",
        "stripe",
        "salesforce",
        "zendesk",
        "shopify",
        "webhook",
    ]


def test_the_simulate_command_is_registered() -> None:
    assert actors.simulators.add_cli in registry.commands()
