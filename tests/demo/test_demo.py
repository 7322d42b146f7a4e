"""``interlock demo``: payloads, signatures, rendering, the CLI flow, and a real end-to-end run.

Signatures are checked with the router's own verifiers configured from routes/sources.yaml (and
Stripe's also with the official ``stripe`` package); rendering on canned admin API answers, with
and without colour; the CLI flow against a small fake router; and, once the seed workflows exist,
the whole demo against an engine over the real routes/ folder and the simulators.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import stripe
from aiohttp import web

from demo import render, render_recon
from demo.flow import LiveBlock, Options, run_demo
from demo.outcome import Outcome, billing_ids, exit_code, problems, to_json
from demo.payloads import (
    IN_STOCK_SKU,
    OUT_OF_STOCK_SKU,
    WORKFLOWS,
    Batch,
    Billing,
    Trigger,
    billing_triggers,
    build_batch,
    missing_templates,
    new_run_id,
)
from demo.reconcile import JobRun, Operator, Reconciling, Repairs
from demo.runner import Watcher
from demo.signing import Secrets
from demo.style import WIDTH, Style, detect, visible
from router.config._yaml import read_yaml
from router.errors import CliError, SignatureError
from router.registry import transforms, verifiers
from router.runtime.request_builder import run_chain
from router.workflows.kind import WORKFLOW
from simulators.cli import DEMO_INVENTORY
from tests.support.scenarios import simulator_env

ROUTES = Path(__file__).resolve().parents[2] / "routes"
NOW = 1_767_225_600.0
RUN = "abc1234"
ANSI = re.compile(r"\x1b\[")
_TRIGGER_TRANSFORMS = {  # used until the workflow files say which ones they use
    "quote-to-cash": ["salesforce.opportunity_to_canonical"],
    "invoice-paid": ["stripe.invoice_to_canonical"],
    "invoice-payment-failed": ["stripe.invoice_to_canonical"],
    "subscription-amendment": ["stripe.subscription_to_canonical"],
    "direct-commerce": ["shopify.order_to_canonical"],
}


def batch(run_id: str = RUN, now: float = NOW, **sizes: int) -> list[Trigger]:
    return build_batch(run_id, now, Batch(**sizes))


# -- payloads -----------------------------------------------------------------------------------


def test_the_default_batch_is_small_and_one_order_is_out_of_stock() -> None:
    triggers = batch()
    sizes = {w: sum(t.workflow == w for t in triggers) for w in WORKFLOWS}
    assert sizes == {
        "quote-to-cash": 3,
        "invoice-paid": 2,
        "invoice-payment-failed": 1,
        "subscription-amendment": 2,
        "direct-commerce": 3,
    }
    parked = [t for t in triggers if t.expect == "parked"]
    assert [t.workflow for t in parked] == ["direct-commerce"]
    assert orjson.loads(parked[0].body)["line_items"][0]["sku"] == OUT_OF_STOCK_SKU
    stock: dict[str, int] = {}
    for sku, _, quantity in DEMO_INVENTORY:
        stock[sku] = stock.get(sku, 0) + quantity
    assert stock[IN_STOCK_SKU] >= 2 and stock[OUT_OF_STOCK_SKU] == 0  # what seed_demo loads
    assert sum(t.workflow == "quote-to-cash" for t in batch(deals=7)) == 7


def test_seed_demo_loads_the_reconciliation_data_sets_apart_from_the_demos_ids() -> None:
    from simulators.cli import demo_accounts, demo_payments, seed_demo
    from simulators.runner import SimulatorThread

    with SimulatorThread() as sims:
        sims.call(lambda: seed_demo(sims.set, reconciliation=True))

        def held(name: str, kind: str) -> set[str]:
            store = sims.set.simulator(name).store
            return sims.call(
                lambda: {str(x) for r in store.all(kind) for x in (r.id, r.external_id) if x}
            )

        found = {
            (name, kind): held(name, kind)
            for name, kind in (
                ("stripe", "invoice"),
                ("netsuite", "customerPayment"),
                ("salesforce", "Account"),
                ("netsuite", "customer"),
                ("stripe", "customer"),
            )
        }
        stock = held("dynamics", "msdyn_inventoryonhands")
    payments, accounts = demo_payments(), demo_accounts()
    invoices = {f"in_recon{i:07d}" for i in range(50)}
    assert found["stripe", "invoice"] == invoices
    paid = {payments.key(i) for i in range(50)} - payments.drift.missing_right
    payment_keys = {k for k in found["netsuite", "customerPayment"] if k.startswith("stripe-")}
    assert payment_keys == paid | payments.drift.missing_left  # 48: 3 missing, 1 extra
    assert found["salesforce", "Account"] == {accounts.account_id(i) for i in range(40)}
    erp = {k for k in found["netsuite", "customer"] if k.startswith("salesforce-")}
    assert len(erp) == 38 and not erp & accounts.erp.missing_right
    assert len(found["stripe", "customer"]) == 38
    assert {"SKU-1@WH-EAST", "SKU-1@WH-WEST", "SKU-2@WH-EAST"} <= stock
    # The demo's own ids (a run id in each) and the simulators' (001000000000001AAA...) differ.
    seeded = set().union(*found.values())
    for t in batch(deals=8):
        assert not set(t.markers) & seeded and t.key not in seeded
        assert not any(
            m.startswith(("001RC", "in_recon", "in_extra", "cus_acct")) for m in t.markers
        )


def test_every_business_id_carries_the_run_id_and_runs_do_not_collide() -> None:
    first, again, other = batch(), batch(), batch("zz99xyq")
    assert [t.body for t in first] == [t.body for t in again]  # pure: same run, same bytes
    assert len({t.key for t in first}) == len(first)
    assert not {t.key for t in first} & {t.key for t in other}
    run_number = str(10**15 + int(RUN, 36) * 1000)[:-3]
    for t in first:
        assert RUN in t.key or t.key.startswith(run_number), t.key
    assert missing_templates() == []  # every template ships in demo/templates
    new = new_run_id()
    assert re.fullmatch(r"[0-9a-z]{7}", new) and new != new_run_id()


def test_opportunities_stay_closed_won_with_amounts_that_add_up() -> None:
    for t in batch(deals=9):
        if t.workflow != "quote-to-cash":
            continue
        opp = orjson.loads(t.body)
        assert opp["StageName"] == "Closed Won" and opp["IsWon"] and opp["Id"] == t.key
        lines = opp["OpportunityLineItems"]["records"]
        assert opp["Amount"] == sum(line["TotalPrice"] for line in lines)
        assert {line["OpportunityId"] for line in lines} == {opp["Id"]}
        assert len(opp["Id"]) == 18


def _workflow_spec(workflow: str) -> Any:
    from router.config import load_config

    path = ROUTES / f"{workflow}.yaml"
    if not path.exists():
        return None
    return load_config(ROUTES, {}).specs(WORKFLOW).get(workflow)


def _event(t: Trigger) -> dict[str, Any]:
    body = orjson.loads(t.body)
    key = {
        "salesforce": t.headers.get("X-Salesforce-Event-Id"),
        "stripe": body.get("id"),
        "shopify": t.headers.get("X-Shopify-Webhook-Id"),
    }[t.source]
    kind = {
        "salesforce": body.get("attributes", {}).get("type"),
        "stripe": body.get("type"),
        "shopify": t.headers.get("X-Shopify-Topic"),
    }[t.source]
    return {"source": t.source, "type": kind, "key": key}


def test_payloads_map_to_canonical_models_and_keys_match_the_workflows() -> None:
    """Through each trigger's transforms; with the workflow files present, through their keys."""
    from router.codec import _default
    from router.template import render as render_template

    registered = transforms()
    for t in batch():
        spec = _workflow_spec(t.workflow)
        names = list(spec.trigger.transforms) if spec else _TRIGGER_TRANSFORMS[t.workflow]
        canonical = run_chain([registered[n] for n in names], orjson.loads(t.body))
        if spec is not None:
            document = orjson.loads(orjson.dumps(canonical, default=_default))
            key = render_template(spec.key, {"trigger": document, "event": _event(t)})
            assert str(key) == t.key, f"{t.workflow}: the workflow keys it as {key!r}"
        if t.workflow == "direct-commerce":
            question = registered["shopify.availability_question_from_order"].fn(canonical)
            assert question.sku == (OUT_OF_STOCK_SKU if t.expect == "parked" else IN_STOCK_SKU)


