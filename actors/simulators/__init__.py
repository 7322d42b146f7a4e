"""Local simulators of the SaaS systems Interlock talks to, for tests, demos and benchmarks.

Each is a real aiohttp server that speaks the vendor's paths, auth, upsert and idempotency rules
and error shapes, with fault injection and an inspection API under ``/_sim/``. See
docs/simulators.md. Importing this package registers the ``interlock simulate`` command.
"""

from actors.simulators._base import Faults, Simulator
from actors.simulators.cli import add_cli
from actors.simulators.dynamics import DynamicsSimulator
from actors.simulators.netsuite import NetSuiteSimulator
from actors.simulators.runner import SIMULATORS, SimulatorSet, SimulatorThread, start
from actors.simulators.salesforce import SalesforceSimulator
from actors.simulators.shopify import ShopifySimulator
from actors.simulators.stripe import StripeSimulator
from actors.simulators.webhook_target import WebhookTargetSimulator
from actors.simulators.zendesk import ZendeskSimulator
from router.registry import register_commands

register_commands(add_cli)

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
