"""Fixtures shared by the router's test modules."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.aiohttp_logs import AiohttpErrors


@pytest.fixture(scope="module")
def aiohttp_errors() -> Iterator[AiohttpErrors]:
    """What aiohttp logged at ERROR while a module's servers ran (the fuzz asserts none)."""
    handler = AiohttpErrors()
    logger = logging.getLogger("aiohttp")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
