"""Local simulators of the SaaS systems Interlock talks to, for tests, demos and benchmarks.

Each is a real aiohttp server that speaks the vendor's paths, auth, upsert and idempotency rules
and error shapes, with fault injection and an inspection API under ``/_sim/``. See
docs/simulators.md. ``interlock simulate`` (an ``interlock.commands`` entry point) and
``python -m simulators`` run them.
"""

from simulators._base import Faults, Simulator
from simulators.cli import add_cli
from simulators.dynamics import DynamicsSimulator
from simulators.netsuite import NetSuiteSimulator
from simulators.runner import SIMULATORS, SimulatorSet, SimulatorThread, start
from simulators.salesforce import SalesforceSimulator
from simulators.shopify import ShopifySimulator
from simulators.stripe import StripeSimulator
from simulators.webhook_target import WebhookTargetSimulator
from simulators.zendesk import ZendeskSimulator

__all__ = [
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
