"""The unavoidable work per message, measured part by part on the pipeline's own payload.

orjson parse, pydantic validation into the model the transform takes, msgpack pack of the
journal record (the envelope metadata plus the raw body bytes, as the journal stores it) and an
LMDB put batched 100 per synced commit, using ``lmdb`` directly in a temporary directory. Each
part runs ``repeats`` times over ``n`` messages; the median per-message time is kept.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import lmdb
import msgpack
import orjson

from bench import payload

BATCH = 100


def _per_message_us(fn: Callable[[Any], object], items: list[Any], repeats: int) -> float:
    """Median over ``repeats`` of the time per item, results discarded, GC paused (as timeit)."""
    runs = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for item in items:
                fn(item)
            runs.append((time.perf_counter() - start) / len(items) * 1e6)
    finally:
        gc.enable()
    return statistics.median(runs)


def _record(body: bytes, i: int) -> dict[str, Any]:
    return {
        "v": 1,
        "src": payload.SOURCE,
        "type": "order.created",
        "idem": f"o-{i:012d}",
        "cid": f"{i:032x}",
        "tp": f"00-{i:032x}-{i:016x}-01",
        "at": time.time(),
        "hdr": {},
        "routes": [["bench-orders", f"cust-{i % payload.CUSTOMERS:04d}"]],
        "body": body,
    }


def _lmdb_put_us(records: list[bytes], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-lmdb-") as tmp:
            env = lmdb.open(tmp, map_size=1 << 30, sync=True, metasync=True, max_dbs=1)
            keys = [i.to_bytes(16, "big") for i in range(len(records))]
            start = time.perf_counter()
            for first in range(0, len(records), BATCH):
                with env.begin(write=True) as txn:
                    for k in range(first, min(first + BATCH, len(records))):
                        txn.put(keys[k], records[k])
            runs.append((time.perf_counter() - start) / len(records) * 1e6)
            env.close()
    return statistics.median(runs)


def measure(n: int, repeats: int = 3) -> dict[str, float]:
    """Per-message microseconds of each part and their sum, over ``n`` distinct messages."""
    bodies = [payload.body(i, "x") for i in range(n)]
    docs = [orjson.loads(b) for b in bodies]
    records = [msgpack.packb(_record(b, i), use_bin_type=True) for i, b in enumerate(bodies)]
    indexed = list(enumerate(bodies))
    parts = {
        "orjson_parse_us": _per_message_us(orjson.loads, bodies, repeats),
        "pydantic_validate_us": _per_message_us(payload.BenchOrder.model_validate, docs, repeats),
        "msgpack_pack_us": _per_message_us(
            lambda item: msgpack.packb(_record(item[1], item[0]), use_bin_type=True),
            indexed,
            repeats,
        ),
        "lmdb_put_batched_us": _lmdb_put_us(records, repeats),
    }
    out = {k: round(v, 2) for k, v in parts.items()}
    out["sum_us"] = round(sum(parts.values()), 2)
    out["payload_bytes"] = float(len(bodies[0]))
    out["messages"] = float(n)
    return out
