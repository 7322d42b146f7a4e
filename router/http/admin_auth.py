"""Admin bearer tokens: where they come from, and the constant-time check on every request.

Tokens come from ``INTERLOCK_ADMIN_TOKEN`` (comma-separated, so an old and a new token can both be
valid during a rotation) or, when that is unset, from ``DATA_DIR/admin.token``, which is created
with a random token and mode 0600 on first use, so a fresh router has a working token at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from aiohttp import web

from router.errors import ConfigError
from router.http.problem import problem
from router.logs import get_logger
from router.settings import Settings

TOKEN_FILE = "admin.token"  # noqa: S105 - a file name, not a secret
log = get_logger("interlock.admin")


def split_tokens(text: str) -> list[str]:
    """Tokens separated by commas or newlines, blanks dropped."""
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


def resolve_admin_tokens(settings: Settings) -> list[str]:
    """``INTERLOCK_ADMIN_TOKEN`` (comma-separated), else ``DATA_DIR/admin.token``, created 0600.

    Raises:
        ConfigError: the setting or the file holds no token.
    """
    if settings.admin_token is not None:
        tokens = split_tokens(settings.admin_token.get_secret_value())
        if not tokens:
            raise ConfigError("holds no token", field="INTERLOCK_ADMIN_TOKEN")
        return tokens
    path = settings.data_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        tokens = read_token_file(path)
        if not tokens:
            raise ConfigError("holds no token; delete it to generate one", file=str(path)) from None
        return tokens
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    log.info("admin_token_created", path=str(path))
    return [token]


def read_token_file(path: Path) -> list[str]:
    """The tokens in ``path`` (warns when group or others may read it)."""
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("admin_token_file_readable_by_others", path=str(path))
    return split_tokens(path.read_text())


def _digest(token: str) -> bytes:
    # Equal-length digests: compare_digest's time then depends on neither token's length.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class BearerAuth:
    """Accepts ``Authorization: Bearer <t>`` for any configured ``t``; compares with all of them."""

    def __init__(self, tokens: list[str]) -> None:
        tokens = [t for t in tokens if t]
        if not tokens:
            raise ValueError("the admin API needs at least one token")
        self._digests = [_digest(t) for t in tokens]

    def allows(self, authorization: str) -> bool:
        scheme, _, presented = authorization.partition(" ")
        candidate = _digest(presented.strip())
        valid = False
        for digest in self._digests:  # no early exit: which token matched is not observable
            valid |= hmac.compare_digest(candidate, digest)
        return valid and scheme.lower() == "bearer"

    @staticmethod
    def refusal() -> web.Response:
        return problem(
            401,
            "Unauthorized",
            "a valid admin bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="interlock-admin"'},
        )
