"""Fixtures for connector tests: loopback targets and connectors closed at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from actors.connectors.http import HttpConnector
from router.registry import connectors
from tests.actors.connectors._support import Target

OpenConnector = Callable[..., Awaitable[Any]]


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    server = await Target().start()
    yield server
    await server.close()


@pytest.fixture
async def open_connector() -> AsyncIterator[OpenConnector]:
    """``await open_connector(kind, **config)``: built through the registry and started."""
    opened: list[Any] = []

    async def factory(kind: str, name: str = "c", **config: Any) -> Any:
        spec = connectors()[kind]
        connector = spec.factory(name, spec.config_model.model_validate(config))
        await connector.start()
        opened.append(connector)
        return connector

    yield factory
    for connector in opened:
        await connector.close()


@pytest.fixture
async def http(open_connector: OpenConnector, target: Target) -> HttpConnector:
    connector: HttpConnector = await open_connector("http", base_url=target.url, timeout="2s")
    return connector