def test_billing_follows_the_deal_the_stripe_way() -> None:
    """Invoices name the deal's Stripe customer; an amendment carries its subscription."""
    current = {  # GET /v1/subscriptions/{id}, as the Stripe simulator answers it
        "id": "sub_deal1",
        "object": "subscription",
        "customer": "cus_deal1",
        "status": "active",
        "metadata": {"ref_salesforce": "006Dmdeal"},
        "items": {
            "data": [
                {
                    "id": "si_deal1",
                    "object": "subscription_item",
                    "quantity": 10,
                    "price": {"id": "price_9", "object": "price", "product": "prod_seat"},
                }
            ]
        },
    }
    billing = Billing("cus_deal1", "Acme Robotics, Inc.", current)
    triggers = billing_triggers(RUN, NOW, Batch(), Secrets(), [billing])
    assert [t.workflow for t in triggers].count("invoice-paid") == 2
    for t in triggers:
        body = orjson.loads(t.body)["data"]["object"]
        assert body["customer"] == "cus_deal1"
    amendment = orjson.loads(triggers[-1].body)
    sub, before = amendment["data"]["object"], amendment["data"]["previous_attributes"]
    assert sub["id"] == "sub_deal1" and sub["metadata"] == {"ref_salesforce": "006Dmdeal"}
    assert (before["quantity"], sub["quantity"]) == (10, 15)  # the second amendment adds 5
    assert sub["items"]["data"][0]["price"]["product"] == "prod_seat"
    canonical = transforms()["stripe.subscription_to_canonical"].fn(amendment)
    assert canonical.items[0].quantity == 15
    assert billing_triggers(RUN, NOW, Batch(), Secrets(), []) == []


def test_billing_ids_come_from_the_deals_steps() -> None:
    steps = [
        {"id": "erp_customer", "output": {"id": "1001"}},
        {"id": "billing_customer", "output": {"id": "cus_A"}},
        {"id": "subscription", "output": {"id": "sub_A"}},
    ]
    assert billing_ids({"steps": steps}) == ("cus_A", "sub_A")
    renamed = [{"id": "stripe_customer", "output": {"id": "cus_B"}}, {"id": "x", "output": {}}]
    assert billing_ids({"steps": renamed}) == ("cus_B", None)
    assert billing_ids(None) == (None, None)


# -- signatures ---------------------------------------------------------------------------------


def _router_verifier(source: str, env: dict[str, str]) -> Any:
    """The verifier ingress builds for ``source``, configured from routes/sources.yaml."""
    sources, _ = read_yaml(ROUTES / "sources.yaml", env)
    config = dict(sources[source]["verify"])
    spec = verifiers()[config.pop("scheme")]
    return spec.factory(spec.config_model.model_validate(config))


@pytest.mark.parametrize(
    "env",
    [
        {},
        {
            "SALESFORCE_WEBHOOK_SECRET": "sf_rotated",
            "STRIPE_WEBHOOK_SECRET": "whsec_rotated",
            "SHOPIFY_WEBHOOK_SECRET": "shpss_rotated",
        },
    ],
    ids=["defaults", "from-env"],
)
def test_the_routers_own_verifiers_accept_every_trigger(env: dict[str, str]) -> None:
    now = time.time()
    triggers = build_batch(RUN, now, Batch(), Secrets.from_env(env))
    for t in triggers:
        verifier = _router_verifier(t.source, env)
        verified = verifier.verify(t.headers, t.body, now)
        if t.source == "salesforce":
            assert verified.idempotency_key == t.headers["X-Salesforce-Event-Id"]
        if t.source == "shopify":
            assert verified.idempotency_key == t.headers["X-Shopify-Webhook-Id"]
        with pytest.raises(SignatureError):
            verifier.verify(t.headers, t.body + b" ", now)
    if env:  # signed with the rotated secrets: the defaults no longer verify them
        with pytest.raises(SignatureError):
            _router_verifier("stripe", {}).verify(triggers[3].headers, triggers[3].body, now)


def test_stripe_triggers_pass_the_official_library() -> None:
    secret = Secrets().stripe
    for t in build_batch(RUN, time.time()):
        if t.source != "stripe":
            continue
        header = t.headers["Stripe-Signature"]
        payload = t.body.decode()
        assert stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=300)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(payload + " ", header, secret, tolerance=300)


# -- rendering on canned admin API answers ------------------------------------------------------


def _steps(*statuses: str, undo: str = "none") -> list[dict[str, Any]]:
    return [
        {"id": f"step_{i}", "status": s, "attempts": 1, "undo": undo}
        for i, s in enumerate(statuses)
    ]


def _instance(t: Trigger, state: str, steps: list[dict[str, Any]], n: int) -> dict[str, Any]:
    received = NOW + n
    failed = next((s["id"] for s in steps if s["status"] == "failed"), None)
    events: list[dict[str, Any]] = [
        {"at": received + 0.004, "event": "triggered", "step": None, "attempt": None,
         "detail": "message 01M8DEMO"},
    ]  # fmt: skip
    at = received + 0.01
    for s in steps:
        if s["status"] in {"succeeded", "failed"}:
            events.append({"at": at, "event": "step_started", "step": s["id"], "attempt": 1})
            at += 0.05
            events.append({"at": at, "event": f"step_{s['status']}", "step": s["id"], "attempt": 1,
                           "detail": "expect /in_stock equals true" if s["status"] == "failed"
                           else None})  # fmt: skip
    end_event = "parked" if state == "parked" else state
    events.append({"at": at + 0.001, "event": end_event, "step": failed, "attempt": None})
    return {
        "id": f"01M8INSTANCE{n:014d}",
        "workflow": t.workflow,
        "key": t.key,
        "state": state,
        "current_step": failed,
        "failed_step": failed,
        "reason": f"step {failed} failed: nothing in stock" if failed else None,
        "received_at": received,
        "updated_at": at + 0.001,
        "finished_at": None if state == "parked" else at + 0.001,
        "sla_seconds": None if state == "parked" else at + 0.001 - received,
        "duplicates": 0,
        "steps": steps,
        "events": events,
    }


def canned_outcomes() -> list[Outcome]:
    outcomes = []
    for n, t in enumerate(batch()):
        if t.expect == "parked":
            instance = _instance(t, "parked", _steps("succeeded", "failed", "pending"), n)
        else:
            instance = _instance(t, "completed", _steps("succeeded", "skipped", "succeeded"), n)
        outcomes.append(Outcome(t, status=202, message_id=f"01M8MSG{n:019d}", instance=instance))
    return outcomes


STATS = [
    {
        "workflow": w,
        "description": "",
        "steps": 3,
        "on_failure": "park",
        "counts": {"completed": 2},
        "sla": None
        if w == "invoice-payment-failed"
        else {"objective_s": 60.0, "until": "step_2" if w == "quote-to-cash" else None,
              "measured": 12, "met": 11, "missed": 1, "p50_s": 0.21, "p95_s": 1.4, "max_s": 75.0},
    }
    for w in WORKFLOWS
]  # fmt: skip


def full_report(style: Style) -> str:
    outcomes = canned_outcomes()
    parts = [
        render.header(style, RUN, "http://127.0.0.1:8080", "http://127.0.0.1:8081", Batch()),
        *render.progress(style, outcomes),
        render.table(style, outcomes, render.objectives(STATS), NOW + 100),
        render.timelines(style, outcomes),
        render.sla(style, STATS),
        render.parked(style, outcomes),
        render.verdict(style, outcomes, 60.0),
    ]
    return "\n".join(parts)


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_the_report_lists_every_instance_and_fits_100_columns(colour: bool) -> None:
    text = full_report(Style(colour=colour))
    assert bool(ANSI.search(text)) is colour
    for line in text.splitlines():
        assert visible(line) <= WIDTH, line
    for o in canned_outcomes():
        assert o.trigger.key in text
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "quote-to-cash" in plain and "✓↷✓" in plain and "✓✗·" in plain
    assert "Every business id carries the run id abc1234" in plain


