"""The lanes state machine on its own: order per key, head of line, and every decision."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from router.config.models import RetryPolicy
from router.envelope import Envelope
from router.errors import PermanentError, TransientError
from router.ids import new_id_bytes
from router.runtime.lanes import Lanes
from router.store.records import Delivery, DeliveryState
from router.store.statuses import Status

POLICY = RetryPolicy(max_attempts=3, initial=1.0, max=4.0, max_age=100.0, jitter="none")


def delivery(key: str, n: int = 0) -> Delivery:
    envelope = Envelope(new_id_bytes(), "shop", "t", f"{key}-{n}", "", "", 10.0, b"{}")
    return Delivery(envelope, "orders", DeliveryState(ordering_key=key, updated_at=10.0))


def lanes(policy: RetryPolicy = POLICY) -> Lanes:
    return Lanes("orders", policy, random.Random(7))


def test_only_the_head_of_a_lane_is_in_flight_and_other_keys_proceed() -> None:
    machine = lanes()
    a1, a2, b1 = delivery("a", 1), delivery("a", 2), delivery("b", 1)
    assert machine.admit([a1, a2, b1]) == ["a", "b"]
    heads, timers = machine.heads(["a", "b"], now=20.0)
    assert heads == [a1, b1] and timers == []
    assert a1.state.first_attempt_at == 20.0
    assert machine.heads(["a", "b"], now=20.0) == ([], [])  # both heads are already out
    assert machine.admit([delivery("a", 3)]) == []  # a busy lane is not reopened
    decision = machine.outcome(a1, None, now=21.0)
    assert decision is not None and decision.verdict == "delivered" and decision.advance
    assert decision.record.event == "delivered" and decision.record.detail == "attempt 1"
    assert decision.record.state.status is Status.DELIVERED
    assert machine.heads(["a"], now=21.0)[0] == [a2]
    assert len(machine) == 3  # a2, a3 and b1


def test_a_transient_failure_parks_only_its_lane_until_its_timer() -> None:
    machine = lanes()
    a1, a2 = delivery("a", 1), delivery("a", 2)
    machine.admit([a1, a2])
    machine.heads(["a"], now=0.0)
    decision = machine.outcome(a1, TransientError("503", retry_after=2.5), now=1.0)
    assert decision is not None and decision.verdict == "retry" and not decision.advance
    assert decision.timer is not None and decision.timer.delay == 2.5  # Retry-After is a floor
    assert a1.state.status is Status.RETRY and a1.state.next_at == 3.5
    assert decision.record.detail == "in 2.500s after: 503"
    heads, [early] = machine.heads(["a"], now=2.0)  # woken early: not due, a new timer instead
    assert heads == [] and early.delay == 1.5
    assert not machine.due("a", decision.timer.generation) and machine.due("a", early.generation)
    heads, _ = machine.heads(["a"], now=3.5)
    assert heads == [a1]  # the head again, never its successor


def test_permanent_errors_and_exhausted_retries_dead_letter_and_free_the_lane() -> None:
    machine = lanes()
    first, second = delivery("a", 1), delivery("a", 2)
    machine.admit([first, second])
    machine.heads(["a"], now=0.0)
    dead = machine.outcome(first, PermanentError("HTTP 422"), now=1.0)
    assert dead is not None and dead.verdict == "dead" and dead.advance
    assert dead.record.event == "dead_lettered" and dead.record.detail == "permanent: HTTP 422"
    assert first.state.status is Status.DEAD and first.state.last_error == "HTTP 422"
    now, verdicts = 1.0, []
    for _ in range(POLICY.max_attempts):
        heads, _ = machine.heads(["a"], now=now)
        assert heads == [second]
        decision = machine.outcome(second, TransientError("down"), now=now)
        assert decision is not None
        verdicts.append(decision.verdict)
        now = second.state.next_at
    assert verdicts == ["retry", "retry", "dead"]
    assert decision is not None and not decision.advance
    assert decision.record.detail == "gave up after 3 attempts; last error: down"
    assert len(machine) == 0


def test_age_limit_and_rejected_heads() -> None:
    machine = lanes(RetryPolicy(max_attempts=10, initial=5.0, max=5.0, max_age=6.0, jitter="none"))
    old, bad = delivery("a"), delivery("b")
    machine.admit([old, bad])
    machine.heads(["a", "b"], now=1.0)
    decision = machine.outcome(old, TransientError("slow"), now=3.0)  # 2 s old + 5 s > 6 s
    assert decision is not None and decision.verdict == "dead"
    assert "max_age" in decision.record.detail
    rejected = machine.reject(bad, "transform t failed: ValueError: no", now=3.0)
    assert rejected is not None and rejected.verdict == "dead"
    assert bad.state.attempts == 0  # nothing reached the target
    assert rejected.record.detail == "transform t failed: ValueError: no"


def test_stale_outcomes_are_ignored() -> None:
    machine = lanes()
    a1 = delivery("a")
    machine.admit([a1])
    assert machine.outcome(a1, None, now=1.0) is None  # never started
    machine.heads(["a"], now=1.0)
    assert machine.outcome(a1, None, now=2.0) is not None
    assert machine.outcome(a1, None, now=3.0) is None  # decided already
    assert a1.state.attempts == 1


def test_stalled_heads_come_back_in_flight_for_a_synthetic_retry() -> None:
    machine = lanes()
    a1, b1 = delivery("a"), delivery("b")
    machine.admit([a1, b1])
    machine.heads(["a"], now=0.0)  # a1 in flight, b1 never started (say, a crash)
    assert machine.stalled() == [b1]
    decision = machine.outcome(b1, TransientError("restarted"), now=1.0)
    assert decision is not None and decision.verdict == "retry"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["ok", "transient", "permanent"])),
        min_size=1,
        max_size=40,
    )
)
def test_every_key_finishes_in_acceptance_order_whatever_the_outcomes(
    script: list[tuple[str, str]],
) -> None:
    machine = lanes(RetryPolicy(max_attempts=2, initial=1.0, max=1.0, jitter="none"))
    accepted = [delivery(key, n) for n, (key, _) in enumerate(script)]
    plan = {id(d): outcome for d, (_, outcome) in zip(accepted, script, strict=True)}
    finished: list[Delivery] = []
    keys = machine.admit(accepted)
    now = 0.0
    for _ in range(10 * len(script)):
        now += 1.0
        heads, _ = machine.heads(sorted({d.state.ordering_key for d in accepted}), now)
        for head in heads:
            outcome = plan[id(head)]
            error = {"ok": None, "transient": TransientError("t"), "permanent": PermanentError("p")}
            decision = machine.outcome(head, error[outcome], now)
            assert decision is not None
            if decision.verdict != "retry":
                finished.append(head)
        if len(finished) == len(accepted):
            break
    assert keys == sorted(set(keys), key=keys.index)
    assert len(finished) == len(accepted) and len(machine) == 0
    for key in "abc":
        assert [d for d in finished if d.state.ordering_key == key] == [
            d for d in accepted if d.state.ordering_key == key
        ]
