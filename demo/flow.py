"""One demo run, in the order a business would see it.

1. The deals' Accounts are created in Salesforce (the CRM is the system of record, as ever).
2. The deals (quote-to-cash) and the web orders (direct-commerce) are sent, and the deals are
   followed until they settle: each completed deal leaves a Stripe customer and subscription.
3. The invoices (paid, failed) and the seat amendments are sent for those customers and
   subscriptions, as Stripe would send them, and every instance is followed until it settles.
4. The reconciliation jobs (payments-daily, accounts-hourly) are run now through the admin API,
   their reports read, and payments-daily is run again once its repairs are delivered.
5. The report: instances, timelines, SLA figures, the commands for parked instances, and each
   reconciliation's counts and exceptions.

Billing events for customers that do not exist anywhere would only show instances parking on
missing records; chaining them to the deals shows the scenarios working together instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from demo import render, render_recon
from demo.outcome import (
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    Outcome,
    billing_ids,
    exit_code,
    to_json,
)
from demo.payloads import (
    INVOICED,
    WORKFLOWS,
    Batch,
    Billing,
    Trigger,
    account_external_id,
    billing_triggers,
    build_batch,
    company,
    deal_triggers,
    missing_templates,
    new_run_id,
    order_triggers,
)
from demo.reconcile import JobRun, Operator, Reconciling, missing_jobs, reconcile
from demo.render import BILLED, planned
from demo.runner import UnreachableError, Watcher, check_admin, check_router, send_all, wait
from demo.signing import Secrets
from demo.style import Style, detect, live
from demo.vendors import Salesforce, Stripe, VendorApis, VendorError
from router.cli.admin_client import AdminClient
from router.errors import CliError

DEFAULT_ROUTER_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class Options:
    url: str = DEFAULT_ROUTER_URL
    admin_url: str | None = None  # None: from the router's settings (127.0.0.1:8081)
    token: str | None = None  # None: DATA_DIR/admin.token, as `interlock dlq` reads it
    timeout: float = 60.0
    count: int = 3
    as_json: bool = False


class LiveBlock:
    """Lines redrawn in place on a terminal; elsewhere only the final version is written."""

    def __init__(self, stream: TextIO, redraw: bool) -> None:
        self.stream = stream
        self.redraw = redraw
        self.height = 0

    def draw(self, lines: Sequence[str]) -> None:
        if not self.redraw:
            return
        if self.height:
            self.stream.write(f"\x1b[{self.height}F")  # back to the block's first line
        else:
            self.stream.write("\x1b[?25l")  # hide the cursor while redrawing
        for line in lines:
            self.stream.write(f"\x1b[2K{line}\n")
        self.height = len(lines)
        self.stream.flush()

    def close(self, lines: Sequence[str]) -> None:
        if self.redraw:
            self.draw(lines)
            self.stream.write("\x1b[?25h")
        else:
            self.stream.write("".join(f"{line}\n" for line in lines))
        self.stream.flush()


def _in_order(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: WORKFLOWS.index(o.trigger.workflow))


def _held_back(triggers: Sequence[Trigger], why: str) -> list[Outcome]:
    return [Outcome(t, error=why, sent=False) for t in triggers]


class Demo:
    """The state of one run: the router's APIs, the vendors', and every outcome so far."""

    def __init__(self, options: Options, out: TextIO, env: Mapping[str, str]) -> None:
        self.options = options
        self.out = out
        self.style: Style = detect(out, env)
        self.env = env
        self.run_id = new_run_id()
        self.batch = Batch(deals=options.count)
        self.signing = Secrets.from_env(env)
        self.vendors = VendorApis.from_env(env)
        self.outcomes: list[Outcome] = []
        self.block = LiveBlock(out, live(out, env) and not options.as_json)
        self.notes: list[str] = []  # for the reconciliation part (Stripe kept no invoices...)

    def _tick(self, frame: int) -> None:
        lines = render.progress(self.style, self.outcomes, planned(self.batch), frame)
        self.block.draw(lines)

    def _billings(self, deals: Sequence[Outcome]) -> list[Billing]:
        """The Stripe customer (and its subscription, read from Stripe) of each completed deal."""
        stripe, billings = Stripe(self.vendors), []
        for i, deal in enumerate(deals):
            customer, subscription = billing_ids(deal.instance) if deal.ok else (None, None)
            if customer is None:
                continue
            current = None
            if subscription is not None:
                try:
                    current = stripe.subscription(subscription)
                except VendorError:
                    current = None  # the amendment then names a subscription Stripe lacks
            billings.append(Billing(customer, company(i), current))
        return billings

    def run(self, watcher: Watcher, admin_url: str) -> int:
        now, options, batch = time.time(), self.options, self.batch
        deadline = time.monotonic() + options.timeout
        salesforce = Salesforce(
            self.vendors
        )  # first: an unreachable Salesforce prints nothing else
        accounts = [
            salesforce.upsert_account(account_external_id(self.run_id, i), company(i))
            for i in range(batch.deals)
        ]
        if not options.as_json:
            header = render.header(self.style, self.run_id, options.url, admin_url, batch)
            self.out.write(f"{header}\n{render_recon.header_line(self.style)}\n\n")
            self.out.flush()
        first = deal_triggers(self.run_id, now, batch, self.signing, accounts)
        first += order_triggers(self.run_id, now, batch, self.signing)
        self.outcomes = _in_order(send_all(options.url, first))
        try:
            deals = [o for o in self.outcomes if o.trigger.workflow == "quote-to-cash"]
            wait(watcher, self.outcomes, deadline, self._tick, until=deals)
            watcher.details(deals)
            billings = self._billings(deals)
            second = billing_triggers(self.run_id, time.time(), batch, self.signing, billings)
            if billings:
                self._record_invoices(second)
                sent = send_all(options.url, second)
            else:  # nothing to bill: show what would have been sent, and why it was not
                stand_in = [t for t in build_batch(self.run_id, now, batch) if t.workflow in BILLED]
                sent = _held_back(stand_in, "not sent: no deal completed, so nobody to bill")
            self.outcomes = _in_order([*self.outcomes, *sent])
            if not wait(watcher, self.outcomes, deadline, self._tick):
                watcher.diagnose(self.outcomes)
            watcher.details(self.outcomes)
            stats = watcher.stats()
        finally:
            if not options.as_json:
                self.block.close(render.progress(self.style, self.outcomes, planned(batch)))
        result = self.reconcile(watcher)
        code = exit_code(self.outcomes) if result.ok else EXIT_FAILED
        if options.as_json:
            document = to_json(
                self.run_id, options.url, admin_url, self.outcomes, stats, result.as_json()
            )
            self.out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        else:
            self.out.write(self.report(stats, admin_url, result) + "\n")
        self.out.flush()
        return code

    def _record_invoices(self, triggers: Sequence[Trigger]) -> None:
        """Stripe holds each invoice before it sends an event about it: so must the simulator."""
        invoices = [
            json.loads(t.body)["data"]["object"] for t in triggers if t.workflow in INVOICED
        ]
        try:
            Stripe(self.vendors).record_invoices(invoices)
        except VendorError as exc:
            self.notes.append(
                f"Stripe did not record the demo's invoices ({exc}); the reconciliation reports "
                "their NetSuite payments as missing_left"
            )

    def reconcile(self, watcher: Watcher) -> Reconciling:
        """The reconciliation jobs, with their progress lines under the workflows' ones."""
        deadline = time.monotonic() + self.options.timeout
        block = LiveBlock(self.out, self.block.redraw)
        shown: list[JobRun] = []
        frames = [0]

        def tick(runs: Sequence[JobRun]) -> None:
            shown[:] = runs
            frames[0] += 1
            block.draw(render_recon.progress(self.style, runs, frames[0]))

        if not self.options.as_json:
            self.out.write("\n")
        try:
            result = reconcile(Operator(watcher.api), deadline, tick)
        except CliError as exc:  # GET /jobs failed: nothing was started
            result = Reconciling(notes=[str(exc)])
        finally:
            if not self.options.as_json:
                block.close(render_recon.progress(self.style, shown))
        result.notes += self.notes
        return result

    def report(self, stats: Sequence[dict[str, Any]], admin_url: str, result: Reconciling) -> str:
        """Everything after the progress lines."""
        style, outcomes = self.style, self.outcomes
        # `interlock workflows` must reach the same admin API as this run did.
        cli_options = "" if self.options.admin_url is None else f"--url {admin_url}"
        sections = [
            ("Instances", render.table(style, outcomes, render.objectives(stats), time.time())),
            ("Timelines (one instance per scenario)", render.timelines(style, outcomes)),
            ("SLA per workflow", render.sla(style, stats)),
            ("Parked, waiting for an operator", render.parked(style, outcomes, cli_options)),
            ("Reconciliation: the jobs run now", render_recon.runs(style, result, cli_options)),
            (
                "Reconciliation again, after the repairs",
                render_recon.recheck(style, result, cli_options),
            ),
        ]
        parts = [f"\n{style.paint(t, 'bold', 'blue')}\n{body}" for t, body in sections if body]
        verdicts = [
            render.verdict(style, outcomes, self.options.timeout),
            render_recon.verdict(style, result),
        ]
        return "\n".join([*parts, "\n" + "\n".join(verdicts)])


