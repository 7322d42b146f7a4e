"""The adaptive cap on requests waiting for their commit (the edge's standing-queue signal)."""

from __future__ import annotations

from router.runtime.admission import AckLimit


def _interval(limit: AckLimit, now: float, sojourns: list[float]) -> None:
    """One interval's answers: every request enters, then leaves after its sojourn."""
    for _ in sojourns:
        limit.enter()
    for sojourn in sojourns:
        limit.leave(sojourn, now)


def test_a_standing_queue_shrinks_the_cap_in_proportion_and_a_fast_ack_grows_it() -> None:
    limit = AckLimit(0.02, ceiling=1000, start=100, interval_s=0.1)
    assert limit.limit == 100 and not limit.full
    _interval(limit, now=0.0, sojourns=[0.04, 0.05])  # even the fastest took twice the target
    assert limit.limit == 50
    _interval(limit, now=0.05, sojourns=[0.5])  # the interval is not over: no change yet
    assert limit.limit == 50
    _interval(limit, now=0.1, sojourns=[0.5, 0.9])  # 25x the target: halved at most
    assert limit.limit == 25
    _interval(limit, now=0.2, sojourns=[0.001, 0.5])  # a fast ack: no standing queue
    assert limit.limit == 26
    for i in range(200):
        _interval(limit, now=0.3 + i * 0.1, sojourns=[0.001])
    assert limit.limit == 1000  # up to the ceiling, never past it


def test_full_counts_the_waiting_requests_and_never_goes_below_the_floor() -> None:
    limit = AckLimit(0.02, ceiling=64, start=10, floor=8)
    for _ in range(10):
        limit.enter()
    assert limit.full and limit.waiting == 10
    limit.leave(0.001, now=0.0)
    assert not limit.full
    for i in range(20):
        _interval(limit, now=1.0 + i, sojourns=[10.0])
    assert limit.limit == 9  # what 90 % of 1 ack/s needs at a 10 s ack time, above the floor


def test_an_abandoned_request_frees_its_place_without_a_sample() -> None:
    limit = AckLimit(0.02, ceiling=64, start=10, interval_s=0.1)
    limit.enter()
    limit.abandon()
    assert limit.waiting == 0 and limit.limit == 10
    _interval(limit, now=1.0, sojourns=[0.05])
    assert limit.limit < 10  # only a real ack moved it


def test_a_zero_target_turns_the_cap_off() -> None:
    limit = AckLimit(0.0, ceiling=4, start=1)
    for _ in range(100):
        limit.enter()
    assert not limit.full


def test_the_cap_keeps_what_carried_the_best_recent_ack_rate() -> None:
    limit = AckLimit(0.02, ceiling=1000, start=100, interval_s=0.1)
    _interval(limit, now=0.0, sojourns=[0.001])  # opens the first interval
    for k in range(200):  # 200 fast acks in 0.1 s: 2,000/s
        _interval(limit, now=0.0005 * k, sojourns=[0.001])
    _interval(limit, now=0.1, sojourns=[0.001])  # closes it
    assert limit.peak_rate == 2010.0 and limit.limit == 110
    # The ack time triples, but not because of the queue it caps (say the loop is busy): the cap
    # keeps what 90 % of that rate (less 2 % of decay) needs at 60 ms: 106, not half (55).
    _interval(limit, now=0.2, sojourns=[0.06])
    assert limit.limit == 106
    for i in range(400):  # the best rate fades, and the cap with it
        _interval(limit, now=0.3 + i * 0.1, sojourns=[0.06])
    assert limit.limit == 8
