"""Test doubles for plugin and route authors, shipped as structlog ships ``capture_logs``.

- :class:`Sink`: a real loopback HTTP target in its own thread and loop that records every call,
  applies each ``Idempotency-Key`` once, and answers scripted statuses or stalls on demand.
- :class:`RecordingConnector` (kind ``recording``) and :class:`InlineRecordingConnector` (kind
  ``recording-inline``, a no-I/O connector the route actor calls in place): connectors that record
  every :class:`~router.connector.OutboundRequest` and fail as scripted. Call :func:`install` once
  to register both kinds; :func:`recorded` finds a connector by its name in ``connectors.yaml``.
- :func:`engine_for`: a started :class:`~router.engine.Engine` over a routes folder (or a mapping
  of file names to YAML) with a temporary data dir, stopped on exit.
- :func:`sign`: the headers that carry a valid signature of a body for every inbound scheme,
  computed from each vendor's documented algorithm with the standard library only.

The production router never imports this module.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router.connector import OutboundRequest
from router.engine import Engine
from router.errors import PermanentError, TransientError
from router.registry import connectors, register_connector
from router.settings import Settings

__all__ = [
    "Call",
    "InlineRecordingConnector",
    "RecordingConfig",
    "RecordingConnector",
    "Sink",
    "engine_for",
    "install",
    "recorded",
    "sign",
]

# -- a loopback HTTP sink -------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    applied: bool
    raw_path: str = ""  # as sent, percent-encoding intact

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Script:
    """Answers to give before behaving normally: (status, headers) consumed one per call."""

    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)


class Sink:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.applied: dict[str, bytes] = {}  # idempotency key -> body of the one applied call
        self.script = Script()
        self.fail_keys: dict[str, int] = {}  # body "id" -> status to answer forever
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stall: asyncio.Event | None = None
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="interlock-sink", daemon=True)

    def start(self) -> Sink:
        self._thread.start()
        self._ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1])

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._stall is not None:
            await self._stall.wait()
        with self._lock:
            answer = self.script.answers.popleft() if self.script.answers else None
            key = request.headers.get("Idempotency-Key", "")
            poison = self._poison_status(body)
            status = answer[0] if answer else poison or 200
            applied = status < 300 and key not in self.applied
            if applied:
                self.applied[key] = body
            self.calls.append(
                Call(
                    request.method,
                    request.path,
                    dict(request.headers),
                    body,
                    applied,
                    request.raw_path,
                )
            )
        headers = answer[1] if answer else {}
        return web.Response(
            status=status, text="ok" if status < 300 else f"error {status}", headers=headers
        )

    def _poison_status(self, body: bytes) -> int | None:
        if not self.fail_keys:
            return None
        try:
            ident = orjson.loads(body).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return self.fail_keys.get(ident)

    def stall(self) -> None:
        def make() -> None:
            self._stall = asyncio.Event()

        self._loop.call_soon_threadsafe(make)

    def release(self) -> None:
        def free() -> None:
            if self._stall is not None:
                self._stall.set()
                self._stall = None

        self._loop.call_soon_threadsafe(free)

    def answer(self, *answers: tuple[int, dict[str, str]]) -> None:
        with self._lock:
            self.script.answers.extend(answers)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def applied_bodies(self) -> list[Any]:
        with self._lock:
            return [orjson.loads(b) for b in self.applied.values()]

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()


# -- recording connectors -------------------------------------------------------------------------


class RecordingConfig(BaseModel):
    """``kind: recording``: nothing to configure but the answers to script."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    concurrency: int = Field(default=16, ge=1)
    timeout_s: float = Field(default=5.0, gt=0)


_RECORDINGS: dict[str, RecordingConnector] = {}