def run_demo(
    options: Options, out: TextIO, err: TextIO, env: Mapping[str, str] | None = None
) -> int:
    """The whole demo; returns the exit code (0 as expected, 1 not, 2 nothing answers)."""
    env = os.environ if env is None else env
    if missing_templates():  # an install without the JSON package data (see docs/demo.md)
        err.write(
            "error: the demo's payload templates are not installed "
            f"(demo/templates/: {', '.join(missing_templates())}); "
            "run it from a source checkout (`make run` installs one)\n"
        )
        return EXIT_FAILED
    try:
        check_router(options.url)  # first: with no router there is no token file either
        api = AdminClient(options.admin_url, options.token)
        check_admin(api.url)
        watcher = Watcher(api)
        loaded = {str(w.get("workflow")) for w in watcher.stats()}
        missing = [w for w in WORKFLOWS if w not in loaded]
        if missing:
            err.write(
                f"error: the router has no workflow {', '.join(missing)}: run it on the shipped "
                "routes/ folder (`make run`), which holds the seed scenarios\n"
            )
            return EXIT_FAILED
        jobs = missing_jobs(api)
        if jobs:
            err.write(
                f"error: the router has no job {', '.join(jobs)}: run it on the shipped routes/ "
                "folder (`make run`), which holds the reconciliation scenarios\n"
            )
            return EXIT_FAILED
        return Demo(options, out, env).run(watcher, api.url)
    except UnreachableError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_UNREACHABLE
    except (CliError, VendorError) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
