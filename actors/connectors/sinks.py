"""Connectors that deliver nowhere: ``log`` for dry runs, ``null`` for benchmarks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from router.plugin import OutboundRequest, get_logger, register

log = get_logger("interlock.connector.log")


class SinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    concurrency: int = Field(default=256, ge=1)


class LogConnector:
    """Logs each delivery (ids, route, size; never the body, which may hold personal data)."""

    timeout_s = 5.0

    def __init__(self, name: str, config: SinkConfig) -> None:
        self.name = name
        self.concurrency = config.concurrency
        self.delivered = 0

    async def start(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        self.send_inline(request)
        return None

    def key_window(self, request: OutboundRequest) -> float | None:
        """No target, nothing to apply twice: a resend is safe at any age."""
        del request
        return None

    def send_inline(self, request: OutboundRequest) -> None:
        """No I/O: the connector actor calls this on its own thread, skipping the loop hop."""
        self.delivered += 1
        log.info(
            "dry_run_delivery",
            connector=self.name,
            route=request.route,
            message_id=request.message_id,
            idempotency_key=request.idempotency_key,
            correlation_id=request.correlation_id,
            bytes=len(request.body),
        )

    async def close(self) -> None:
        return None


class NullConnector(LogConnector):
    """Accepts and counts; the benchmark's stand-in for an infinitely fast target."""

    def send_inline(self, request: OutboundRequest) -> None:  # noqa: ARG002 - discards by design
        self.delivered += 1


SINK_WINDOWS = {"every call": "permanent (no target: nothing is applied twice)"}
register("connector", "log", SinkConfig, LogConnector, key_windows=SINK_WINDOWS)
register("connector", "null", SinkConfig, NullConnector, key_windows=SINK_WINDOWS)
