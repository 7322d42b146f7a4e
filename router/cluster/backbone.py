"""The connection to the NATS JetStream backbone: the stream, the KV buckets and the data calls.

Every data call is bounded by ``request_timeout_s`` and fails as ``BackboneUnavailable``, so a
caller can answer 503 instead of hanging while the backbone is away; the connection itself
reconnects forever in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from router.cluster.names import Names
from router.logs import get_logger

log = get_logger("interlock.cluster")

T = TypeVar("T")

# JetStream's "stream name already in use" (a concurrent create with another configuration).
_STREAM_NAME_IN_USE = 10058
_KV_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")


class BackboneUnavailable(Exception):  # noqa: N818 - the name the engine and its 503s use
    """The backbone did not answer: not connected, timeout, no responders or a server error."""


class BackboneConfigError(Exception):
    """The backbone's stream or buckets disagree with this instance's configuration."""


@dataclass(frozen=True, slots=True)
class BackboneOptions:
    url: str
    names: Names = field(default_factory=Names)  # the partitions and shards too
    idempotency_ttl_s: float = 7 * 86400
    dead_letter_ttl_s: float = 14 * 86400
    lease_s: float = 6.0
    request_timeout_s: float = 2.0
    # Per partition consumer: bounds what one partition has in flight.
    max_ack_pending: int = 1024
    # Long on purpose: a takeover recreates the consumer, it never waits for ack_wait.
    ack_wait_s: float = 600.0
    replicas: int = 1
    duplicate_window_s: float = 120.0

    @property
    def partitions(self) -> int:
        return self.names.partitions


class Backbone:
    """One NATS connection with the cluster's stream and buckets ensured on it."""

    def __init__(self, options: BackboneOptions, instance: str) -> None:
        self.options = options
        self.names = options.names
        self.instance = instance
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connected = False
        self._closing = False
        self._kv: dict[str, KeyValue] = {}

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        opts = self.options
        nc = Client()
        try:
            # The client retries the first connect forever too (max_reconnect_attempts=-1), so the
            # deadline is ours: a start must refuse clearly instead of hanging.
            await asyncio.wait_for(
                nc.connect(
                    opts.url,
                    name=f"interlock-{self.instance}",
                    # Typed int in nats-py, used as a float (asyncio.wait_for).
                    connect_timeout=opts.request_timeout_s,  # type: ignore[arg-type]
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,  # type: ignore[arg-type]
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    closed_cb=self._on_closed,
                    error_cb=self._on_error,
                ),
                timeout=opts.request_timeout_s * 2,
            )
        except (TimeoutError, OSError, nats.errors.Error) as err:
            await _close_quietly(nc)
            raise BackboneUnavailable(
                f"cannot connect to the backbone at {opts.url} within "
                f"{opts.request_timeout_s * 2:g} s: {type(err).__name__} {err}"
            ) from err
        self._nc = nc
        self._js = nc.jetstream(timeout=opts.request_timeout_s)
        self._connected = True
        try:
            await self._ensure()
        except BaseException:
            await self.close()
            raise
        log.info("backbone_up", url=opts.url, instance=self.instance, first=True)

    async def _on_disconnected(self) -> None:
        if self._connected and not self._closing:
            log.warning("backbone_down", url=self.options.url, instance=self.instance)
        self._connected = False

    async def _on_reconnected(self) -> None:
        if not self._connected:
            log.info("backbone_up", url=self.options.url, instance=self.instance, first=False)
        self._connected = True

    async def _on_closed(self) -> None:
        self._connected = False

    async def _on_error(self, err: Exception) -> None:
        # Reconnect attempts fail every 0.5 s while the server is away; the down/up transitions
        # are the lines worth reading, so each attempt's error is debug only.
        log.debug("backbone_error", error=f"{type(err).__name__}: {err}")

    @property
    def connected(self) -> bool:
        return self._connected and self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BackboneUnavailable("backbone not connected: connect() first")
        return self._js

    async def close(self) -> None:
        self._closing = True
        self._connected = False
        nc, self._nc, self._js = self._nc, None, None
        self._kv.clear()
        if nc is not None:
            await _close_quietly(nc)

    # -- ensuring the stream and buckets ---------------------------------------------------

    async def _ensure(self) -> None:
        opts, names = self.options, self.names
        try:
            # The layout first: a disagreement names the partitions or shards, not a symptom.
            config = KeyValueConfig(bucket=names.config_bucket, history=1)
            self._kv[names.config_bucket] = await self._ensure_bucket(config)
            await self._ensure_partitions()
            for shard in range(names.shards):
                await self._ensure_stream(shard)
            buckets = {
                bucket: KeyValueConfig(bucket=bucket, ttl=opts.idempotency_ttl_s, history=1)
                for bucket in names.idem_buckets()
            }
            buckets |= {
                names.owners_bucket: KeyValueConfig(
                    bucket=names.owners_bucket, ttl=opts.lease_s, history=1
                ),
                names.members_bucket: KeyValueConfig(
                    bucket=names.members_bucket, ttl=opts.lease_s, history=1
                ),
                names.dead_bucket: KeyValueConfig(
                    bucket=names.dead_bucket, ttl=opts.dead_letter_ttl_s, history=1
                ),
            }
            for name, wanted in buckets.items():
                self._kv[name] = await self._ensure_bucket(wanted)
        except (TimeoutError, nats.errors.Error) as err:
            raise BackboneUnavailable(
                f"backbone at {opts.url}: setting up the stream and buckets failed: "
                f"{type(err).__name__} {err}"
            ) from err

    async def _ensure_stream(self, shard: int) -> None:
        js, names, opts = self.js, self.names, self.options
        stream = names.stream(shard)
        wanted = StreamConfig(
            name=stream,
            subjects=names.subjects(shard),
            # An acked message is removed, so a consumer recreated on a partition gets exactly
            # the unacked ones, in stream order.
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=opts.replicas,
            duplicate_window=opts.duplicate_window_s,
        )
        try:
            info = await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as err:
                if err.err_code != _STREAM_NAME_IN_USE:
                    raise
                info = await js.stream_info(stream)  # another instance won the race
            else:
                log.info("backbone_stream_created", stream=stream)
                return
        have_subjects = list(info.config.subjects or [])
        if have_subjects != names.subjects(shard):
            raise BackboneConfigError(
                f"backbone stream {stream} has subjects {have_subjects}, "
                f"this instance expects {names.subjects(shard)}"
            )
        if info.config.retention != RetentionPolicy.WORK_QUEUE:
            retention = getattr(info.config.retention, "value", info.config.retention)
            raise BackboneConfigError(
                f"backbone stream {stream} has retention {retention}, "
                f"this instance expects {RetentionPolicy.WORK_QUEUE.value}"
            )

    async def _ensure_bucket(self, config: KeyValueConfig) -> KeyValue:
        js = self.js
        assert config.bucket is not None
        try:
            return await js.key_value(config.bucket)
        except nats.js.errors.BucketNotFoundError:
            pass
        try:
            kv = await js.create_key_value(config)
        except nats.js.errors.BadRequestError as err:
            if err.err_code != _STREAM_NAME_IN_USE:
                raise
            return await js.key_value(config.bucket)  # another instance won the race
        log.info("backbone_bucket_created", bucket=config.bucket)
        return kv

    async def _ensure_partitions(self) -> None:
        kv = self._kv[self.names.config_bucket]
        for what, value in (("partitions", self.names.partitions), ("shards", self.names.shards)):
            mine = str(value).encode()
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                await kv.create(what, mine)
                continue
            entry = await kv.get(what)
            if entry.value != mine:
                theirs = (entry.value or b"").decode(errors="replace")
                raise BackboneConfigError(
                    f"backbone {self.options.url} ({self.names.prefix}) has {theirs} {what}, "
                    f"this instance is configured for {value}"
                )

    # -- data calls ------------------------------------------------------------------------

    def bucket(self, name: str) -> KeyValue:
        try:
            return self._kv[name]
        except KeyError:
            raise BackboneUnavailable("backbone not connected: connect() first") from None

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """Run one backbone request, bounded by request_timeout_s; failures are unavailability."""
        if not self.connected:
            raise BackboneUnavailable(
                f"{what}: not connected to the backbone at {self.options.url}"
            )
        timeout = self.options.request_timeout_s
        try:
            return await asyncio.wait_for(make(), timeout)
        except (TimeoutError, nats.errors.TimeoutError) as err:
            raise BackboneUnavailable(f"{what}: no answer within {timeout:g} s") from err
        except nats.errors.NoRespondersError as err:
            raise BackboneUnavailable(f"{what}: no responders (is JetStream enabled?)") from err
        except nats.js.errors.APIError as err:
            raise BackboneUnavailable(f"{what}: server error {err}") from err
        except nats.errors.Error as err:
            raise BackboneUnavailable(f"{what}: {type(err).__name__} {err}") from err

    async def claim(self, key: str, message_id: bytes, partition: int = 0) -> bytes:
        """The idempotency winner for ``key`` (KV-safe: ``kv_key()`` makes one): ``message_id``
        if this call created it, else the id stored first (a caller re-claiming its own id after
        a restart learns that it won)."""
        # In the bucket of the partition's shard: copies of one event go to one partition.
        kv = self.bucket(self.names.idem_bucket(self.names.shard_of(partition)))
        stored = _checked(key)

        async def attempt() -> bytes:
            # A winner's key can expire between our failed create and our get: then try again.
            for _ in range(3):
                try:
                    await kv.create(stored, message_id)
                except nats.js.errors.KeyWrongLastSequenceError:
                    pass
                else:
                    return message_id
                try:
                    entry = await kv.get(stored)
                except nats.js.errors.KeyNotFoundError:
                    continue
                return entry.value or b""
            raise BackboneUnavailable(f"claim {key!r}: the key kept changing under us")

        return await self.call("claim", attempt)

    async def publish(
        self, partition: int, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> int:
        """Publish to one partition; returns the stream sequence (a duplicate inside the window
        returns the original's)."""
        if not 0 <= partition < self.options.partitions:
            raise ValueError(f"partition {partition} not in 0..{self.options.partitions - 1}")
        all_headers = {**(headers or {}), "Nats-Msg-Id": msg_id}
        js = self.js
        ack = await self.call(
            "publish",
            lambda: js.publish(self.names.subject(partition), payload, headers=all_headers),
        )
        return int(ack.seq)

    async def put_dead(self, key: str, value: bytes) -> None:
        """``key`` must be KV-safe (``[-/_=.a-zA-Z0-9]``; ``kv_key()`` makes one)."""
        kv = self.bucket(self.names.dead_bucket)
        await self.call("put_dead", lambda: kv.put(_checked(key), value))

    async def get_dead(self, key: str) -> bytes | None:
        kv = self.bucket(self.names.dead_bucket)

        async def get() -> bytes | None:
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None
            return entry.value or b""

        _checked(key)
        return await self.call("get_dead", get)

    async def delete_dead(self, key: str) -> None:
        kv = self.bucket(self.names.dead_bucket)
        await self.call("delete_dead", lambda: kv.delete(_checked(key)))

    async def dead_letters(self, limit: int = 1000) -> list[tuple[str, bytes]]:
        kv = self.bucket(self.names.dead_bucket)

        async def keys() -> list[str]:
            try:
                return sorted(await kv.keys())
            except nats.js.errors.NoKeysError:
                return []

        found: list[tuple[str, bytes]] = []
        for key in (await self.call("dead_letters", keys))[:limit]:
            value = await self.get_dead(key)
            if value is not None:  # deleted between the listing and the get
                found.append((key, value))
        return found

    async def partition_backlog(self) -> dict[int, int]:
        """Messages not yet acked, per partition (work-queue retention: the stream holds exactly
        those)."""
        js, names = self.js, self.names
        counts: dict[str, int] = {}
        for stream in names.streams():

            def info(stream: str = stream) -> Awaitable[Any]:
                return js.stream_info(stream, f"{names.prefix}.part.*")

            found: Any = await self.call("partition_backlog", info)
            counts |= found.state.subjects or {}
        return {p: counts.get(names.subject(p), 0) for p in range(self.options.partitions)}


def _checked(key: str) -> str:
    # A bad key is the caller's bug, not an unavailable backbone: say so before any request.
    if not _KV_KEY.fullmatch(key) or key.startswith(".") or key.endswith("."):
        raise ValueError(f"not a KV-safe key (use kv_key()): {key!r}")
    return key


async def _close_quietly(nc: Client) -> None:
    try:  # bounded: a stop must never hang on a server that went away mid-close
        await asyncio.wait_for(nc.close(), 5.0)
    except (TimeoutError, OSError, nats.errors.Error) as err:
        log.debug("backbone_close_failed", error=f"{type(err).__name__}: {err}")
