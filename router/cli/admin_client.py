"""The admin API from the command line: a small urllib client, and the parsing of ids and times.

Errors become :class:`~router.errors.CliError` with the exit code to use (1 error, 2 usage).
Nothing here imports the engine, the store or aiohttp (``import`` cost is paid per command).
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from router.errors import CliError
from router.ids import decode_id, encode_id

if TYPE_CHECKING:
    from router.settings import Settings

TIMEOUT_S = 15.0
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


class AdminClient:
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


def settings() -> Settings:
    """The router's settings (INTERLOCK_ environment), or a CliError naming what is wrong."""
    from router.settings import Settings

    try:
        return Settings()
    except ValueError as exc:
        fail(f"invalid INTERLOCK_ settings: {exc}")


def _default_url() -> str:
    host = settings().admin_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a client default
    return f"http://{host}:{settings().admin_port}"


def _token(token: str | None) -> str:
    # Imported here: admin_auth pulls in aiohttp, which the other commands never need.
    from router.http.admin_auth import TOKEN_FILE, split_tokens

    if token and (tokens := split_tokens(token)):
        return tokens[0]
    path = settings().data_dir / TOKEN_FILE
    try:
        tokens = split_tokens(path.read_text())
    except OSError:
        tokens = []
    if not tokens:
        fail(f"no admin token: pass --token, set INTERLOCK_ADMIN_TOKEN, or make {path} readable")
    return tokens[0]


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


def parse_instance_id(text: str) -> str:
    """A workflow instance id in its stored (upper case) form; exit 2 if it is not one."""
    try:
        return encode_id(decode_id(text))
    except ValueError as exc:
        fail(f"invalid workflow instance id {text!r}: {exc}", 2)


_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # a file id (job, reconciliation)
_RUN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[1-9][0-9]{0,11}$")


def parse_name(text: str) -> str:
    """A job or reconciliation id (kebab-case, its file stem); exit 2 if it is not one."""
    if not _NAME.fullmatch(text):
        fail(f"invalid id {text!r}: a job or reconciliation id is kebab-case (payments-daily)", 2)
    return text


def parse_run_id(text: str) -> str:
    """A job run id, ``<job>.<n>``; exit 2 if it is not one."""
    if not _RUN.fullmatch(text):
        fail(f"invalid run id {text!r}: a run id is <job>.<n> (payments-daily.3)", 2)
    return text
