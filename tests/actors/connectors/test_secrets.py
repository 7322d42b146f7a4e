"""Secrets: literal or ``file:NAME`` from the secrets directory, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from actors.connectors._secrets import SECRETS_DIR_ENV, Secret, secrets_dir


class Holder(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)
    value: Secret


def test_a_literal_secret_is_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRETS_DIR_ENV, raising=False)
    held = Holder.model_validate({"value": "s3cr3t-literal"})
    assert held.value.get_secret_value() == "s3cr3t-literal"
    assert "s3cr3t" not in repr(held) and "s3cr3t" not in str(held.model_dump())
    assert secrets_dir() == Path("/run/secrets")


def test_file_secrets_are_read_from_the_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    (tmp_path / "erp_token").write_text("tok-from-file\n")
    assert Holder.model_validate({"value": "file:erp_token"}).value.get_secret_value() == (
        "tok-from-file"
    )


@pytest.mark.parametrize("name", ["../etc/passwd", "sub/dir", ".hidden", ""])
def test_file_names_must_stay_inside_the_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    with pytest.raises(ValidationError, match="directly inside"):
        Holder.model_validate({"value": f"file:{name}"})


def test_missing_and_empty_secrets_are_errors_that_do_not_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    with pytest.raises(ValidationError, match="cannot be read") as info:
        Holder.model_validate({"value": "file:absent"})
    assert "absent" in str(info.value)
    (tmp_path / "blank").write_text("\n")
    with pytest.raises(ValidationError, match="must not be empty"):
        Holder.model_validate({"value": "file:blank"})
    with pytest.raises(ValidationError) as literal:
        Holder.model_validate({"value": "   "})
    assert "   '" not in str(literal.value)