class RecordingConnector:
    """Records what it is sent (and on which thread); ``fail(...)`` scripts the next outcomes."""

    def __init__(self, name: str, config: RecordingConfig) -> None:
        self.name = name
        self.concurrency = config.concurrency
        self.timeout_s = config.timeout_s
        self.requests: list[OutboundRequest] = []
        self.threads: set[str] = set()
        self._script: deque[str] = deque()  # "ok" | "transient" | "permanent", one per call
        self.fail_once: set[str] = set()  # request paths that fail (transient) the first time
        _RECORDINGS[name] = self

    def script(self, *outcomes: str) -> None:
        """The outcomes of the next calls, in order: ``ok``, ``transient`` or ``permanent``."""
        unknown = set(outcomes) - {"ok", "transient", "permanent"}
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}: ok, transient or permanent")
        self._script.extend(outcomes)

    def _record(self, request: OutboundRequest) -> None:
        self.threads.add(threading.current_thread().name)
        outcome = self._script.popleft() if self._script else "ok"
        if request.path in self.fail_once:
            self.fail_once.discard(request.path)
            outcome = "transient"
        if outcome == "transient":
            raise TransientError("scripted transient failure")
        if outcome == "permanent":
            raise PermanentError("scripted permanent failure")
        self.requests.append(request)

    async def start(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        await asyncio.sleep(0)  # a real await: the call goes through the connector actor
        self._record(request)
        return None

    async def close(self) -> None:
        return None


class InlineRecordingConnector(RecordingConnector):
    """The same, as a no-I/O connector: the route actor calls ``send_inline`` in place."""

    async def send(self, request: OutboundRequest) -> bytes | None:
        raise AssertionError(f"{request.route}: an inline connector is never sent to on the loop")

    def send_inline(self, request: OutboundRequest) -> None:
        self._record(request)


def install() -> None:
    """Register the ``recording`` and ``recording-inline`` connector kinds (idempotent)."""
    if "recording" not in connectors():
        register_connector("recording", RecordingConfig, RecordingConnector)
        register_connector("recording-inline", RecordingConfig, InlineRecordingConnector)


def recorded(name: str) -> RecordingConnector:
    """The recording connector named ``name`` in the running engine's ``connectors.yaml``."""
    return _RECORDINGS[name]


# -- an engine for a test -------------------------------------------------------------------------


@asynccontextmanager
async def engine_for(
    routes: Path | Mapping[str, str], *, data_dir: Path | None = None, **settings: Any
) -> AsyncIterator[Engine]:
    """A started engine over ``routes`` (a folder, or file name -> YAML text), stopped on exit.

    The journal goes to ``data_dir`` (default: a temporary folder removed on exit); ``settings``
    are :class:`~router.settings.Settings` fields (``max_inflight=8``...). Recording connectors
    are installed first, so a route may use ``kind: recording``.
    """
    from router.config import load_config  # noqa: PLC0415 - plugins load with the routes

    install()
    with tempfile.TemporaryDirectory(prefix="interlock-test-") as scratch:
        folder = routes if isinstance(routes, Path) else Path(scratch) / "routes"
        if not isinstance(routes, Path):
            _write_folder(folder, routes)
        data = data_dir if data_dir is not None else Path(scratch) / "data"
        engine = Engine(load_config(folder), Settings(data_dir=data, **settings))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.stop()


def _write_folder(folder: Path, files: Mapping[str, str]) -> None:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)


# -- signatures -----------------------------------------------------------------------------------


def _mac(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _standard_key(secret: str) -> bytes:
    """A Standard Webhooks secret is ``whsec_`` + base64 of the key."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(
    scheme: str,
    secret: str,
    body: bytes,
    *,
    now: float | None = None,
    delivery: str = "delivery-1",
    verify: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Headers (``Content-Type`` included) carrying a valid signature of ``body``.

    ``scheme`` is a source's ``verify: scheme``; ``secret`` one of its secrets (or tokens);
    ``now`` the signing time (default: the wall clock); ``delivery`` the delivery id where the
    scheme has one. For ``hmac``, ``verify`` is the source's ``verify:`` block (header, encoding,
    prefix, timestamp_header, signed_payload, id_header), as in ``sources.yaml``.
    """
    ts = int(time.time() if now is None else now)
    headers = {"Content-Type": "application/json"}
    match scheme:
        case "stripe":
            headers["Stripe-Signature"] = (
                f"t={ts},v1={_mac(secret.encode(), b'%d.' % ts, body).hex()}"
            )
        case "standard-webhooks":
            sig = _b64(_mac(_standard_key(secret), f"{delivery}.{ts}.".encode(), body))
            headers |= {
                "webhook-id": delivery,
                "webhook-timestamp": str(ts),
                "webhook-signature": f"v1,{sig}",
            }
        case "github":
            sig = _mac(secret.encode(), body).hex()
            headers |= {"X-Hub-Signature-256": f"sha256={sig}", "X-GitHub-Delivery": delivery}
        case "shopify":
            sig = _b64(_mac(secret.encode(), body))
            headers |= {"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Webhook-Id": delivery}
        case "zendesk":
            stamp = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            sig = _b64(_mac(secret.encode(), stamp.encode(), body))
            headers |= {
                "X-Zendesk-Webhook-Signature": sig,
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            }
        case "hmac":
            headers |= _sign_hmac(secret, body, ts, delivery, verify or {})
        case "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        case "none":
            pass
        case _:
            raise ValueError(f"unknown scheme {scheme!r}")
    return headers


def _sign_hmac(
    secret: str, body: bytes, ts: int, delivery: str, verify: Mapping[str, Any]
) -> dict[str, str]:
    """The configurable ``hmac`` scheme, laid out as its ``verify:`` block says."""
    values = {"{timestamp}": str(ts).encode(), "{id}": delivery.encode(), "{body}": body}
    template: str = verify.get("signed_payload", "{body}")
    tokens = template.replace("{", "\0{").replace("}", "}\0").split("\0")
    parts = [values.get(token, token.encode()) for token in tokens if token]
    digest = _mac(secret.encode(), *parts)
    encoded = _b64(digest) if verify.get("encoding", "hex") == "base64" else digest.hex()
    headers = {str(verify["header"]): str(verify.get("prefix", "")) + encoded}
    if verify.get("timestamp_header"):
        headers[str(verify["timestamp_header"])] = str(ts)
    if verify.get("id_header"):
        headers[str(verify["id_header"])] = delivery
    return headers
