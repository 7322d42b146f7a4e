"""The lanes state machine on its own: order per key, head of line, and every decision."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from router.config.models import RetryPolicy
from router.envelope import Envelope
from router.errors import PermanentError, TransientError
from router.ids import encode_id, new_id_bytes
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


# -- key order after a dead letter (on_dead_letter: hold) -----------------------------------------


def holding() -> Lanes:
    return Lanes("orders", POLICY, random.Random(7), hold=True)


def test_a_dead_head_holds_its_key_and_sets_aside_what_waits_behind_it() -> None:
    machine = holding()
    a1, a2, a3, b1 = delivery("a", 1), delivery("a", 2), delivery("a", 3), delivery("b", 1)
    machine.admit([a1, a2, b1])
    machine.heads(["a", "b"], now=1.0)
    dead = machine.outcome(a1, PermanentError("HTTP 422"), now=2.0)
    assert dead is not None and dead.verdict == "dead" and not dead.advance
    assert dead.record.hold and dead.record.state.status is Status.DEAD
    assert machine.holder("a") == a1.envelope.id
    [aside] = machine.set_aside()  # a2 waited behind a1: set aside, out of memory
    assert aside.verdict == "held" and aside.delivery is a2 and aside.record.event == "held"
    assert encode_id(a1.envelope.id) in aside.record.detail
    assert aside.record.state.status is Status.PENDING and a2.state.updated_at == 2.0
    assert machine.admit([a3], now=3.0) == []  # admitted later: set aside too
    assert [d.delivery for d in machine.set_aside()] == [a3] and machine.set_aside() == []
    assert (machine.held_keys, machine.held_deliveries, len(machine)) == (1, 2, 1)  # b1 flows
    assert machine.heads(["a"], now=4.0) == ([], [])
    decision = machine.outcome(b1, None, now=4.0)
    assert decision is not None and decision.verdict == "delivered"  # other keys go on


def test_a_replay_releases_the_key_head_first_then_the_held_ones_in_order() -> None:
    machine = holding()
    a1, a2, a3 = delivery("a", 1), delivery("a", 2), delivery("a", 3)
    machine.admit([a1, a2, a3])
    machine.heads(["a"], now=1.0)
    machine.outcome(a1, PermanentError("no"), now=2.0)
    machine.set_aside()
    replayed = delivery("a", 1)
    replayed.envelope = a1.envelope  # the journal's fresh copy of the dead letter
    ids, opened = machine.release("a", a1.envelope.id, replayed)
    assert ids == [a2.envelope.id, a3.envelope.id] and opened == []
    assert machine.held_keys == 0 and machine.held_deliveries == 0
    a4 = delivery("a", 4)
    assert machine.admit([a4]) == ["a"] and machine.set_aside() == []  # not held any more...
    assert machine.heads(["a"], now=3.0) == ([], [])  # ...but waits for the held ones
    assert machine.stalled() == []  # a lane waiting for its held ones is not stalled
    assert machine.loaded("a", [a3, a2]) == ["a"]  # they are put in order, whatever the read
    sent = []
    for _ in range(4):
        [head], _ = machine.heads(["a"], now=4.0)
        sent.append(head)
        machine.outcome(head, None, now=4.0)
    assert sent == [replayed, a2, a3, a4] and len(machine) == 0


def test_a_skip_releases_the_held_ones_and_a_key_with_none_held_goes_on_at_once() -> None:
    machine = holding()
    a1, a2, b1 = delivery("a", 1), delivery("a", 2), delivery("b", 1)
    machine.admit([a1, a2, b1])
    machine.heads(["a", "b"], now=1.0)
    machine.outcome(a1, PermanentError("no"), now=2.0)
    machine.outcome(b1, PermanentError("no"), now=2.0)  # b holds with nothing behind it
    assert [d.delivery for d in machine.set_aside()] == [a2]
    assert machine.release("a", a1.envelope.id, None) == ([a2.envelope.id], [])
    assert machine.loaded("a", [a2]) == ["a"]
    assert machine.heads(["a"], now=3.0)[0] == [a2]
    b2 = delivery("b", 2)
    assert machine.release("b", b1.envelope.id, None) == ([], [])
    assert machine.admit([b2]) == ["b"]  # released: admitted as usual
    # A release that does not match the hold (stale) only admits what it carries.
    assert machine.heads(["b"], now=3.0)[0] == [b2]
    machine.outcome(b2, PermanentError("no"), now=3.0)
    stranger = delivery("b", 9)
    assert machine.release("b", b"x" * 16, stranger) == ([], [])
    assert [d.delivery for d in machine.set_aside()] == [stranger]  # b is still held by b2
    assert machine.holder("b") == b2.envelope.id


def test_a_rejected_head_holds_too_and_restore_rebuilds_a_hold() -> None:
    machine = holding()
    a1, a2 = delivery("a", 1), delivery("a", 2)
    machine.admit([a1, a2])
    machine.heads(["a"], now=1.0)
    rejected = machine.reject(a1, "transform failed", now=1.0)
    assert rejected is not None and rejected.record.hold
    assert a1.state.first_attempt_at == 0.0  # never sent: no key window counts from it
    restored = holding()
    restored.restore("a", a1.envelope.id, [a2.envelope.id])
    assert (restored.held_keys, restored.held_deliveries) == (1, 1)
    restored.admit([delivery("a", 3)])
    assert len(restored.set_aside()) == 1 and restored.held_deliveries == 2


def test_without_hold_a_dead_head_only_leaves_its_lane() -> None:
    machine = lanes()
    a1, a2 = delivery("a", 1), delivery("a", 2)
    machine.admit([a1, a2])
    machine.heads(["a"], now=1.0)
    dead = machine.outcome(a1, PermanentError("no"), now=2.0)
    assert dead is not None and dead.advance and not dead.record.hold
    assert machine.set_aside() == [] and machine.held_keys == 0


def test_a_replay_keeps_the_first_send_but_gets_a_fresh_retry_budget() -> None:
    machine = lanes(RetryPolicy(max_attempts=10, initial=1.0, max=1.0, max_age=5.0, jitter="none"))
    old = delivery("a")
    old.state.first_attempt_at = 100.0  # first sent long ago (kept by the replay)
    machine.admit([old])
    [head], _ = machine.heads(["a"], now=1000.0)
    assert head.state.first_attempt_at == 100.0 and head.state.retry_from == 1000.0
    decision = machine.outcome(head, TransientError("down"), now=1001.0)
    assert decision is not None and decision.verdict == "retry"  # 1 s into its new budget


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["ok", "transient", "permanent"])),
        min_size=1,
        max_size=40,
    )
)
def test_with_hold_each_key_is_delivered_in_acceptance_order_across_replays(
    script: list[tuple[str, str]],
) -> None:
    """Every dead letter is replayed (and then succeeds): each key's deliveries reach the target
    in acceptance order, the replayed ones included, and nothing stays held."""
    machine = Lanes("orders", RetryPolicy(max_attempts=2, initial=1.0, max=1.0, jitter="none"),
                    random.Random(3), hold=True)  # fmt: skip
    accepted = [delivery(key, n) for n, (key, _) in enumerate(script)]
    plan = {d.envelope.id: outcome for d, (_, outcome) in zip(accepted, script, strict=True)}
    by_id = {d.envelope.id: d for d in accepted}
    delivered: list[Delivery] = []
    machine.admit(accepted)
    machine.set_aside()
    keys = sorted({d.state.ordering_key for d in accepted})
    now = 0.0
    for _ in range(20 * len(script)):
        now += 1.0
        heads, _ = machine.heads(keys, now)
        for head in heads:
            outcome = plan[head.envelope.id]
            errors = {"transient": TransientError("t"), "permanent": PermanentError("p")}
            decision = machine.outcome(head, errors.get(outcome), now)
            assert decision is not None
            if decision.verdict == "delivered":
                delivered.append(head)
            elif decision.verdict == "dead":  # the operator fixes it and replays it
                plan[head.envelope.id] = "ok"
                head.state = DeliveryState(ordering_key=head.state.ordering_key)
                ids, _ = machine.release(head.state.ordering_key, head.envelope.id, head)
                if ids:
                    machine.loaded(head.state.ordering_key, [by_id[i] for i in ids])
        machine.set_aside()
        if len(delivered) == len(accepted):
            break
    assert machine.held_keys == 0 and machine.held_deliveries == 0
    for key in "abc":
        assert [d for d in delivered if d.state.ordering_key == key] == [
            d for d in accepted if d.state.ordering_key == key
        ]
