"""The envelope: one accepted message as it travels and as the journal stores it.

The journal keeps the raw body bytes (replay stays byte-exact) plus the metadata below; the parsed
payload is kept in memory only, so a message is parsed once at ingress and never again on the hot
path. After a restart the payload is parsed from the stored body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from router import codec
from router.ids import encode_id

RECORD_VERSION = 1


@dataclass(slots=True)
class Envelope:
    id: bytes
    source: str
    type: str
    idempotency_key: str
    correlation_id: str
    traceparent: str
    received_at: float
    body: bytes
    routes: list[tuple[str, str]] = field(default_factory=list)  # (route id, ordering key)
    headers: dict[str, str] = field(default_factory=dict)
    # Refused at the edge but kept (a file's malformed row): dead-lettered at append, with this
    # reason, on every route it matched; never delivered until an operator replays it.
    rejected: str = ""
    # What "the same body" compares when it is not the body itself: a CloudEvent's mode-independent
    # form (router/cloudevents.py), so one event sent binary, then structured, is a duplicate.
    # Memory only: the journal keeps its digest.
    fingerprint: bytes = b""
    _payload: Any = None
    _id_text: str = ""

    @property
    def id_text(self) -> str:
        """The message id as its 26 characters, encoded once per envelope (hot path)."""
        if not self._id_text:
            self._id_text = encode_id(self.id)
        return self._id_text

    @property
    def trace_id(self) -> str:
        return self.traceparent.split("-")[1] if self.traceparent.count("-") == 3 else ""

    @property
    def payload(self) -> Any:
        if self._payload is None:
            self._payload = orjson.loads(self.body)
        return self._payload

    def to_record(self) -> bytes:
        return codec.pack(
            {
                "v": RECORD_VERSION,
                "src": self.source,
                "type": self.type,
                "idem": self.idempotency_key,
                "cid": self.correlation_id,
                "tp": self.traceparent,
                "at": self.received_at,
                "hdr": self.headers,
                "routes": [list(r) for r in self.routes],
                "body": self.body,
            }
        )

    @classmethod
    def from_record(cls, message_id: bytes, data: bytes) -> Envelope:
        rec = codec.unpack(data)
        if rec.get("v") != RECORD_VERSION:
            raise ValueError(f"unknown journal record version {rec.get('v')!r}")
        return cls(
            id=message_id,
            source=rec["src"],
            type=rec["type"],
            idempotency_key=rec["idem"],
            correlation_id=rec["cid"],
            traceparent=rec["tp"],
            received_at=rec["at"],
            body=rec["body"],
            routes=[(r[0], r[1]) for r in rec["routes"]],
            headers=rec["hdr"],
        )