def test_the_table_shows_state_marks_duration_and_sla() -> None:
    outcomes = canned_outcomes()
    text = render.table(Style(), outcomes, render.objectives(STATS), NOW + 100)
    rows = text.splitlines()[1:-1]
    assert len(rows) == len(outcomes)
    first = rows[0].split()
    assert first[:5] == ["quote-to-cash", outcomes[0].trigger.key, "completed", "✓↷✓", "111ms"]
    assert first[5] == "met"
    parked = next(r for r in rows if "parked" in r)
    assert parked.split()[-1] == "-"  # a parked instance has no SLA verdict yet
    assert "\x1b[32mcompleted" in render.table(Style(colour=True), outcomes, {}, NOW)


def test_step_marks_cover_every_status_and_fall_back_to_ascii() -> None:
    fancy, ascii_ = Style(), Style(fancy=False)
    cases = [
        ("succeeded", "none", "✓", "+"),
        ("skipped", "none", "↷", ">"),
        ("failed", "none", "✗", "x"),
        ("succeeded", "done", "↺", "<"),
        ("pending", "none", "·", "."),
        ("retrying", "none", "…", "~"),
    ]
    for status, undo, mark, plain in cases:
        assert fancy.mark(status, undo) == mark and ascii_.mark(status, undo) == plain
    text = full_report(ascii_)
    assert text.isascii(), [c for c in text if not c.isascii()]


def test_timelines_fold_each_attempt_and_pick_the_parked_order() -> None:
    outcomes = canned_outcomes()
    text = render.timelines(Style(), outcomes)
    blocks = text.split("\n\n")
    assert len(blocks) == len(WORKFLOWS)
    commerce = next(b for b in blocks if b.startswith("direct-commerce"))
    assert "parked" in commerce.splitlines()[0] and "(out of stock)" in commerce.splitlines()[0]
    assert "step_started" not in commerce  # folded into the event that ended the attempt
    failed = next(line for line in commerce.splitlines() if "step_failed" in line)
    assert failed.split()[:4] == ["+0.110s", "step_failed", "step_1", "50ms"]
    folded = render.fold([{"at": 1.0, "event": "step_started", "step": "a", "attempt": 1}])
    assert folded == [({"at": 1.0, "event": "step_started", "step": "a", "attempt": 1}, None)]


def test_sla_table_and_parked_commands() -> None:
    text = render.sla(Style(), STATS)
    row = next(line for line in text.splitlines() if line.strip().startswith("invoice-paid"))
    assert row.split() == ["invoice-paid", "1m", "12", "11", "1", "210ms", "1.40s", "1m15s"]
    assert "no objective" in text and "step step_2 succeeds" in text
    outcomes = canned_outcomes()
    parked_id = next(o.id for o in outcomes if o.state == "parked")
    commands = render.parked(Style(), outcomes, "--url http://127.0.0.1:9999")
    assert f"interlock workflows retry {parked_id} --url http://127.0.0.1:9999" in commands
    for action in ("skip", "cancel"):  # the CLI requires a reason for these two
        assert f"interlock workflows {action} {parked_id} --reason " in commands
    assert "nothing in stock" in commands
    assert render.parked(Style(), outcomes[:3]) == ""


def test_progress_lines_count_each_scenario() -> None:
    outcomes = canned_outcomes()
    outcomes[0].instance = {**(outcomes[0].instance or {}), "state": "running"}
    lines = render.progress(Style(), outcomes, frame=0)
    q2c = next(line for line in lines if "quote-to-cash" in line)
    assert q2c.split()[0] == "⠋"
    assert "sent 3  accepted 3  completed 2  parked 0  running 1  failed 0" in q2c
    commerce = next(line for line in render.progress(Style(), outcomes) if "commerce" in line)
    assert commerce.split()[0] == "✓" and "completed 2  parked 1" in commerce


def test_verdict_exit_code_and_json() -> None:
    outcomes = canned_outcomes()
    assert exit_code(outcomes) == 0 and not problems(outcomes)
    assert "11 triggers accepted: 10 completed, 1 parked as expected" in render.verdict(
        Style(), outcomes, 60
    )
    outcomes[0].instance = {**(outcomes[0].instance or {}), "state": "running"}
    outcomes[1].status, outcomes[1].error = 401, "invalid signature"
    outcomes[2].instance = None
    assert exit_code(outcomes) == 1
    text = render.verdict(Style(), outcomes, 60)
    assert "3 of 11 triggers did not end as expected (2 still unsettled after 1m00s)" in text
    assert "not accepted (HTTP 401: invalid signature)" in text and "still running" in text
    document = to_json(RUN, "u", "a", outcomes, STATS)
    assert document["exit_code"] == 1 and len(document["triggers"]) == 11
    json.dumps(document)


def test_colour_only_on_a_terminal_without_no_color() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert detect(Tty(), {}).colour
    assert not detect(Tty(), {"NO_COLOR": ""}).colour  # any value, even empty, disables it
    assert not detect(Tty(), {"TERM": "dumb"}).colour
    assert not detect(io.StringIO(), {}).colour
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert not detect(ascii_stream, {}).fancy


def test_live_block_redraws_in_place_only_on_a_terminal() -> None:
    tty, pipe = io.StringIO(), io.StringIO()
    for stream, redraw in ((tty, True), (pipe, False)):
        block = LiveBlock(stream, redraw)
        block.draw(["a 1", "b 1"])
        block.draw(["a 2", "b 2"])
        block.close(["a 3", "b 3"])
    assert pipe.getvalue() == "a 3\nb 3\n"
    assert tty.getvalue().count("\x1b[2F") == 2 and tty.getvalue().endswith("\x1b[?25h")


class ListingApi:
    """``GET /workflows`` over a fixed set of summaries, counting the calls."""

    def __init__(self, summaries: list[dict[str, Any]]) -> None:
        self.summaries, self.calls = summaries, 0

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        self.calls += 1
        q = params or {}
        found = [
            x
            for x in self.summaries
            if x["workflow"] == q.get("workflow") and q.get("key") in (None, x["key"])
        ]
        return {"instances": found[: q.get("limit", 100)]}


def test_an_instance_keyed_on_another_id_is_found_by_its_triggers_ids() -> None:
    triggers = [t for t in batch() if t.workflow == "quote-to-cash"]
    summaries = [  # as if quote-to-cash keyed its instances "deal-<Opportunity Id>"
        {"id": f"I{n}", "workflow": "quote-to-cash", "key": f"deal-{t.key}", "state": "completed"}
        for n, t in enumerate(triggers)
    ]
    now = [0.0]
    watcher = Watcher(ListingApi(summaries), clock=lambda: now[0])
    outcomes = [Outcome(t, status=202) for t in triggers]
    watcher.refresh(outcomes)
    assert all(o.instance is None for o in outcomes)  # the exact key first, for a while
    now[0] = 10.0
    watcher.refresh(outcomes)
    assert [o.id for o in outcomes] == ["I0", "I1", "I2"]
    assert {o.found_by for o in outcomes} == {"marker"} and all(o.ok for o in outcomes)


# -- the reconciliation part on canned answers --------------------------------------------------


