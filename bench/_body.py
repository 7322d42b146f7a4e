"""The benchmark message as bytes, without importing pydantic (the load generator imports this).

:func:`body` renders message ``i`` with a unique id of a fixed width, so the HTTP load generator
can precompute its ``Content-Length``. The shape is validated by ``bench.payload.BenchOrder``.

:func:`signature` signs a body the way the bench source verifies it
(``bench/routes_http/sources.yaml``: Interlock's ``github`` scheme, ``X-Hub-Signature-256:
sha256=<hex>``, HMAC-SHA256 of the body) with :data:`SECRET`. The load generator signs every
request; ``interlock run`` and the ``limit`` baseline check it, ``bare`` ignores it.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

SOURCE = "bench"
CUSTOMERS = 64  # distinct ordering keys: lanes run in parallel, each in order
# A fixed test value, not a credential: it must equal the one in bench/routes_http/sources.yaml.
SECRET = "interlock-bench-signing-secret"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
_MAC = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)  # keyed once; copied per body


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


def signature(data: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``data``: ``sha256=`` and the hex HMAC-SHA256."""
    mac = _MAC.copy()
    mac.update(data)
    return SIGNATURE_PREFIX + mac.hexdigest()
