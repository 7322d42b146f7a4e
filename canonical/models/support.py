"""Support: the organisation a helpdesk knows, and its tickets."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from canonical.models._base import Entity, EntityRef, Lifecycle, ShortStr, table
from canonical.models.party import Email

_TICKET_FLOW = table(
    new="open pending on_hold solved closed",
    open="pending on_hold solved",
    pending="open on_hold solved",
    on_hold="open pending solved",
    solved="open closed",
    closed="",
)


class SupportOrganization(Entity):
    """A customer as the helpdesk sees it (Zendesk organization)."""

    schema_version: Literal[1] = 1
    name: ShortStr
    customer: EntityRef | None = None
    domains: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str | None = None
    details: str | None = None


class TicketStatus(Lifecycle):
    """Zendesk's ticket lifecycle: new -> open/pending/on_hold -> solved -> closed."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        """See the class docstring."""
        return _TICKET_FLOW


class TicketPriority(StrEnum):
    """Urgency as the helpdesk ranks it."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Requester(EntityRef):
    """Who raised a ticket (a helpdesk user, known by id and perhaps by email)."""

    email: Email | None = None


class SupportTicket(Entity):
    """A support request."""

    schema_version: Literal[1] = 1
    subject: str | None = None
    description: str | None = None
    status: TicketStatus
    priority: TicketPriority | None = None
    kind: Literal["question", "incident", "problem", "task"] | None = None
    requester: Requester | None = None
    organization: EntityRef | None = None
    assignee: EntityRef | None = None
    group: EntityRef | None = None
    tags: tuple[str, ...] = ()
    channel: str | None = Field(None, description="how it arrived: web, email, api, chat ...")
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
