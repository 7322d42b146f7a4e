"""``interlock demo``: the seed scenarios fired at a running router, and what each instance did.

The first command to run after ``make run``: it signs webhooks as Salesforce, Stripe and Shopify
do, sends them to the router, follows every workflow instance through the admin API and prints a
report (docs/demo.md). Importing this package registers the command.
"""

from actors.demo.cli import add_cli
from actors.demo.flow import Options, run_demo
from router.registry import register_commands

register_commands(add_cli)

__all__ = ["Options", "add_cli", "run_demo"]
