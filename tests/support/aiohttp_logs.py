"""What aiohttp logs at ERROR, collected for tests that assert there is none."""

from __future__ import annotations

import logging


class AiohttpErrors(logging.Handler):
    """Collects records at ERROR and above from aiohttp's loggers (its "Unhandled exception")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
