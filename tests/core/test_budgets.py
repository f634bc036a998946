"""The governor's budgets read the API's rate-limit headers right when responses come back out of
order, as they do under concurrency: the calls reach the API in another order than they were
admitted and their responses are read in yet another. `tests/redis/test_shared_stores.py` runs
the same stories on the Redis twin."""

from __future__ import annotations

import time

from firsttoken._state import Budgets, MemoryBudgets

MODEL = "claude-haiku-5"


def _headers(remaining: int, limit: int = 5) -> dict[str, str]:
    return {
        "anthropic-ratelimit-requests-limit": str(limit),
        "anthropic-ratelimit-requests-remaining": str(remaining),
    }


def _admit(budgets: Budgets) -> int:
    admission = budgets.reserve(MODEL, 10)
    assert admission.wait == 0.0, admission
    return admission.seq


def _refused(budgets: Budgets) -> bool:
    return budgets.reserve(MODEL, 10).wait > 0.0


def reordered_burst(budgets: Budgets) -> None:
    """Five requests a minute: a probe, then four calls whose responses come back out of order.
    No reading may let a sixth call through."""
    probe = _admit(budgets)
    budgets.observe(MODEL, 200, _headers(4), probe)
    first, second, third, fourth = (_admit(budgets) for _ in range(4))
    assert _refused(budgets)
    # The API saw them as third, first, fourth, second, so said 3, 2, 1, 0 remaining to them. The
    # third is read first, while the others still fly; the first is read after the fourth, which
    # the API saw after it, so its figure is older than the last one read.
    for seq, remaining in [(third, 3), (fourth, 1), (first, 2), (second, 0)]:
        budgets.observe(MODEL, 200, _headers(remaining), seq)
        assert _refused(budgets), (seq, remaining)


def lone_reading_rebases(budgets: Budgets) -> None:
    """A call that flew alone reads the API's figure as it is, even when it is more than our
    estimate: here the API (another consumer having stopped) says 4 remain after it."""
    probe = _admit(budgets)
    budgets.observe(MODEL, 200, _headers(1), probe)
    alone = _admit(budgets)
    assert _refused(budgets)
    budgets.observe(MODEL, 200, _headers(4), alone)
    for _ in range(4):
        _admit(budgets)
    assert _refused(budgets)


def test_a_reordered_burst_never_overshoots() -> None:
    reordered_burst(MemoryBudgets(clock=time.time))


def test_a_lone_call_rebases_the_estimate() -> None:
    lone_reading_rebases(MemoryBudgets(clock=time.time))


def test_a_call_that_never_answered_stops_counting() -> None:
    now = [1000.0]
    budgets = MemoryBudgets(clock=lambda: now[0])
    probe = _admit(budgets)
    budgets.observe(MODEL, 200, _headers(60, limit=60), probe)
    _admit(budgets)  # never answered: a connection cut before any attempt was read
    counted = _admit(budgets)
    budgets.observe(MODEL, 200, _headers(57, limit=60), counted)
    # The lost call counts against the budget while it could still be in flight...
    assert budgets.snapshot()[MODEL]["remaining"]["requests"] == 56
    now[0] += 61.0
    last = _admit(budgets)
    budgets.observe(MODEL, 200, _headers(59, limit=60), last)
    # ...and not after: this reading flew alone once the lost call was forgotten.
    assert budgets.snapshot()[MODEL]["remaining"]["requests"] == 59