def canned_reconciling() -> Reconciling:
    """payments-daily.1 with :data:`PAYMENT_ROWS`, accounts-hourly.1, then payments-daily.2."""

    def run(run_id: str, rows: dict[str, list[dict[str, Any]]]) -> JobRun:
        job = run_id.rsplit(".", 1)[0]
        recons = []
        for name, found in rows.items():
            counts = {"matched": 20, "missing_left": 0, "missing_right": 0, "mismatched": 0}
            handled: dict[str, int] = {}
            for r in found:
                counts[r["class"]] += 1
                handled[f"{r['class']}:{r['outcome']}"] = (
                    handled.get(f"{r['class']}:{r['outcome']}", 0) + 1
                )
            side = {"pages": 1, "records": 20 + len(found), "done": True, "unkeyed": 0, "dupes": 0}
            recons.append({"reconciliation": name, "phase": "done", "counts": counts,
                           "exceptions": len(found), "handled": handled,
                           "sides": {"left": side, "right": side}, "alert_errors": []})  # fmt: skip
        detail = {"id": run_id, "job": job, "state": "succeeded", "seconds": 0.031,
                  "reason": None, "started_at": NOW, "reconciliations": recons}  # fmt: skip
        reports = {
            name: {"run": run_id, "reconciliation": name, "exceptions": len(found), "rows": found}
            for name, found in rows.items()
        }
        return JobRun(job, f"the {job} job", detail, reports)

    first = run("payments-daily.1", {"stripe-payments-vs-netsuite": PAYMENT_ROWS})
    first.repairs["stripe-payments-vs-netsuite"] = Repairs("payment-repair", 3, delivered=3)
    accounts = run("accounts-hourly.1", ACCOUNT_ROWS)
    accounts.repairs["accounts-vs-netsuite"] = Repairs("account-to-erp", 1, delivered=1)
    again = run("payments-daily.2", {"stripe-payments-vs-netsuite": PAYMENT_ROWS[3:]})
    return Reconciling([first, accounts], again)


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_the_reconciliation_report_fits_100_columns(colour: bool) -> None:
    style, result = Style(colour=colour), canned_reconciling()
    assert result.recheck is not None
    parts = [
        render_recon.header_line(style),
        *render_recon.progress(style, [*result.runs, result.recheck], frame=3),
        render_recon.runs(style, result, "--url http://127.0.0.1:9999"),
        render_recon.recheck(style, result, "--url http://127.0.0.1:9999"),
        render_recon.verdict(style, result),
    ]
    text = "\n".join(parts)
    assert bool(ANSI.search(text)) is colour
    for line in text.splitlines():
        assert visible(line) <= WIDTH or line.startswith("    interlock "), line
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "interlock reconcile report payments-daily.1 --url http://127.0.0.1:9999" in plain
    assert "matched 20  missing_right 2 (not in NetSuite)  mismatched 1  missing_left 1" in plain
    assert result.ok and result.problems() == []


def test_the_reconciliation_report_falls_back_to_ascii_and_says_what_went_wrong() -> None:
    style, result = Style(fancy=False), canned_reconciling()
    text = "\n".join(
        [
            *render_recon.progress(style, [*result.runs]),
            render_recon.runs(style, result, ""),
            render_recon.recheck(style, result, ""),
            render_recon.verdict(style, result),
        ]
    )
    assert text.isascii(), [c for c in text if not c.isascii()]
    assert "repair -> repaired" in text and "OK in step: the 3 records" in text
    # The recheck still finds a missing payment: the verdict names it, and the exit is 1.
    assert result.recheck is not None and result.recheck.run is not None
    result.recheck.run["reconciliations"][0]["counts"]["missing_right"] = 1
    assert not result.ok
    verdict = render_recon.verdict(style, result)
    assert verdict.startswith("FAILED The reconciliation did not end as expected:")
    assert "payments-daily.2 still finds records out of step" in verdict
    assert "'missing_right': 1" in verdict
    assert "still out of step" in render_recon.recheck(style, result, "")
    document = to_json(RUN, "u", "a", canned_outcomes(), STATS, result.as_json())
    assert document["exit_code"] == 1 and not document["ok"]
    assert document["reconciliation"]["recheck"]["run"]["id"] == "payments-daily.2"


def test_a_repair_that_dead_lettered_is_shown_as_trouble() -> None:
    result = canned_reconciling()
    first = result.runs[0]
    assert first.run is not None
    recon = first.run["reconciliations"][0]
    recon["handled"] = {"missing_right:repaired": 2, "mismatched:repair_dead_lettered": 1,
                        "missing_left:parked": 1}  # fmt: skip
    first.repairs["stripe-payments-vs-netsuite"] = Repairs("payment-repair", 2, delivered=1, dead=1)
    text = render_recon.report(Style(colour=True), first, recon, "")
    last = text.splitlines()[-2:]  # wrapped: it is longer than a line
    plain = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(last))
    assert " ".join(plain.split()) == (
        "2 to repair (1 delivered through route payment-repair, 1 dead-lettered); "
        "1 with a dead-lettered repair; 1 parked for an operator"
    )
    assert all(line.lstrip(" ").startswith("\x1b[31m") for line in last)  # red: for an operator
    assert all(visible(line) <= WIDTH for line in text.splitlines())


def test_report_amounts_read_in_major_units() -> None:
    assert render_recon.money("USD 38588") == "USD 385.88"
    assert render_recon.money("USD -5") == "USD -0.05"
    assert render_recon.money("JPY 4200") == "JPY 4200"
    assert render_recon.money("KWD 1500") == "KWD 1.500"
    assert render_recon.money("XXX 12") == "XXX 12"  # no ISO 4217 exponent: as the report has it
    assert render_recon.money("2026-01-01") == "2026-01-01"
    assert render_recon.money("!unreadable: no currency") == "!unreadable: no currency"


class JobsApi:
    """``POST /jobs/{job}/run`` refused ``busy`` times (409), then a run that ends after
    ``polls`` reads of ``GET /runs/{id}``."""

    def __init__(self, busy: int = 0, polls: int = 2) -> None:
        self.busy, self.polls = busy, polls
        self.calls: list[tuple[str, str]] = []

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        self.calls.append((method, path))
        if method == "POST":
            if self.busy:
                self.busy -= 1
                raise CliError("admin API answered 409: Conflict: job 'payments-daily' is running")
            return {"id": "payments-daily.7", "state": "running"}
        if path.endswith("/report"):
            return {"rows": [], "exceptions": 0}
        self.polls -= 1
        state = "running" if self.polls > 0 else "succeeded"
        recon = {"reconciliation": "stripe-payments-vs-netsuite", "phase": "done",
                 "counts": {"matched": 3}, "handled": {}}  # fmt: skip
        return {"id": "payments-daily.7", "state": state, "reconciliations": [recon]}


def test_the_operator_waits_out_a_running_job_and_gives_up_at_the_deadline() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    api = JobsApi(busy=2)
    done = Operator(api, clock=lambda: now[0], sleep=sleep).run("payments-daily", "", 10, print)
    assert done.ok and done.id == "payments-daily.7" and done.in_step()
    assert [c for c in api.calls if c[0] == "POST"] == [("POST", "/jobs/payments-daily/run")] * 3
    assert done.reports["stripe-payments-vs-netsuite"] == {"rows": [], "exceptions": 0}

    slow = Operator(JobsApi(polls=10**6), clock=lambda: now[0], sleep=sleep)
    late = slow.run("payments-daily", "", now[0] + 1.0, lambda _run: None)
    assert not late.ok and late.state == "running" and late.error is not None
    assert "still running" in late.error
    busy = Operator(JobsApi(busy=10**6), clock=lambda: now[0], sleep=sleep)
    refused = busy.run("payments-daily", "", now[0] + 1.0, lambda _run: None)
    assert refused.run is None and refused.error is not None and "409" in refused.error


# -- the CLI flow against a fake router ---------------------------------------------------------

TOKEN = "demo-test-token"


