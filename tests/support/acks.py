"""Posting a webhook until the router acknowledges it, as a sender that retries would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp


async def post_until_acked(
    session: aiohttp.ClientSession,
    url: str | Callable[[], str],
    body: bytes | str,
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]],
    *,
    pause: float = 0.05,
) -> int:
    """POST ``body`` until it is acknowledged; the 2xx status (200: a retry of one accepted).

    A 503, a refused or cut-off connection and a timeout are retried after ``pause`` with the same
    body; any other status fails the test. ``url`` and ``headers`` may be callables, called for
    each attempt: another instance each time, a fresh signature timestamp.
    """
    while True:
        target = url() if callable(url) else url
        try:
            sent = headers() if callable(headers) else headers
            async with session.post(target, data=body, headers=sent) as response:
                if response.status in (200, 202):
                    return response.status
                assert response.status == 503, (
                    f"unexpected {response.status}: {await response.text()}"
                )
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(pause)
