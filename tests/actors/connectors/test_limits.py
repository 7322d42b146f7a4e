"""The token bucket: burst, refill, debt for waiting callers, refusal past max_wait."""

from __future__ import annotations

import asyncio

import pytest

from actors.connectors._limits import TokenBucket
from router.errors import TransientError
from tests.actors.connectors._support import FakeClock


async def test_burst_is_free_then_callers_wait_in_line() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.wait_time() == 0.0
        await bucket.acquire(max_wait=0.0)
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.wait_time() == 0.0


async def test_refill_never_exceeds_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=10.0, burst=2, clock=clock)
    clock.advance(3600)
    await bucket.acquire(0.0)
    await bucket.acquire(0.0)
    assert bucket.wait_time() == pytest.approx(0.1)


async def test_a_wait_longer_than_max_wait_is_a_transient_error_with_retry_after() -> None:
    bucket = TokenBucket(rate_per_s=0.5, burst=1, clock=FakeClock())
    await bucket.acquire(0.0)
    with pytest.raises(TransientError, match="rate limit") as info:
        await bucket.acquire(max_wait=1.0)
    assert info.value.retry_after == pytest.approx(2.0)
    assert bucket.wait_time() == pytest.approx(2.0)  # the refused caller took no slot


async def test_waiting_callers_reserve_slots_in_order_without_blocking_the_loop() -> None:
    bucket = TokenBucket(rate_per_s=1000.0, burst=1)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire(max_wait=5.0)
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=0.1, burst=1, clock=clock)
    await bucket.acquire(0.0)
    waiter = asyncio.create_task(bucket.acquire(max_wait=100.0))
    await asyncio.sleep(0)
    assert bucket.wait_time() == pytest.approx(20.0)  # in debt for the waiter's slot
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.wait_time() == pytest.approx(10.0)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBucket(0, 1)
