"""Interlock transforms, registered with :mod:`router.registry` on import.

Each submodule registers one vendor's mappings under ``<vendor>.<thing>`` names. The functions are
the pure, typed mappings of :mod:`canonical.mappings`; the router reads their annotations to check
that a route's transform chain is type-consistent.
"""

from __future__ import annotations

from actors.transforms import (
    dynamics,
    inventory,
    netsuite,
    provisioning,
    salesforce,
    shopify,
    stripe,
    threepl,
    zendesk,
)

__all__ = [
    "dynamics",
    "inventory",
    "netsuite",
    "provisioning",
    "salesforce",
    "shopify",
    "stripe",
    "threepl",
    "zendesk",
]