class FakeRouter:
    """Ingress, admin API and vendor API stand-ins: each webhook makes an instance that settles
    in 0.2 s; a deal's instance reports the Stripe customer and subscription it created.

    ``reject`` answers 401 to one source; ``lose`` accepts a workflow's triggers but never makes
    their instances; ``fail`` compensates a workflow's instances; ``missing`` leaves workflows
    out of ``/workflows/stats``; ``jobs`` answers the job endpoints (:class:`FakeJobs`).
    """

    def __init__(
        self,
        reject: str | None = None,
        lose: str | None = None,
        fail: str | None = None,
        missing: tuple[str, ...] = (),
        jobs: FakeJobs | None = None,
    ) -> None:
        self.reject, self.lose, self.fail, self.missing = reject, lose, fail, missing
        self.jobs = jobs or FakeJobs()
        self.accounts: dict[str, str] = {}  # Salesforce: external id -> record id
        self.account_types: dict[str, str] = {}  # Salesforce: external id -> Account Type
        self.invoices: dict[str, dict[str, Any]] = {}  # Stripe: what /_sim/seed recorded
        self.posted: list[dict[str, Any]] = []
        self.instances: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, str] = {}
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[1]}"

    @property
    def env(self) -> dict[str, str]:
        vendors = f"http://127.0.0.1:{self.ports[2]}"
        return {
            "SALESFORCE_URL": vendors,
            "SALESFORCE_TOKEN_URL": f"{vendors}/services/oauth2/token",
            "STRIPE_API_URL": vendors,
        }

    def __enter__(self) -> FakeRouter:
        self._thread.start()
        ingress = web.Application()
        ingress.router.add_get("/readyz", _ok)
        ingress.router.add_post("/webhooks/{source}", self._webhook)
        admin = web.Application()
        admin.router.add_get("/readiness", _ok)
        admin.router.add_get("/workflows", self._list)
        admin.router.add_get("/workflows/stats", self._stats)
        admin.router.add_get("/workflows/{id}", self._detail)
        admin.router.add_get("/messages/{id}", self._message)
        self.jobs.add_routes(admin)
        vendors = web.Application()
        vendors.router.add_post("/services/oauth2/token", self._sf_token)
        vendors.router.add_patch(
            "/services/data/{v}/sobjects/Account/Interlock_External_Id__c/{ext}", self._sf_account
        )
        vendors.router.add_get("/v1/subscriptions/{id}", self._subscription)
        vendors.router.add_post("/_sim/seed", self._stripe_seed)
        for app in (ingress, admin, vendors):
            asyncio.run_coroutine_threadsafe(self._serve(app), self._loop).result(10)
        return self

    async def _serve(self, app: web.Application) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runners.append(runner)
        self.ports.append(int(runner.addresses[0][1]))

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _webhook(self, request: web.Request) -> web.Response:
        source = request.match_info["source"]
        if source == self.reject:
            raise web.HTTPUnauthorized(text='{"detail": "invalid signature"}')
        body = orjson.loads(await request.read())
        self.posted.append(body)
        workflow, key, parks = _fake_key(source, body)
        message_id = f"01M8MSG{len(self.messages):019d}"
        self.messages[message_id] = workflow
        if workflow != self.lose:
            ident = f"01M8FAKE{len(self.instances):018d}"
            steps = _steps("succeeded", "failed", "pending") if parks else _steps("succeeded")
            if workflow == "quote-to-cash":
                assert body["AccountId"] in self.accounts.values()  # created in Salesforce first
                steps = [
                    {"id": "billing_customer", "status": "succeeded", "undo": "none",
                     "output": {"id": f"cus_FAKE{ident[-4:]}"}},
                    {"id": "subscription", "status": "succeeded", "undo": "none",
                     "output": {"id": f"sub_FAKE{ident[-4:]}"}},
                ]  # fmt: skip
            now = time.time()
            self.instances[ident] = {
                "id": ident, "workflow": workflow, "key": key, "received_at": now,
                "updated_at": now, "finished_at": None, "sla_seconds": None, "duplicates": 0,
                "current_step": None, "failed_step": "step_1" if parks else None,
                "reason": "step step_1 failed: nothing in stock" if parks else None,
                "final": "parked" if parks else
                         "compensated" if workflow == self.fail else "completed",
                "steps": steps,
                "events": [{"at": now, "event": "triggered", "step": None, "attempt": None}],
            }  # fmt: skip
        return web.json_response({"id": message_id}, status=202)

    def _view(self, instance: dict[str, Any], detail: bool) -> dict[str, Any]:
        settled = time.time() - instance["received_at"] > 0.2
        state = instance["final"] if settled else "running"
        view = {k: v for k, v in instance.items() if k != "final"}
        view["state"] = state
        if settled and state == "completed":
            view["finished_at"] = view["updated_at"] = instance["received_at"] + 0.2
            view["sla_seconds"] = 0.2
        if not detail:
            for name in ("steps", "events"):
                view.pop(name)
        return view

    def _authorised(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()

    async def _list(self, request: web.Request) -> web.Response:
        self._authorised(request)
        q = request.query
        found = [
            self._view(i, False)
            for i in self.instances.values()
            if i["workflow"] == q.get("workflow") and q.get("key") in (None, i["key"])
        ]
        return web.json_response({"instances": found[: int(q.get("limit", 50))]})

    async def _stats(self, request: web.Request) -> web.Response:
        self._authorised(request)
        return web.json_response(
            {"workflows": [w for w in STATS if w["workflow"] not in self.missing]}
        )

    async def _detail(self, request: web.Request) -> web.Response:
        self._authorised(request)
        return web.json_response(self._view(self.instances[request.match_info["id"]], True))

    async def _sf_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "client_credentials" and form["client_id"]
        return web.json_response({"access_token": "sf-token", "instance_url": "x"})

    async def _sf_account(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer sf-token"
        body = await request.json()
        assert body["Name"]
        ext = request.match_info["ext"]
        record = self.accounts.setdefault(ext, f"001FAKE{len(self.accounts):011d}")
        self.account_types[ext] = body.get("Type")
        return web.json_response({"id": record, "success": True, "created": True}, status=201)

    async def _subscription(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        item = {"id": f"si_{ident}", "quantity": 10, "price": {"id": "price_x", "product": "p"}}
        return web.json_response(
            {"id": ident, "object": "subscription", "customer": "cus_" + ident[4:],
             "metadata": {"ref_salesforce": f"deal-of-{ident}"}, "items": {"data": [item]}}
        )  # fmt: skip

    async def _stripe_seed(self, request: web.Request) -> web.Response:
        for record in (await request.json())["records"]:
            assert record["type"] == "invoice" and record["id"] == record["data"]["id"]
            self.invoices[record["id"]] = record["data"]
        return web.json_response({"records": []})

    async def _message(self, request: web.Request) -> web.Response:
        self._authorised(request)
        workflow = self.messages[request.match_info["id"]]
        delivery = {"route": workflow, "status": "dead", "dead_letter": True,
                    "last_error": "transform failed: MappingError"}  # fmt: skip
        return web.json_response({"unrouted": False, "deliveries": [delivery]})


async def _ok(_request: web.Request) -> web.Response:
    return web.json_response({"ready": True})


def _row(seq: int, kind: str, key: str, left: Any, right: Any, handling: str) -> dict[str, Any]:
    fields = ["amount"] if kind == "mismatched" else []
    outcome = {"repair": "repaired", "parked": "parked", "ignored": "ignored"}[handling]
    reason = "created with the first subscription" if handling == "ignored" else None
    return {"seq": seq, "class": kind, "key": key, "fields": fields, "left": left, "right": right,
            "handling": handling, "outcome": outcome, "reason": reason}  # fmt: skip


_PAID = {"paid_on": "2026-01-01"}
PAYMENT_ROWS = [  # the first payments run's report: 2 missing, 1 mismatched, 1 extra
    _row(0, "missing_right", "stripe-in_A-payment", {"amount": "USD 1999", **_PAID}, None,
         "repair"),
    _row(1, "mismatched", "stripe-in_B-payment", {"amount": "USD 5000", **_PAID},
         {"amount": "USD 5500", **_PAID}, "repair"),
    _row(2, "missing_right", "stripe-in_C-payment", {"amount": "USD 705", **_PAID}, None,
         "repair"),
    _row(3, "missing_left", "stripe-in_X-payment", None, {"amount": "JPY 4200", **_PAID},
         "parked"),
]  # fmt: skip
ACCOUNT_ROWS = {
    "accounts-vs-netsuite": [
        _row(0, "missing_right", "salesforce-001A", {"name": "acme"}, None, "repair"),
    ],
    "accounts-vs-stripe": [
        _row(0, "missing_right", "001B", {"name": "globex"}, None, "ignored"),
    ],
}
REPAIR_ROUTES = {"stripe-payments-vs-netsuite": "payment-repair",
                 "accounts-vs-netsuite": "account-to-erp"}  # fmt: skip


class FakeJobs:
    """The admin API's job endpoints over a made-up drift that the first run of each job repairs.

    A run ends 0.1 s after it starts. The first ``payments-daily`` run reports
    :data:`PAYMENT_ROWS` and sends their 3 repairs (delivered 0.2 s later); every later one finds
    the payments in step but the parked one. ``failing`` fails every run of one job; ``missing``
    leaves jobs out of ``GET /jobs``.
    """

    def __init__(self, failing: str | None = None, missing: tuple[str, ...] = ()) -> None:
        self.failing, self.missing = failing, missing
        self.runs: dict[str, dict[str, Any]] = {}
        self.reports: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.repairs: list[tuple[str, float, float]] = []  # route, received, delivered at
        self.repaired: set[str] = set()  # the reconciliations whose drift was repaired

    def add_routes(self, admin: web.Application) -> None:
        admin.router.add_get("/jobs", self._jobs)
        admin.router.add_post("/jobs/{job}/run", self._start)
        admin.router.add_get("/runs/{run}", self._run)
        admin.router.add_get("/runs/{run}/report", self._report)
        admin.router.add_get("/messages", self._messages)

    async def _jobs(self, request: web.Request) -> web.Response:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        jobs = [
            {"id": j, "description": f"the {j} job", "running": None}
            for j in ("payments-daily", "accounts-hourly")
            if j not in self.missing
        ]
        return web.json_response({"jobs": jobs})

    async def _start(self, request: web.Request) -> web.Response:
        job = request.match_info["job"]
        n = 1 + sum(r["job"] == job for r in self.runs.values())
        run: dict[str, Any] = {
            "id": f"{job}.{n}", "job": job, "trigger": "manual", "state": "running",
            "started_at": time.time(), "finished_at": None, "seconds": 0.0, "reason": None,
            "reconciliations": [],
        }  # fmt: skip
        self.runs[run["id"]] = run
        return web.json_response({k: v for k, v in run.items() if k != "reconciliations"})

    def _finish(self, run: dict[str, Any]) -> None:
        names = (
            ["stripe-payments-vs-netsuite"]
            if run["job"] == "payments-daily"
            else ["accounts-vs-netsuite", "accounts-vs-stripe"]
        )
        run.update(state="succeeded", finished_at=time.time(), seconds=0.1)
        if run["job"] == self.failing:
            run.update(state="failed", reason="page 1 of stripe failed: 401 Unauthorized")
        for name in names:
            rows = PAYMENT_ROWS if name.startswith("stripe") else ACCOUNT_ROWS[name]
            if name in self.repaired or run["state"] == "failed":
                rows = [r for r in rows if r["handling"] != "repair"]
            counts = {"matched": 20 - len(rows), "missing_left": 0, "missing_right": 0,
                      "mismatched": 0}  # fmt: skip
            handled: dict[str, int] = {}
            for r in rows:
                counts[r["class"]] += 1
                key = f"{r['class']}:{r['outcome']}"
                handled[key] = handled.get(key, 0) + 1
                if r["handling"] == "repair":
                    self.repairs.append((REPAIR_ROUTES[name], time.time(), time.time() + 0.2))
            if any(r["handling"] == "repair" for r in rows):
                self.repaired.add(name)
            side = {"pages": 1, "records": 20, "done": True, "unkeyed": 0, "dupes": 0}
            run["reconciliations"].append(
                {"reconciliation": name, "phase": "done", "counts": counts,
                 "exceptions": len(rows), "handled": handled,
                 "sides": {"left": side, "right": side}, "alert_errors": []}
            )  # fmt: skip
            self.reports[(run["id"], name)] = rows

    async def _run(self, request: web.Request) -> web.Response:
        run = self.runs[request.match_info["run"]]
        if run["state"] == "running" and time.time() - run["started_at"] > 0.1:
            self._finish(run)
        return web.json_response(run)

    async def _report(self, request: web.Request) -> web.Response:
        run_id, name = request.match_info["run"], request.query["reconciliation"]
        rows = self.reports[(run_id, name)]
        run = next(r for r in self.runs[run_id]["reconciliations"] if r["reconciliation"] == name)
        limit = int(request.query.get("limit", 1000))
        return web.json_response(
            {"run": run_id, "reconciliation": name, "counts": run["counts"],
             "exceptions": len(rows), "rows": rows[:limit], "next_offset": None}
        )  # fmt: skip

    async def _messages(self, request: web.Request) -> web.Response:
        route, since = request.query["route"], float(request.query["since"])
        now = time.time()
        items = [
            {"id": f"01M8REPAIR{i:016d}", "routes": {r: "delivered" if now >= at else "pending"}}
            for i, (r, received, at) in enumerate(self.repairs)
            if r == route and received >= since
        ]
        return web.json_response({"items": items, "next_cursor": None})


def _fake_key(source: str, body: dict[str, Any]) -> tuple[str, str, bool]:
    if source == "salesforce":
        return "quote-to-cash", body["Id"], False
    if source == "shopify":
        return "direct-commerce", str(body["id"]), body["line_items"][0]["sku"] == OUT_OF_STOCK_SKU
    workflow = {
        "invoice.paid": "invoice-paid",
        "invoice.payment_failed": "invoice-payment-failed",
        "customer.subscription.updated": "subscription-amendment",
    }[body["type"]]
    key = body["data"]["object"]["id"] if workflow == "invoice-paid" else body["id"]
    return workflow, key, False


def _run(router: FakeRouter, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    settings = {"url": router.url, "admin_url": router.admin_url, "token": TOKEN, "timeout": 10.0}
    code = run_demo(Options(**{**settings, **options}), out, err, router.env)
    return code, out.getvalue(), err.getvalue()


def test_a_run_against_a_router_that_settles_everything_exits_0() -> None:
    with FakeRouter() as router:
        code, out, err = _run(router, count=4)
    assert (code, err) == (0, "")
    assert not ANSI.search(out)  # not a terminal: no colour, no redrawing
    assert len(router.instances) == 12
    for instance in router.instances.values():
        assert instance["key"] in out
    progress = [line for line in out.splitlines() if "sent" in line and "accepted" in line]
    assert len(progress) == len(WORKFLOWS)  # the final lines only, once each
    assert "interlock workflows retry 01M8FAKE" in out and f"--url {router.admin_url}" in out
    assert "All 12 triggers accepted: 11 completed, 1 parked as expected" in out
    # Billing follows the deals: their Stripe customers are invoiced, their subscriptions amended.
    deals = [i for i in router.instances.values() if i["workflow"] == "quote-to-cash"]
    customers = {s["output"]["id"] for i in deals for s in i["steps"] if s["id"] != "subscription"}
    invoices = [b for b in router.posted if str(b.get("type", "")).startswith("invoice.")]
    assert len(invoices) == 3 and {b["data"]["object"]["customer"] for b in invoices} <= customers
    amendments = [b for b in router.posted if b.get("type") == "customer.subscription.updated"]
    for event in amendments:
        sub = event["data"]["object"]
        assert sub["metadata"] == {"ref_salesforce": f"deal-of-{sub['id']}"}  # as Stripe has it
        assert sub["quantity"] > event["data"]["previous_attributes"]["quantity"] == 10


def test_json_output_is_one_document() -> None:
    with FakeRouter() as router:
        code, out, _ = _run(router, as_json=True)
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["exit_code"] == 0
    assert [t["workflow"] for t in document["triggers"]].count("quote-to-cash") == 3
    assert all(t["instance"]["steps"] for t in document["triggers"])
    recon = document["reconciliation"]
    assert recon["ok"] and recon["notes"] == []
    assert [r["run"]["id"] for r in recon["runs"]] == ["payments-daily.1", "accounts-hourly.1"]
    assert recon["recheck"]["run"]["id"] == "payments-daily.2"
    payments = recon["runs"][0]
    assert payments["reports"]["stripe-payments-vs-netsuite"]["rows"] == PAYMENT_ROWS
    assert payments["repairs"] == {
        "stripe-payments-vs-netsuite": {"route": "payment-repair", "sent": 3, "delivered": 3,
                                        "dead": 0},
    }  # fmt: skip
    (again,) = recon["recheck"]["run"]["reconciliations"]
    assert again["counts"] == {"matched": 19, "missing_left": 1, "missing_right": 0,
                               "mismatched": 0}  # fmt: skip


def test_rejected_and_lost_triggers_exit_1_with_the_reason() -> None:
    with FakeRouter(reject="shopify", lose="subscription-amendment") as router:
        code, out, _ = _run(router, timeout=4.0)
    assert code == 1
    flat = " ".join(out.split())  # the verdict wraps long lines
    assert "direct-commerce 1" in flat and "not accepted (HTTP 401: invalid signature)" in flat
    assert "no instance: trigger delivery dead (dead letter): transform failed" in flat
    assert "rejected" in out


def test_billing_is_held_back_when_no_deal_completes() -> None:
    with FakeRouter(fail="quote-to-cash") as router:
        code, out, _ = _run(router)
    assert code == 1
    assert not [b for b in router.posted if "type" in b]  # no Stripe event was sent
    flat = " ".join(out.split())
    assert "invoice-paid in_1Dm" in flat and "not sent: no deal completed" in flat
    assert "not sent" in out and "compensated" in out


def test_a_router_without_the_seed_workflows_exits_1_before_sending() -> None:
    with FakeRouter(missing=("quote-to-cash",)) as router:
        code, out, err = _run(router)
    assert code == 1 and out == "" and not router.instances
    assert "the router has no workflow quote-to-cash" in err


def test_a_router_without_the_reconciliation_jobs_exits_1_before_sending() -> None:
    with FakeRouter(jobs=FakeJobs(missing=("accounts-hourly",))) as router:
        code, out, err = _run(router)
    assert code == 1 and out == "" and not router.instances and not router.jobs.runs
    assert "the router has no job accounts-hourly" in err


_COUNT = re.compile(r"\b(matched|missing_right|mismatched|missing_left) (\d+)\b")
RECONCILIATIONS = ("stripe-payments-vs-netsuite", "accounts-vs-netsuite", "accounts-vs-stripe")


def recon_sections(text: str) -> tuple[str, str]:
    """The report's two reconciliation sections: the first runs, and the recheck."""
    after = text.split("\nReconciliation: the jobs run now\n", 1)[1]
    first, again = after.split("\nReconciliation again, after the repairs\n", 1)
    return first, again.split("\n\n✓ All ", 1)[0].split("\n\n✗ ", 1)[0]


def recon_counts(section: str) -> dict[str, dict[str, int]]:
    """Reconciliation -> the counts line printed under its name."""
    found: dict[str, dict[str, int]] = {}
    current = None
    for line in section.splitlines():
        words = line.split()
        if words and words[0] in RECONCILIATIONS:
            current = words[0]
        elif current is not None and words[:1] == ["matched"]:
            found[current] = {k: int(v) for k, v in _COUNT.findall(line)}
            current = None
    return found


def exception_rows(section: str) -> list[tuple[str, str, str]]:
    """(class, key, the rest of the line) of every exception row printed."""
    rows = []
    for line in section.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] in {"missing_right", "mismatched", "missing_left"}:
            rows.append((words[0], words[1], " ".join(words[2:])))
    return rows


def test_the_reconciliation_part_reports_each_run_then_a_clean_recheck() -> None:
    with FakeRouter() as router:
        code, out, err = _run(router)
        again_code, again_out, _ = _run(router)  # the same router: the drift is repaired
        runs = list(router.jobs.runs)
        invoices, types = dict(router.invoices), set(router.account_types.values())
        posted = [b for b in router.posted if str(b.get("type", "")).startswith("invoice.")]
    assert (code, err, again_code) == (0, "", 0), out
    assert runs == [
        "payments-daily.1", "accounts-hourly.1", "payments-daily.2",
        "payments-daily.3", "accounts-hourly.2", "payments-daily.4",
    ]  # fmt: skip
    # Stripe held every invoice the demo announced, before the event; the Accounts are customers.
    assert set(invoices) == {b["data"]["object"]["id"] for b in posted} and len(invoices) == 6
    assert types == {"Customer"}

    first, recheck = recon_sections(out)
    assert recon_counts(first) == {
        "stripe-payments-vs-netsuite": {"matched": 16, "missing_right": 2, "mismatched": 1,
                                        "missing_left": 1},
        "accounts-vs-netsuite": {"matched": 19, "missing_right": 1, "mismatched": 0,
                                 "missing_left": 0},
        "accounts-vs-stripe": {"matched": 19, "missing_right": 1, "mismatched": 0,
                               "missing_left": 0},
    }  # fmt: skip
    rows = exception_rows(first)
    assert [(kind, key) for kind, key, _ in rows] == [  # grouped by class, as the counts read
        ("missing_right", "stripe-in_A-payment"),
        ("missing_right", "stripe-in_C-payment"),
        ("mismatched", "stripe-in_B-payment"),
        ("missing_left", "stripe-in_X-payment"),
        ("missing_right", "salesforce-001A"),
        ("missing_right", "001B"),
    ]
    assert [rest for _, _, rest in rows] == [
        "repair → repaired", "repair → repaired", "repair → repaired", "parked",
        "repair → repaired", "ignored (created with the first subscription)",
    ]  # fmt: skip
    lines = [line.strip() for line in first.splitlines()]
    assert "Stripe: amount USD 19.99, paid_on 2026-01-01 · NetSuite: none" in lines
    assert "Stripe: amount USD 50.00" in lines and "NetSuite: amount USD 55.00" in lines
    assert "Stripe: none · NetSuite: amount JPY 4200, paid_on 2026-01-01" in lines  # no cents
    assert "3 to repair (3 delivered through route payment-repair); 1 parked for an operator" in (
        lines
    )
    assert "1 to repair (1 delivered through route account-to-erp)" in lines
    assert "0 to repair; 1 ignored" in lines
    assert recon_counts(recheck) == {
        "stripe-payments-vs-netsuite": {"matched": 19, "missing_right": 0, "mismatched": 0,
                                        "missing_left": 1},
    }  # fmt: skip
    flat = " ".join(recheck.split())
    assert "✓ in step: the 3 records payments-daily.1 repaired now match" in flat
    assert f"interlock reconcile report payments-daily.1 --url {router.admin_url}" in recheck
    assert "interlock reconcile parked stripe-payments-vs-netsuite --url" in recheck
    assert "All 3 reconciliation runs succeeded: 6 exceptions reported" in " ".join(out.split())
    for line in out.splitlines():
        assert visible(line) <= WIDTH or line.startswith("    interlock "), line

    # The second demo: nothing left to repair, and it says so.
    first, recheck = recon_sections(again_out)
    counts = recon_counts(first)
    assert counts["stripe-payments-vs-netsuite"] == {"matched": 19, "missing_right": 0,
                                                    "mismatched": 0, "missing_left": 1}  # fmt: skip
    assert counts["accounts-vs-netsuite"]["missing_right"] == 0
    assert [(kind, key) for kind, key, _ in exception_rows(first)] == [
        ("missing_left", "stripe-in_X-payment"),
        ("missing_right", "001B"),
    ]
    assert "0 to repair; 1 parked for an operator" in [line.strip() for line in first.splitlines()]
    assert "✓ in step: 0 to repair, as before" in " ".join(recheck.split())
    assert "interlock reconcile report payments-daily.3 " in recheck


def test_a_failed_reconciliation_run_exits_1_with_its_reason() -> None:
    with FakeRouter(jobs=FakeJobs(failing="accounts-hourly")) as router:
        code, out, _ = _run(router)
    assert code == 1
    assert "All 11 triggers accepted" in out  # the workflows went well
    assert "  accounts-hourly.1  failed  page 1 of stripe failed: 401 Unauthorized" in out
    verdict = out.split("✗ The reconciliation did not end as expected:\n", 1)[1]
    reason = "accounts-hourly.1: failed (page 1 of stripe failed: 401 Unauthorized)"
    assert " ".join(verdict.split()) == reason


def test_an_unreachable_router_exits_2() -> None:
    from tests.support.process import free_port

    out, err = io.StringIO(), io.StringIO()
    options = Options(url=f"http://127.0.0.1:{free_port()}", token=TOKEN)
    assert run_demo(options, out, err, {}) == 2
    assert "is `make run` running?" in err.getvalue() and out.getvalue() == ""


# -- end to end: the real routes/ folder, an engine with both listeners, the simulators ---------


class RouterThread:
    """An engine over routes/ with its ingress and admin apps on free loopback ports."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env, self.data_dir = env, data_dir
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []
        self._engine: Any = None

    def __enter__(self) -> RouterThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(60)
        return self

    async def _start(self) -> None:
        from router import Engine, Settings, load_config
        from router.http.admin import create_admin_app
        from router.http.ingress import create_app

        self._engine = Engine(
            load_config(ROUTES, self.env), Settings(data_dir=self.data_dir, demo=True)
        )
        await self._engine.start()
        for app in (create_app(self._engine), create_admin_app(self._engine, [TOKEN])):
            runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._runners.append(runner)
            self.ports.append(int(runner.addresses[0][1]))

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in self._runners:
                await runner.cleanup()
            if self._engine is not None and self._engine.started:
                await self._engine.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _simulator_env(sims: Any) -> dict[str, str]:
    """routes/connectors.yaml's placeholders, pointed at the simulators' ephemeral ports."""
    return {**os.environ, **simulator_env(sims)}


@pytest.mark.skipif(
    not (ROUTES / "quote-to-cash.yaml").exists(),
    reason="the seed workflow files (routes/quote-to-cash.yaml ...) are not in routes/ yet",
)
@pytest.mark.timeout(180)
def test_the_demo_end_to_end_against_the_shipped_routes(tmp_path: Path) -> None:
    from simulators.cli import demo_accounts, demo_payments, seed_demo
    from simulators.runner import SimulatorThread

    with SimulatorThread() as sims:
        sims.call(lambda: seed_demo(sims.set, reconciliation=True))
        env = _simulator_env(sims)
        with RouterThread(env, tmp_path / "data") as router:
            url, admin = (f"http://127.0.0.1:{port}" for port in router.ports)
            out, err = io.StringIO(), io.StringIO()
            options = Options(url=url, admin_url=admin, token=TOKEN, timeout=60.0)
            code = run_demo(options, out, err, env)
            second = io.StringIO()  # a second run, as JSON: new ids, so new instances
            again = run_demo(replace(options, as_json=True), second, io.StringIO(), env)
    text = out.getvalue()
    assert (code, err.getvalue()) == (0, ""), text
    table = text.split("\nInstances\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:-1]
    assert len(table) == 11, table  # every instance, one row each
    keys = [row.split()[-5] for row in table]  # ... KEY STATE STEPS TOOK SLA
    states = [row.split()[-4] for row in table]
    assert states.count("completed") == 10 and states.count("parked") == 1
    assert "All 11 triggers accepted: 10 completed, 1 parked as expected" in text
    assert keys[states.index("parked")].isdigit()  # a Shopify order id: the out-of-stock order
    assert "step availability failed" in text and "interlock workflows retry 01" in text
    document = json.loads(second.getvalue())
    assert again == 0 and document["ok"]
    assert [t["instance"]["key"] for t in document["triggers"]] == [
        t["key"] for t in document["triggers"]
    ]
    assert not {t["key"] for t in document["triggers"]} & set(keys)

    # -- the reconciliations, on the seeded drift (simulators/cli.py: seed_demo) -------------
    payments, accounts = demo_payments(), demo_accounts()
    assert payments.drift.counts() == {"missing_left": 1, "missing_right": 3, "mismatched": 2}
    assert accounts.erp.counts() == {"missing_left": 0, "missing_right": 2, "mismatched": 1}
    assert accounts.billing.counts() == {"missing_left": 0, "missing_right": 2, "mismatched": 0}
    first, recheck = recon_sections(text)
    # Matched: the data sets' agreeing records, plus what the demo's own workflows made in step
    # (its 2 paid invoices and their payments; its 3 customer Accounts, ERP and Stripe customers).
    assert recon_counts(first) == {
        "stripe-payments-vs-netsuite": {"matched": 45 + 2, "missing_right": 3, "mismatched": 2,
                                        "missing_left": 1},
        "accounts-vs-netsuite": {"matched": 37 + 3, "missing_right": 2, "mismatched": 1,
                                 "missing_left": 0},
        "accounts-vs-stripe": {"matched": 38 + 3, "missing_right": 2, "mismatched": 0,
                               "missing_left": 0},
    }  # fmt: skip
    rows = {(kind, key): rest for kind, key, rest in exception_rows(first)}
    want = {
        **{("missing_right", k): "repair → repaired" for k in payments.drift.missing_right},
        **{("mismatched", k): "repair → repaired" for k in payments.drift.mismatched},
        **{("missing_left", k): "parked" for k in payments.drift.missing_left},
        **{("missing_right", k): "repair → repaired" for k in accounts.erp.missing_right},
        **{("mismatched", k): "parked" for k in accounts.erp.mismatched},
    }
    ignored = "ignored (a Stripe customer is created with the account's"
    assert {k: v for k, v in rows.items() if not v.startswith(ignored)} == want
    assert {k for k, v in rows.items() if v.startswith(ignored)} == {
        ("missing_right", k) for k in accounts.billing.missing_right
    }
    lines = [line.strip() for line in first.splitlines()]
    assert "5 to repair (5 delivered through route payment-repair); 1 parked for an operator" in (
        lines
    )
    assert "2 to repair (2 delivered through route account-to-erp); 1 parked for an operator" in (
        lines
    )
    assert recon_counts(recheck) == {
        "stripe-payments-vs-netsuite": {"matched": 52, "missing_right": 0, "mismatched": 0,
                                        "missing_left": 1},
    }  # fmt: skip
    assert "✓ in step: the 5 records payments-daily.1 repaired now match" in " ".join(
        recheck.split()
    )
    assert "interlock reconcile report payments-daily.1 --url" in recheck

    # The second demo, on the same router: the drift is repaired, nothing is left to repair.
    recon = document["reconciliation"]
    assert recon["ok"] and recon["notes"] == []
    assert [r["run"]["id"] for r in recon["runs"]] == ["payments-daily.3", "accounts-hourly.2"]
    assert recon["recheck"]["run"]["id"] == "payments-daily.4"

    def counts(run: dict[str, Any]) -> dict[str, dict[str, int]]:
        return {r["reconciliation"]: r["counts"] for r in run["run"]["reconciliations"]}

    clean = {"matched": 50 + 4, "missing_left": 1, "missing_right": 0, "mismatched": 0}
    assert counts(recon["runs"][0]) == {"stripe-payments-vs-netsuite": clean}
    assert counts(recon["recheck"]) == {"stripe-payments-vs-netsuite": clean}
    assert counts(recon["runs"][1]) == {
        "accounts-vs-netsuite": {"matched": 39 + 6, "missing_left": 0, "missing_right": 0,
                                 "mismatched": 1},
        "accounts-vs-stripe": {"matched": 38 + 6, "missing_left": 0, "missing_right": 2,
                               "mismatched": 0},
    }  # fmt: skip
    assert recon["runs"][0]["repairs"] == {} and recon["runs"][1]["repairs"] == {}
    (report,) = recon["runs"][0]["reports"].values()
    assert [(r["class"], r["key"]) for r in report["rows"]] == [
        ("missing_left", k) for k in payments.drift.missing_left
    ]
