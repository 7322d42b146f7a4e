"""The public names of ``simulators`` are deliberate; this pins them."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import demo
import simulators


def test_public_names() -> None:
    assert sorted(simulators.__all__) == sorted(
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
    assert list(simulators.SIMULATORS) == [
        "netsuite",
        "dynamics",
        "stripe",
        "salesforce",
        "zendesk",
        "shopify",
        "webhook",
    ]


def test_simulate_and_demo_are_interlock_commands_by_entry_point() -> None:
    commands = {e.name: e for e in importlib.metadata.entry_points(group="interlock.commands")}
    assert commands["simulate"].load() is simulators.add_cli
    assert commands["demo"].load() is demo.add_cli


PRODUCTION = """
import sys
from router import registry
from router.config import load_config
from router.engine import Engine
registry.load_plugins()
load_config("routes")
roots = ("simulators", "demo", "tests")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in roots or m == "router.testing")
print(len(sys.modules), loaded)
"""


def test_the_production_router_never_imports_the_simulators_or_the_demo() -> None:
    """The engine, every plugin and the shipped routes loaded: no test double among them."""
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION], capture_output=True, text=True, check=True, timeout=120
    )
    count, loaded = done.stdout.split(" ", 1)
    assert loaded.strip() == "[]", loaded
    assert int(count) > 100  # the engine and the plugins did load
