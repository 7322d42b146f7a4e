"""A source secret left at its placeholder's default: a warning for the loader (and `check`),
a refusal for a router outside demo mode (`Engine.start`; `interlock run` in tests/deploy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router import Engine, Settings, load_config
from router.config import ConfigErrors

SOURCES = """\
shop:
  verify:
    scheme: hmac
    header: "${SIG_HEADER:-X-Signature}"
    secrets: ["${SHOP_SECRET:-shop_demo_only}", "literal-second"]
  type: /type
"""


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "sources.yaml").write_text(SOURCES)
    return folder


def test_a_defaulted_secret_is_noted_with_its_line_and_a_defaulted_header_is_not(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    config = load_config(folder, {})
    want = (
        f"{folder / 'sources.yaml'}:5: shop.verify.secrets.0: SHOP_SECRET is not set and its "
        "default is a shared demo secret"
    )
    assert [e.render() for e in config.demo_secrets] == [f"{want}; set it, or run with --demo"]
    assert f"{want} (`interlock run` refuses it without --demo)" in config.warnings
    assert not load_config(folder, {"SHOP_SECRET": "set-by-the-operator"}).demo_secrets


async def test_an_engine_outside_demo_mode_refuses_before_opening_anything(
    tmp_path: Path,
) -> None:
    engine = Engine(load_config(_folder(tmp_path), {}), Settings(data_dir=tmp_path / "data"))
    with pytest.raises(ConfigErrors) as caught:
        await engine.start()
    assert "SHOP_SECRET is not set" in str(caught.value)
    assert not (tmp_path / "data").exists()


async def test_demo_mode_accepts_the_default(tmp_path: Path) -> None:
    engine = Engine(
        load_config(_folder(tmp_path), {}), Settings(data_dir=tmp_path / "data", demo=True)
    )
    await engine.start()
    await engine.stop()
