"""The admin CLI's data access: the admin API over urllib, or a journal opened read-only.

Workflow reads open ``DATA_DIR/workflows`` read-only the same way; ``workflows stats`` also reads
the routes folder, for each workflow's definition and SLA objective.

Errors become :class:`CliError` with the exit code to use (1 error, 2 usage, 78 bad routes).
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from router.errors import ConfigError
from router.ids import decode_id, encode_id
from router.settings import Settings
from router.store.journal import Journal
from router.store.workflows import WorkflowStore
from router.workflows.kind import WORKFLOW
from router.workflows.spec import WorkflowSpec

DEFAULT_URL = "http://127.0.0.1:8081"
TIMEOUT_S = 15.0
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


_T = TypeVar("_T")


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


class Api:
    """A tiny urllib client for the admin API; errors become :class:`CliError`."""

    def __init__(self, url: str | None, token: str | None) -> None:
        self.url = (url or _default_url()).rstrip("/")
        self.token = _token(token)

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - operator URL
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            fail(_problem_text(exc), 2 if exc.code == 400 else 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            fail(f"cannot reach the admin API at {self.url}: {reason}")


def _problem_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        text = f"{body.get('title', exc.reason)}: {body.get('detail', '')}".rstrip(": ")
    except (ValueError, AttributeError, OSError):
        text = str(exc.reason)
    hint = " (check --token or INTERLOCK_ADMIN_TOKEN)" if exc.code == 401 else ""
    return f"admin API answered {exc.code}: {text}{hint}"


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        fail(f"invalid INTERLOCK_ settings: {exc}")


def _default_url() -> str:
    settings = _settings()
    host = settings.admin_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a client default
    return f"http://{host}:{settings.admin_port}"


def _token(token: str | None) -> str:
    # Imported here: admin_auth pulls in aiohttp, which the other commands never need.
    from router.http.admin_auth import TOKEN_FILE, split_tokens  # noqa: PLC0415

    if token and (tokens := split_tokens(token)):
        return tokens[0]
    path = _settings().data_dir / TOKEN_FILE
    try:
        tokens = split_tokens(path.read_text())
    except OSError:
        tokens = []
    if not tokens:
        fail(f"no admin token: pass --token, set INTERLOCK_ADMIN_TOKEN, or make {path} readable")
    return tokens[0]


def open_local(data_dir: Path) -> Journal:
    """The read-only journal of a router's data directory (closed by the caller)."""
    path = data_dir / "journal"
    if not (path / "data.mdb").is_file():
        fail(f"{path}: no journal here", 2)
    try:
        return Journal(path, readonly=True)
    except Exception as exc:  # noqa: BLE001 - lmdb's errors (only journal.py imports lmdb)
        fail(f"{path}: cannot open the journal read-only: {exc}")


def read_local(data_dir: Path, query: Callable[[Journal], _T]) -> _T:
    """Run one read-only query against a data directory's journal, closing it after."""
    journal = open_local(data_dir)
    try:
        return query(journal)
    finally:
        journal.close()


def parse_id(text: str) -> bytes:
    try:
        return decode_id(text)
    except ValueError as exc:
        fail(f"invalid message id {text!r}: {exc}", 2)


def parse_when(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    if match := _AGO.match(text):
        return datetime.now(UTC).timestamp() - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            fail(f"{option}: {text!r} is not a time", 2)
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: use Unix seconds, ISO 8601 or an age like 15m (got {text!r})", 2)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def local_page(data_dir: Path, query: Any, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("cursor") is not None and ":" not in params["cursor"]:
        parse_id(params["cursor"])
    try:
        items, cursor = read_local(data_dir, lambda journal: query(journal, **params))
    except ValueError as exc:
        fail(str(exc), 2)
    return {"items": [i.model_dump(mode="json") for i in items], "next_cursor": cursor}


# -- workflows -----------------------------------------------------------------------------------

EXIT_CONFIG = 78  # EX_CONFIG, as `interlock check` and `interlock run` exit on invalid routes


def parse_instance_id(text: str) -> str:
    """A workflow instance id in its stored (upper case) form; exit 2 if it is not one."""
    try:
        return encode_id(decode_id(text))
    except ValueError as exc:
        fail(f"invalid workflow instance id {text!r}: {exc}", 2)


def read_workflows(data_dir: Path, query: Callable[[WorkflowStore], _T], empty: _T) -> _T:
    """Run one read-only query against a data directory's workflow store, closing it after.

    A router that never ran a workflow has a journal but no store: that answers ``empty``.
    """
    path = data_dir / "workflows"
    if not (path / "data.mdb").is_file():
        if (data_dir / "journal" / "data.mdb").is_file():
            return empty
        fail(f"{data_dir}: no router data here (no journal, no workflows)", 2)
    try:
        store = WorkflowStore(path, readonly=True)
    except Exception as exc:  # noqa: BLE001 - lmdb's errors (only the stores import lmdb)
        fail(f"{path}: cannot open the workflow store read-only: {exc}")
    try:
        return query(store)
    finally:
        store.close()


def workflow_specs(routes: Path | None) -> dict[str, WorkflowSpec]:
    """The workflows of a routes folder (default: the settings'); exit 2 if missing, 78 invalid."""
    # Imported here: loading routes pulls in the registry and every transform plugin.
    from router.config import load_config  # noqa: PLC0415

    folder = routes or _settings().routes
    if not folder.exists():
        fail(f"{folder}: no such routes folder (pass --routes for the workflow definitions)", 2)
    try:
        specs: dict[str, WorkflowSpec] = load_config(folder).specs(WORKFLOW)
    except ConfigError as exc:
        fail(exc.render(), EXIT_CONFIG)
    return specs
