"""What crosses the backbone: one delivery per JetStream message, and the partition it goes to."""

from __future__ import annotations

from dataclasses import dataclass

from router import codec
from router.cluster.names import partition_of
from router.envelope import Envelope

WIRE_VERSION = 1


def partition_for(route: str, ordering_key: str, envelope: Envelope, partitions: int) -> int:
    """A keyed delivery goes where its (route, key) goes, so a key is delivered in order; an
    unkeyed one where its event goes, so two copies of one event meet at one owner's claim."""
    if ordering_key:
        return partition_of(f"{route}\0{ordering_key}", partitions)
    return partition_of(f"{route}\0{envelope.source}\0{envelope.idempotency_key}", partitions)


@dataclass(frozen=True, slots=True)
class Wire:
    """One delivery as it crosses the backbone."""

    message_id: bytes
    record: bytes  # the accepting instance's journal record of the message
    route: str
    ordering_key: str
    replay: bool
    origin: str  # the accepting instance

    def pack(self) -> bytes:
        return codec.pack(
            [
                WIRE_VERSION,
                self.message_id,
                self.record,
                self.route,
                self.ordering_key,
                self.replay,
                self.origin,
            ]
        )

    @classmethod
    def unpack(cls, data: bytes) -> Wire:
        fields = codec.unpack(data)
        if not isinstance(fields, list) or not fields or fields[0] != WIRE_VERSION:
            raise ValueError("not an Interlock backbone message of this version")
        _, mid, record, route, key, replay, origin = fields
        return cls(bytes(mid), bytes(record), str(route), str(key), bool(replay), str(origin))
