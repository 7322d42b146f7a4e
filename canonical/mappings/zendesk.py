"""Zendesk <-> canonical models.

Inbound: ticket webhooks in either shape Zendesk sends. Event webhooks
(``zen:event-type:ticket.created``, ``ticket.status_changed`` ...) carry the ticket in ``detail``
with ids as strings and statuses capitalised (``"Open"``); trigger webhooks configured with the
usual body carry a Tickets-API object under ``ticket``. Both map to one SupportTicket.

Outbound: bodies for ``POST /api/v2/organizations/create_or_update`` (matched on ``external_id``)
and for ``POST /api/v2/tickets`` (from a support ticket, or from an invoice whose payment failed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from canonical.errors import MappingError
from canonical.mappings._common import entity_ref, external_key, parse_external_key
from canonical.mappings._read import Node, canonical_errors
from canonical.models import (
    Customer,
    ExternalRef,
    Invoice,
    InvoiceStatus,
    Requester,
    SupportTicket,
    TicketStatus,
)

_STATUS = {s.value: s.value for s in TicketStatus} | {"hold": "on_hold", "on-hold": "on_hold"}
_PRIORITY = {p: p for p in ("low", "normal", "high", "urgent")}
_KIND = {k: k for k in ("question", "incident", "problem", "task")}


def _zid(node: Node, key: str) -> str | None:
    value = node.opt_text(key)
    return None if value in (None, "0") else value  # events send "0" for "none"


def zendesk_ticket_to_canonical(payload: dict[str, Any]) -> SupportTicket:
    """Map a ticket event (``detail``) or trigger (``ticket``) webhook body to a SupportTicket.

    Raises:
        MappingError: Not a ticket event, or a missing id or unknown status.
    """
    root = Node(payload)
    if "detail" in root.data:
        kind = root.text("type")
        if not kind.startswith("zen:event-type:ticket."):
            raise root.error("type", f"{kind!r} is not a ticket event")
        ticket = root.child("detail")
    else:
        ticket = root.child("ticket")
    refs = [ExternalRef(system="zendesk", id=ticket.text("id"))]
    origin = parse_external_key(ticket.opt_text("external_id"))
    if origin is not None and origin.system != "zendesk":
        refs.append(origin)
    via = ticket.opt_child("via")
    priority = ticket.opt_text("priority")
    kind_value = ticket.opt_text("type")
    requester = _zid(ticket, "requester_id")
    with canonical_errors():
        return SupportTicket(
            external_refs=tuple(refs),
            subject=ticket.opt_text("subject"),
            description=ticket.opt_text("description"),
            status=TicketStatus(ticket.choice("status", _STATUS)),
            priority=ticket.choice("priority", _PRIORITY) if priority else None,
            kind=ticket.choice("type", _KIND) if kind_value else None,
            requester=Requester(external_refs=(ExternalRef(system="zendesk", id=requester),))
            if requester
            else None,
            organization=entity_ref("zendesk", _zid(ticket, "organization_id")),
            assignee=entity_ref("zendesk", _zid(ticket, "assignee_id")),
            group=entity_ref("zendesk", _zid(ticket, "group_id")),
            tags=ticket.strings("tags"),
            channel=via.opt_text("channel") if via else None,
            created_at=ticket.opt_timestamp("created_at"),
            updated_at=ticket.opt_timestamp("updated_at"),
        )


def zendesk_organization_from_customer(customer: Customer) -> dict[str, Any]:
    """Body for ``POST /api/v2/organizations/create_or_update``, matched on ``external_id``.

    Raises:
        MappingError: The customer has no external refs to key on.
    """
    org: dict[str, Any] = {
        "name": customer.display_name,
        "external_id": external_key(customer, "customer"),
        "tags": [f"status_{customer.status.value}"],
    }
    if customer.website:
        host = urlsplit(customer.website if "//" in customer.website else f"//{customer.website}")
        if host.hostname:
            org["domain_names"] = [host.hostname.removeprefix("www.")]
    if customer.legal_name != customer.display_name:
        org["details"] = customer.legal_name
    return {"organization": org}


def zendesk_ticket_from_support_ticket(ticket: SupportTicket) -> dict[str, Any]:
    """Body for ``POST /api/v2/tickets``; ``external_id`` lets a retried create be recognised.

    Raises:
        MappingError: The ticket has no external refs to key on.
    """
    body: dict[str, Any] = {
        "external_id": external_key(ticket, "ticket"),
        "status": "hold" if ticket.status is TicketStatus.ON_HOLD else ticket.status.value,
        "tags": list(ticket.tags),
    }
    if ticket.subject:
        body["subject"] = ticket.subject
    body["comment"] = {"body": ticket.description or ticket.subject or "(no description)"}
    if ticket.priority is not None:
        body["priority"] = ticket.priority.value
    if ticket.kind is not None:
        body["type"] = ticket.kind
    if ticket.requester is not None:
        zid = ticket.requester.ref("zendesk")
        if zid is not None and zid.isdigit():
            body["requester_id"] = int(zid)
        elif ticket.requester.email:
            body["requester"] = {
                "email": ticket.requester.email,
                "name": ticket.requester.name or ticket.requester.email,
            }
    org = ticket.organization.ref("zendesk") if ticket.organization else None
    if org is not None and org.isdigit():
        body["organization_id"] = int(org)
    return {"ticket": body}


def zendesk_ticket_from_failed_invoice(invoice: Invoice) -> dict[str, Any]:
    """Body for ``POST /api/v2/tickets``: a high-priority task to chase a failed payment.

    A failed collection is revenue at risk and usually a card or bank problem a person has to sort
    out with the customer, so it becomes a ticket for the billing team. The details go in a private
    note (``public: false``): the ticket is raised by the integration, and nothing should be
    mailed to the customer from it. ``external_id`` is the invoice's upsert key
    (``stripe-in_...``), so the inbound ticket mapping links the ticket back to the invoice, and a
    retried create is deduplicated by the connector's ``Idempotency-Key``.

    Raises:
        MappingError: The invoice is not open or uncollectible with an amount remaining (nothing
            failed), or it has no external refs.
    """
    unpaid = invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
    if not unpaid or invoice.amount_remaining.amount <= 0:
        raise MappingError(
            "status",
            f"a {invoice.status.value} invoice with {invoice.amount_remaining} remaining "
            "has no failed payment to chase",
        )
    key = external_key(invoice, "invoice")
    number = invoice.number or key
    customer = invoice.customer
    stripe_customer = customer.ref("stripe") if customer else None
    who = (customer.name if customer else None) or stripe_customer or "unknown customer"
    facts = [
        f"Payment failed for invoice {number}.",
        "",
        f"Customer: {who}" + (f" (Stripe {stripe_customer})" if stripe_customer else ""),
        f"Amount due: {invoice.amount_remaining} (invoice total {invoice.total})",
        f"Collection attempts: {invoice.attempt_count}",
        f"Invoice status: {invoice.status.value}",
    ]
    if invoice.due_date is not None:
        facts.append(f"Due: {invoice.due_date.isoformat()}")
    if invoice.subscription is not None and invoice.subscription.origin is not None:
        facts.append(f"Subscription: {invoice.subscription.origin}")
    facts.append(f"Invoice: {invoice.origin}")
    return {
        "ticket": {
            "subject": f"Payment failed: invoice {number} ({who})",
            "comment": {"body": "\n".join(facts), "public": False},
            "priority": "high",
            "type": "task",
            "tags": ["billing", "payment_failed", f"invoice_{invoice.status.value}"],
            "external_id": key,
        }
    }
