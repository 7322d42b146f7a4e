"""Zendesk transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.zendesk import (
    zendesk_organization_from_customer,
    zendesk_ticket_from_failed_invoice,
    zendesk_ticket_from_support_ticket,
    zendesk_ticket_to_canonical,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "zendesk.ticket_to_canonical": zendesk_ticket_to_canonical,
    "zendesk.organization_from_customer": zendesk_organization_from_customer,
    "zendesk.ticket_from_support_ticket": zendesk_ticket_from_support_ticket,
    "zendesk.ticket_from_failed_invoice": zendesk_ticket_from_failed_invoice,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
