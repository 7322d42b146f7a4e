"""Where a delivery stands: the one definition of the status values.

The journal's records use the enum; the admin API's schema and the CLI's ``--status`` need the
same values as literals (a type cannot be derived from an enum), so both live here and the
assertion keeps them in step. Light on purpose: the CLI imports it to build its options.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Status(StrEnum):
    PENDING = "pending"
    RETRY = "retry"
    DELIVERED = "delivered"
    DEAD = "dead"
    # Cluster mode: handed to the backbone (its partition's owner delivers it), or handed back
    # there by a restart. Final for this journal; the owner's journal holds the delivery's fate.
    FORWARDED = "forwarded"


# The same values as literals, for the admin API's schema and the CLI's --status (types cannot be
# derived from an enum); the assertion keeps the three in step at import.
DeliveryStatus = Literal["pending", "retry", "delivered", "dead", "forwarded"]
MessageStatus = Literal[DeliveryStatus, "unrouted"]
assert set(get_args(DeliveryStatus)) == {s.value for s in Status}

# A delivery in one of these has left this journal's pending index: nothing more is sent from here.
FINAL = frozenset({Status.DELIVERED, Status.DEAD, Status.FORWARDED})
