"""INTERLOCK_LOG_LEVEL is a setting; log lines name a message the same way everywhere."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from router.logs import render_json
from router.settings import Settings


def test_log_level_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_LOG_LEVEL", "WARNING")
    assert Settings().log_level == "warning"


def test_an_unknown_log_level_is_an_invalid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_LOG_LEVEL", "chatty")
    with pytest.raises(ValidationError, match="unknown log level 'chatty'"):
        Settings()


def test_the_renderer_is_structlogs_public_json_renderer() -> None:
    import structlog

    assert isinstance(render_json, structlog.processors.JSONRenderer)
    assert render_json(None, "info", {"event": "x"}) == b'{"event": "x"}'
