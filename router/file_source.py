"""A drop-folder source (``format: files``): CSV or JSON-lines files, one message per row.

The folder is a landing directory, as an SFTP server's would be (the file system's permissions
are its authentication). A file is taken once its size and modification time held still across
two looks, and never while its name says it is being written (``.``-prefixed, ``.tmp``,
``.part``, ``.filepart``). Then:

1. it is read and its SHA-256 computed; each row becomes one message of the source, keyed
   ``file:<sha256>:<row>`` (the row is its line number), so dropping the same file again is a
   duplicate, row by row, and a crash in the middle re-reads the file without doubling a row;
2. a malformed row (a CSV row with the wrong number of fields, a line that is not a JSON object)
   is journaled and dead-lettered alone, with its line number and the reason, on every route
   that takes the source: the rest of the file goes through;
3. once every row is acknowledged (durable), the file moves to ``done/``; a file that cannot be
   read as a whole (not UTF-8, no CSV header, over ``max_file_mb``) moves to ``failed/`` with a
   ``<name>.reason`` file beside it.

``*.csv`` files are CSV with a header row (each row a JSON object of strings); ``*.jsonl`` and
``*.ndjson`` files hold one JSON object per line. Other names are left alone.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from router.errors import BackpressureError, InterlockError, UnavailableError
from router.logs import get_logger
from router.source_handler import Ack, Emit, SourceHandler

log = get_logger("interlock.files")
PARTIAL = (".tmp", ".part", ".filepart", ".partial")
KINDS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    payload: Any
    error: str = ""  # set: the row is malformed, ``payload`` holds its raw text


class UnreadableFileError(InterlockError):
    """The file as a whole cannot be read as rows; it goes to failed/."""


def rows_of(kind: str, text: str) -> Iterator[Row]:
    """The rows of a file's text, each with its line number (malformed rows included)."""
    return _json_lines(text) if kind == "jsonl" else _csv_rows(text)


def _json_lines(text: str) -> Iterator[Row]:
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Row(line, {"raw": raw}, f"line {line}: not JSON: {exc}")
            continue
        if isinstance(value, dict):
            yield Row(line, value)
        else:
            yield Row(line, {"raw": raw}, f"line {line}: not a JSON object")


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFileError("the CSV file is empty (it needs a header row)") from None
    except csv.Error as exc:
        raise UnreadableFileError(f"the CSV header cannot be read: {exc}") from None
    if not header or len(set(header)) != len(header) or not all(h.strip() for h in header):
        raise UnreadableFileError("the CSV header must name every column, each once")
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(start, {"raw": ""}, f"line {start}: {exc}")
            continue
        if not fields:
            continue
        if len(fields) != len(header):
            raw = ",".join(fields)
            why = f"line {start}: {len(fields)} fields where the header has {len(header)}"
            yield Row(start, {"raw": raw}, why)
            continue
        yield Row(start, dict(zip(header, fields, strict=True)))


class FileDrop:
    """Watches one source's folder and turns each file into messages."""

    def __init__(
        self, handler: SourceHandler, folder: Path, poll_s: float, max_bytes: int, emit: Emit
    ) -> None:
        self.handler = handler
        self.folder = folder
        self.poll_s = poll_s
        self.max_bytes = max_bytes
        self.emit = emit
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) at the last look

    async def run(self) -> None:
        for sub in ("", "done", "failed"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        log.info("file_drop_watching", source=self.handler.name, folder=str(self.folder))
        while True:
            for path in await _offload(self._ready):
                await self.take(path)
            await asyncio.sleep(self.poll_s)

    def _ready(self) -> list[Path]:
        """Files whose size and modification time held still since the last look."""
        ready, seen = [], {}
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            name = entry.name
            if not entry.is_file() or name.startswith(".") or name.endswith(PARTIAL):
                continue
            if Path(name).suffix.lower() not in KINDS:
                continue
            stat = entry.stat()
            now = (stat.st_size, stat.st_mtime_ns)
            if self._seen.get(name) == now:
                ready.append(Path(entry.path))
            else:
                seen[name] = now
        self._seen = seen
        return ready

    async def take(self, path: Path) -> None:
        """One file: every row accepted (or dead-lettered alone), then moved to done/."""
        try:
            digest, rows = await _offload(self._read, path)
        except UnreadableFileError as exc:
            await _offload(self._move, path, "failed", str(exc))
            return
        accepted = duplicates = malformed = 0
        origin = f"interlock-files/{self.handler.name} {path.name}"
        for row in rows:
            key = f"file:{digest}:{row.line}"
            event_type = self._type_of(row)
            payload = row.payload
            if row.error:
                payload = {"file": path.name, "row": row.line, **row.payload}
            try:
                ack = await self._emit(event_type, payload, key, origin, row.error)
            except UnreadableFileError as exc:  # the rows before it are in: a re-drop dedupes
                await _offload(self._move, path, "failed", str(exc))
                return
            malformed += bool(row.error)
            duplicates += ack.duplicate
            accepted += not ack.duplicate
        await _offload(self._move, path, "done", "")
        log.info(
            "file_taken",
            source=self.handler.name,
            file=path.name,
            sha256=digest,
            accepted=accepted,
            duplicates=duplicates,
            malformed=malformed,
        )

    def _type_of(self, row: Row) -> str:
        found = None if self.handler.type_of is None else self.handler.type_of(row.payload, {})
        if found is not None and not isinstance(found, dict | list | bool):
            return str(found)
        return self.handler.fixed_type or "file.row"

    async def _emit(
        self, event_type: str, payload: Any, key: str, origin: str, rejected: str
    ) -> Ack:
        while True:
            try:
                return await self.emit(
                    self.handler.name, event_type, payload, key, origin, rejected=rejected
                )
            except (BackpressureError, UnavailableError) as exc:
                await asyncio.sleep(exc.retry_after or RETRY_S)
            except InterlockError as exc:  # refused (unencodable): kept dead, with why
                if rejected:
                    raise UnreadableFileError(f"{key}: refused by the journal: {exc}") from exc
                rejected = f"refused: {exc}"

    def _read(self, path: Path) -> tuple[str, list[Row]]:
        size = path.stat().st_size
        if size > self.max_bytes:
            raise UnreadableFileError(f"{size} bytes, over max_file_mb ({self.max_bytes} bytes)")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"not UTF-8 text: {exc}") from None
        kind = KINDS[path.suffix.lower()]
        return hashlib.sha256(data).hexdigest(), list(rows_of(kind, text))

    def _move(self, path: Path, where: str, reason: str) -> None:
        target = self.folder / where / path.name
        if target.exists():  # the same name dropped again: keep both
            target = target.with_name(f"{path.stem}.{os.urandom(4).hex()}{path.suffix}")
        path.replace(target)
        if reason:
            target.with_name(target.name + ".reason").write_text(reason + "\n")
            log.error("file_failed", source=self.handler.name, file=path.name, reason=reason)


async def _offload(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
