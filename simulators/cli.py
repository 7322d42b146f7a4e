"""``interlock simulate``: run the SaaS simulators until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any

import typer

from simulators.datasets import Accounts, Payments
from simulators.runner import SIMULATORS, SimulatorSet, start

_NAMES_HELP = f"Simulators to start (default all): {', '.join(SIMULATORS)}"


def _parse_settings(pairs: list[str]) -> dict[str, dict[str, Any]]:
    settings: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or name not in SIMULATORS:
            raise typer.BadParameter(f"expected NAME.KEY=VALUE, got {pair!r}", param_hint="--set")
        settings.setdefault(name, {})[key] = value
    return settings


def _describe(sims: SimulatorSet) -> list[str]:
    lines = []
    for name in sims.names:
        config = sims.config(name)
        creds = "  ".join(f"{k}={v}" for k, v in config.items() if k != "base_url" and v)
        lines.append(f"{name:<11} {sims.url(name)}  {creds}".rstrip())
    return lines


async def _serve(
    names: list[str],
    host: str,
    base_port: int,
    settings: dict[str, dict[str, Any]],
    exit_after: float | None,
    demo: bool = False,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        sims = await start(names or None, host=host, base_port=base_port, settings=settings)
    except (KeyError, TypeError, OSError) as exc:
        typer.echo(f"cannot start simulators: {exc}", err=True)
        raise typer.Exit(1) from None
    if demo:
        seed_demo(sims, reconciliation=True)
    try:
        for line in _describe(sims):
            typer.echo(line)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), exit_after)
    finally:
        await sims.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def simulate(
    names: Annotated[list[str] | None, typer.Argument(help=_NAMES_HELP)] = None,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    base_port: Annotated[
        int, typer.Option(help="0: ephemeral ports; else the n-th simulator binds BASE_PORT+n")
    ] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a credential: NAME.KEY=VALUE (repeatable)"),
    ] = None,
    exit_after: Annotated[
        float | None, typer.Option(hidden=True, help="Stop after SECONDS (for tests)")
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(help="Preload demo data (stock; reconciliation data sets with a known drift)"),
    ] = False,
) -> None:
    """Run local simulators of NetSuite, Dynamics 365, Stripe, Salesforce, Zendesk, Shopify and a
    generic webhook target, printing each URL and its demo credentials (see docs/simulators.md).
    """
    unknown = [n for n in names or [] if n not in SIMULATORS]
    if unknown:
        raise typer.BadParameter(f"unknown {unknown}; choose from {list(SIMULATORS)}")
    settings = _parse_settings(set_ or [])
    asyncio.run(_serve(names or [], host, base_port, settings, exit_after, demo))


DEMO_INVENTORY = [("SKU-1", "WH-EAST", 12), ("SKU-1", "WH-WEST", 3), ("SKU-2", "WH-EAST", 0)]


# The reconciliation scenarios' data (routes/payments-daily.yaml, routes/accounts-hourly.yaml):
# systems that agree except for a small, known drift. Their ids (in_recon*, in_extra*, 001RC*,
# cus_acct*) are the data sets' own, apart from every id the simulators or the demo make.
def demo_payments() -> Payments:
    """50 paid Stripe invoices: 3 without their NetSuite payment, 2 paid another amount, and 1
    NetSuite payment of no invoice."""
    return Payments(n=50, missing=3, mismatched=2, extra=1)


def demo_accounts() -> Accounts:
    """40 Salesforce customer accounts: 2 not in NetSuite, 1 named otherwise there, 2 without a
    Stripe customer."""
    return Accounts(n=40, missing_erp=2, renamed_erp=1, missing_billing=2)


def seed_demo(sims: SimulatorSet, *, reconciliation: bool = False) -> None:
    """The quickstart's data: on-hand stock the inventory-availability route reads from Dynamics.

    With ``reconciliation``, also the reconciliations' two data sets, each with a known drift:
    paid Stripe invoices and their NetSuite payments (:func:`demo_payments`), and Salesforce
    customer accounts with their NetSuite and Stripe customers (:func:`demo_accounts`).
    ``interlock simulate --demo`` (so ``make run``) loads both; the default is stock alone, for
    the tests that count the records their workflows create. Call it on the simulators' event
    loop, once.
    """
    names = set(sims.names)
    if "dynamics" in names:
        store = sims.simulator("dynamics").store
        for sku, warehouse, quantity in DEMO_INVENTORY:
            data = {
                "msdyn_itemnumber": sku,
                "msdyn_warehouse": warehouse,
                "msdyn_availablequantity": quantity,
            }
            store.upsert("msdyn_inventoryonhands", f"{sku}@{warehouse}", data)
    if not reconciliation:
        return
    if {"stripe", "netsuite"} <= names:
        payments = demo_payments()
        sims.simulator("stripe").seed_many("invoice", payments.invoices())
        sims.simulator("netsuite").seed_many("customerPayment", payments.payments())
    if {"salesforce", "netsuite", "stripe"} <= names:
        accounts = demo_accounts()
        sims.simulator("salesforce").seed_many("Account", accounts.accounts())
        sims.simulator("netsuite").seed_many("customer", accounts.customers())
        sims.simulator("stripe").seed_many("customer", accounts.stripe_customers())


def add_cli(app: typer.Typer) -> None:
    """Add ``simulate`` to ``app`` (``interlock``: an ``interlock.commands`` entry point)."""
    app.command("simulate")(simulate)
