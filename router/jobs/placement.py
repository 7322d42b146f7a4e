"""Where the scheduled jobs run: in this process, or, in cluster mode, on one instance only.

Embedded, the job service starts with the engine. In cluster mode every instance has the same
job files, but only the owner of the scheduler partition (0) runs them: the service starts when
this instance gains that partition and stops when it hands it over. A slot run twice around a
hand-over is harmless: a reconciliation's repairs are messages keyed by what they repair, and
the cluster applies each key once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from router.jobs.metrics import JobMetrics
from router.jobs.service import JobService
from router.logs import get_logger

log = get_logger("interlock.jobs")
SCHEDULER_PARTITION = 0
MakeService = Callable[[JobMetrics | None], JobService]
OnOwned = Callable[[Callable[[frozenset[int]], None]], None]


class JobPlacement:
    def __init__(self, make: MakeService) -> None:
        self._make = make
        self.service: JobService | None = None
        self.elsewhere = False  # cluster mode, and another instance holds the scheduler
        self._metrics: JobMetrics | None = None  # registered once, kept across hand-overs
        self._starting = False
        self._change: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self, on_owned: OnOwned | None) -> None:
        """Start here (``on_owned`` None), or follow the scheduler partition's ownership."""
        if on_owned is None:
            await self._start()
            return
        self.elsewhere = True
        on_owned(self._owned)

    async def stop(self) -> None:
        self._stopped = True
        if self._change is not None:  # a hand-over still under way finishes first
            await asyncio.gather(self._change, return_exceptions=True)
        if self.service is not None:  # a run stopped here resumes from its checkpoint on start
            service, self.service = self.service, None
            await service.stop()

    async def _start(self) -> None:
        self.service = self._make(self._metrics)
        self._metrics = self.service.metrics
        await self.service.start()

    def _owned(self, owned: frozenset[int]) -> None:
        if self._stopped:
            return
        lead = SCHEDULER_PARTITION in owned
        if lead == (self.service is not None or self._starting):
            return
        self._starting = lead
        self._change = asyncio.get_running_loop().create_task(self._lead(lead))

    async def _lead(self, lead: bool) -> None:
        try:
            if lead:
                await self._start()
                self.elsewhere = False
                log.info("scheduler_started", partition=SCHEDULER_PARTITION)
            elif self.service is not None:
                service, self.service = self.service, None
                self.elsewhere = True
                await service.stop()
                log.info("scheduler_handed_over", partition=SCHEDULER_PARTITION)
        finally:
            self._starting = False
