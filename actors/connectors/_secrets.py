"""Secret values in connector configs: literal text or ``file:NAME`` from the secrets directory.

``${ENV}`` placeholders are expanded by the config loader before validation, so a literal value may
come from the environment. ``file:NAME`` reads ``$INTERLOCK_SECRETS_DIR/NAME`` (default
``/run/secrets``, where Docker and Kubernetes mount them); one trailing newline is dropped. Every
secret is a pydantic ``SecretStr``: its ``repr`` and ``str`` print ``**********``, and no error
message here ever includes the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, SecretStr, WithJsonSchema

__all__ = ["DEFAULT_SECRETS_DIR", "SECRETS_DIR_ENV", "Secret", "resolve_secret", "secrets_dir"]

SECRETS_DIR_ENV = "INTERLOCK_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"
FILE_PREFIX = "file:"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")  # one file, directly in the directory


def secrets_dir() -> Path:
    """The directory ``file:NAME`` secrets are read from."""
    return Path(os.environ.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR)


def resolve_secret(value: object) -> object:
    """Replace ``file:NAME`` by the file's content; pass anything else through unchanged."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str) or not value.startswith(FILE_PREFIX):
        return value
    name = value.removeprefix(FILE_PREFIX)
    if not _NAME.match(name):
        raise ValueError("file:NAME must name a file directly inside the secrets directory")
    path = secrets_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ValueError(f"secret file {name!r} in {path.parent} cannot be read: {why}") from None
    return text.removesuffix("\n").removesuffix("\r")


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("a secret must not be empty")
    return value


# The schema says what _not_blank checks: a secret (or its file:NAME) holds more than blanks.
_SCHEMA = {"type": "string", "format": "password", "writeOnly": True, "pattern": r"\S"}
Secret = Annotated[
    SecretStr,
    BeforeValidator(resolve_secret),
    AfterValidator(_not_blank),
    WithJsonSchema(_SCHEMA),
]
"""A secret config value: literal, ``${ENV}``-expanded, or ``file:NAME``."""
