"""3PL transforms: fulfilment requests for the logistics provider, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.threepl import threepl_fulfilment_request_from_order
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "threepl.fulfilment_request_from_order": threepl_fulfilment_request_from_order,
}
"""Transform name -> function; the names are what route and workflow files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
