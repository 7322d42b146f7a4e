"""What a mapping chain costs per message, next to the parse and validation it cannot avoid.

Measures, in µs per message, with ``time.perf_counter_ns``:

- ``orjson_parse_us``: ``orjson.loads`` of a Stripe ``invoice.paid`` event (the floor);
- ``validate_us``: ``Invoice.model_validate`` of the already-canonical dict (pydantic alone);
- ``inbound_us``: Stripe event -> canonical Invoice (:func:`stripe_invoice_to_canonical`);
- ``chain_us``: raw bytes -> orjson -> Invoice -> NetSuite ``customerPayment`` body, the heaviest
  chain a route runs;
- ``codec_us``: msgpack round trip of the canonical Invoice through the journal codec shape.

Run ``python -m bench.mapping_cost`` (or ``python bench/mapping_cost.py``) to print the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import orjson

from canonical.mappings.netsuite_out import netsuite_payment_from_invoice
from canonical.mappings.stripe import stripe_invoice_to_canonical
from canonical.models import Invoice

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "vendors"
    / "stripe"
    / "invoice_paid.json"
)


def _per_message_us(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm caches (pydantic validators, imports) outside the timed loop
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n / 1000


def run(n: int = 2000) -> dict[str, float]:
    """Time each stage ``n`` times and return µs per message, keyed by stage.

    Args:
        n: Messages per measurement; the default keeps the whole run under a few seconds.

    Returns:
        ``orjson_parse_us``, ``validate_us``, ``inbound_us``, ``chain_us``, ``codec_us`` and
        ``payload_bytes`` (the size of the raw event).
    """
    raw = FIXTURE.read_bytes()
    event = orjson.loads(raw)
    invoice = stripe_invoice_to_canonical(event)
    canonical_dict = invoice.model_dump(mode="json")

    def chain() -> dict[str, Any]:
        return netsuite_payment_from_invoice(stripe_invoice_to_canonical(orjson.loads(raw)))

    def codec() -> Invoice:
        packed = msgpack.packb(invoice.model_dump(mode="json"), use_bin_type=True)
        return Invoice.model_validate(msgpack.unpackb(packed, raw=False))

    return {
        "payload_bytes": float(len(raw)),
        "orjson_parse_us": _per_message_us(lambda: orjson.loads(raw), n),
        "validate_us": _per_message_us(lambda: Invoice.model_validate(canonical_dict), n),
        "inbound_us": _per_message_us(lambda: stripe_invoice_to_canonical(event), n),
        "chain_us": _per_message_us(chain, n),
        "codec_us": _per_message_us(codec, n),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>16}: {value:10.1f}")
