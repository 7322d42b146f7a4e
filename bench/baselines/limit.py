"""The ``limit`` baseline: about the least durable webhook ingest can do on Interlock's stack.

``POST /webhooks/{source}`` reads the body with a deadline, checks its signature as the bench
source does (``github`` scheme: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the body),
parses it with orjson, takes the idempotency key (``/id``), packs a small msgpack record and hands
it to the one writer thread. The answer waits for the fsynced commit of that record: ``202
{"id": ...}``, or ``200 {"id": <the first id>, "duplicate": true}`` for a key seen before. No
routing, no logs, no metrics. ``GET /readyz`` answers 200 once the writer runs.

Same stack as ``interlock run``: aiohttp on uvloop (``bench/baselines/_serve.py``), py-lmdb opened
with ``sync`` and ``metasync`` on, one writer thread doing group commit, futures resolved on the
loop, Python's default GIL switch interval and Interlock's garbage-collector settings. So
limit / bare is what durability costs on this stack at the least, and interlock / limit is what
Interlock's own design costs on top of it.

Usage: ``python -m bench.baselines.limit --port P --data-dir DIR [--host H] [--no-uvloop]``.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import itertools
import queue
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import lmdb
import msgpack
import orjson
from aiohttp import web

from bench import _body
from bench.baselines._serve import arguments, serve

MAX_BODY_BYTES = 1024 * 1024  # Interlock's default max_body_bytes
BODY_TIMEOUT_S = 10.0  # Interlock's default body_timeout_s
GC_GEN0_THRESHOLD = 10_000  # as `interlock run` sets it (router.engine.configure_interpreter)
MAP_SIZE = 8 * 2**30  # sparse: reserves address space, not disk

# The keyed HMAC of every known source, built once so a request only pays for ``copy()`` (as
# Interlock's keyring does). An unknown source answers 404, as Interlock's does.
SOURCES = {_body.SOURCE: hmac.new(_body.SECRET.encode(), digestmod=hashlib.sha256)}

Answer = tuple[bytes, bool]  # (message id, duplicate)
Item = tuple[bytes, bytes, bytes, asyncio.Future[Answer]]  # idempotency key, id, record, future


def _resolve(answers: list[tuple[asyncio.Future[Answer], bytes, bool]]) -> None:
    """On the loop: wake every handler of one committed batch."""
    for future, message_id, duplicate in answers:
        if not future.done():  # the handler may have been cancelled (client gone)
            future.set_result((message_id, duplicate))


def _fail(futures: list[asyncio.Future[Answer]], exc: Exception) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


class Writer:
    """The one LMDB writer, on its own thread: group commit.

    LMDB allows one write transaction at a time, so one thread owns them all and never waits for
    a lock. While it fsyncs one commit, new records queue up; the next transaction takes all of
    them, so the fsync cost is shared by everything that arrived meanwhile (group commit) and the
    batch size adapts to the load by itself, with no timer.
    """

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # sync + metasync: a commit returns only once data and meta page are on disk (Interlock's
        # Journal opens its environment the same way), so a 2xx means the record is durable.
        self.env = lmdb.open(str(path), map_size=MAP_SIZE, max_dbs=2, sync=True, metasync=True)
        self.msg = self.env.open_db(b"msg")  # message id -> record
        self.idem = self.env.open_db(b"idem")  # source \0 key -> message id
        # SimpleQueue: a C queue whose put never blocks the loop and wakes the writer directly.
        self.inbox: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="limit-writer", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the thread and close the environment."""
        self.inbox.put(None)
        self.thread.join(30)
        self.env.close()

    def submit(self, idem_key: bytes, message_id: bytes, record: bytes) -> asyncio.Future[Answer]:
        """Queue one record (loop thread); the future resolves after its commit."""
        assert self.loop is not None
        future: asyncio.Future[Answer] = self.loop.create_future()
        self.inbox.put((idem_key, message_id, record, future))
        return future

    def _run(self) -> None:
        inbox = self.inbox
        stopping = False
        while not stopping:
            first = inbox.get()  # blocks (without the GIL) until something arrives
            if first is None:
                return
            batch = [first]
            # Everything that queued up while the previous commit was fsyncing: one transaction.
            while True:
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[Item]) -> None:
        assert self.loop is not None
        answers: list[tuple[asyncio.Future[Answer], bytes, bool]] = []
        try:
            with self.env.begin(write=True) as txn:
                for idem_key, message_id, record, future in batch:
                    # The idempotency check-and-set as one call (MDB_NOOVERWRITE), in the same
                    # transaction as the record: a new key costs one put, not a get and a put,
                    # and a key repeated within one batch is caught too.
                    if txn.put(idem_key, message_id, overwrite=False, db=self.idem):
                        txn.put(message_id, record, db=self.msg)
                        answers.append((future, message_id, False))
                    else:
                        first = bytes(txn.get(idem_key, db=self.idem) or message_id)
                        answers.append((future, first, True))
        except lmdb.Error as exc:  # map full, disk error: this batch fails, the next may not
            self.loop.call_soon_threadsafe(_fail, [item[3] for item in batch], exc)
            return
        # Committed (the `with` returned): one loop wake-up for the whole batch, not one per
        # request; each wake-up is a write to the loop's self-pipe and a GIL hand-off.
        self.loop.call_soon_threadsafe(_resolve, answers)


