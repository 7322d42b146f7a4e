"""The benchmark message as bytes, without importing pydantic (the load generator imports this).

:func:`body` renders message ``i`` with a unique id of a fixed width, so the HTTP load generator
can precompute its ``Content-Length``. The shape is validated by ``bench.payload.BenchOrder``.
"""

from __future__ import annotations

import orjson

SOURCE = "bench"
CUSTOMERS = 64  # distinct ordering keys: lanes run in parallel, each in order


_ID = "@@ID@@"
_CUSTOMER = "@@CUSTOMER@@"


def _document() -> dict[str, object]:
    address = {
        "name": "Ada Lovelace",
        "street": "12 Analytical Engine Row",
        "city": "London",
        "postcode": "EC1A 1BB",
        "country": "GB",
    }
    lines = [
        {
            "sku": f"SKU-{1000 + n}",
            "description": f"Widget model {n}, anodised aluminium, pack of {n + 1}",
            "quantity": n + 1,
            "unit_price": f"{19.99 + n * 5:.2f}",
            "tax_rate": "0.20",
        }
        for n in range(4)
    ]
    return {
        "id": _ID,
        "type": "order.created",
        "customer": _CUSTOMER,
        "created_at": "2026-11-20T10:15:30Z",
        "currency": "GBP",
        "shipping": address,
        "billing": address,
        "lines": lines,
        "notes": "Leave at the front desk. Call ahead if the loading bay is closed.",
        "tags": ["web", "priority", "b2b"],
    }


_HEAD, _REST = orjson.dumps(_document()).decode().split(_ID)
_MIDDLE, _TAIL = _REST.split(_CUSTOMER)


def body(i: int, prefix: str = "o") -> bytes:
    """Message ``i`` as JSON bytes; the length only depends on ``prefix``, never on ``i``."""
    return f"{_HEAD}{prefix}-{i:012d}{_MIDDLE}cust-{i % CUSTOMERS:04d}{_TAIL}".encode()
