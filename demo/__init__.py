"""``interlock demo``: the seed scenarios fired at a running router, and what each instance did.

The first command to run after ``make run``: it signs webhooks as Salesforce, Stripe and Shopify
do, sends them to the router, follows every workflow instance through the admin API and prints a
report (docs/demo.md). `interlock demo` finds it through the ``interlock.commands`` entry point.
"""

from demo.cli import add_cli
from demo.flow import Options, run_demo

__all__ = ["Options", "add_cli", "run_demo"]