WRITER = web.AppKey("writer", Writer)
_sequence = itertools.count()


def _new_id() -> bytes:
    """16 bytes: Unix milliseconds, then a counter. Increasing ids keep LMDB appending at the
    right edge of the B-tree (as Interlock's time-ordered ids do); only the loop thread calls it."""
    return (time.time_ns() // 1_000_000).to_bytes(6, "big") + next(_sequence).to_bytes(10, "big")


def _signed(mac: hmac.HMAC, header: str | None, body: bytes) -> bool:
    """The ``github`` scheme's check: ``sha256=<hex>`` equals the body's HMAC-SHA256."""
    if header is None or not header.startswith(_body.SIGNATURE_PREFIX):
        return False
    try:
        given = bytes.fromhex(header[len(_body.SIGNATURE_PREFIX) :])
    except ValueError:
        return False
    expected = mac.copy()
    expected.update(body)
    return hmac.compare_digest(given, expected.digest())


def _json(data: object, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def _read(request: web.Request) -> bytes:
    if request.content.is_eof():  # already buffered (the common case): no deadline to arm
        return await request.read()
    # A deadline, so a client that stops sending mid-body cannot hold the handler forever.
    async with asyncio.timeout(BODY_TIMEOUT_S):
        return await request.read()


class RejectedError(Exception):
    """A request answered with a 4xx before it reaches the writer."""

    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.response = _json({"title": title}, status)


async def _received(request: web.Request) -> tuple[bytes, bytes]:
    """Read, verify and parse one delivery: its idempotency key and its journal record."""
    source = request.match_info["source"]
    mac = SOURCES.get(source)
    if mac is None:
        raise RejectedError(404, "unknown source")
    try:
        body = await _read(request)
    except TimeoutError:
        raise RejectedError(408, "the body did not arrive in time") from None
    # Verified on the raw bytes before anything is parsed, as Interlock's ingress does.
    if not _signed(mac, request.headers.get(_body.SIGNATURE_HEADER), body):
        raise RejectedError(401, "signature verification failed")
    try:
        key = orjson.loads(body)["id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise RejectedError(400, "no idempotency key at /id") from None
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise RejectedError(400, "the idempotency key must be a string or number")
    # What was received, from where, when and under which key: enough to deliver it later.
    record = msgpack.packb([source, str(key), time.time(), body], use_bin_type=True)
    return f"{source}\0{key}".encode(), record


async def _accept(request: web.Request) -> web.Response:
    try:
        idem_key, record = await _received(request)
    except RejectedError as exc:
        return exc.response
    first, duplicate = await request.app[WRITER].submit(idem_key, _new_id(), record)
    if duplicate:
        return _json({"id": first.hex(), "duplicate": True}, 200)
    return _json({"id": first.hex()}, 202)


async def _ready(_: web.Request) -> web.Response:
    return _json({"status": "ready"}, 200)


def app(data_dir: Path) -> web.Application:
    """The limit application: ``POST /webhooks/{source}`` and ``GET /readyz``."""
    application = web.Application(client_max_size=MAX_BODY_BYTES)
    application[WRITER] = Writer(data_dir)

    async def writer_running(app_: web.Application) -> AsyncIterator[None]:
        app_[WRITER].start(asyncio.get_running_loop())
        # As `interlock run`: what start-up allocated lives as long as the process, so it leaves
        # the collector's scans, and young collections run every 10,000 allocations, not 700.
        gc.collect()
        gc.freeze()
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
        yield
        app_[WRITER].stop()

    application.cleanup_ctx.append(writer_running)
    application.router.add_post("/webhooks/{source}", _accept)
    application.router.add_get("/readyz", _ready)
    return application


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__, argv, data_dir=True)
    serve(app(args.data_dir), args.host, args.port, use_uvloop=not args.no_uvloop)


if __name__ == "__main__":
    main()
