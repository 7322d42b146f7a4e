"""Provisioning transforms: entitlement requests for the licence server, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.provisioning import (
    provisioning_entitlement_from_order,
    provisioning_entitlement_from_subscription,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "provisioning.entitlement_from_order": provisioning_entitlement_from_order,
    "provisioning.entitlement_from_subscription": provisioning_entitlement_from_subscription,
}
"""Transform name -> function; the names are what route and workflow files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
