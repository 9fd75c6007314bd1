"""Grants ahead (shared/cache/budget.py, issue 24): the poller's next list call is granted while this one goes,
and the grant counts for a full window after the last moment it may be used, so the budget is not weakened."""

from __future__ import annotations

import time

import pytest

from shared.cache.budget import HOLD_SECONDS, WINDOW_SECONDS, BudgetLog, CallBudget
from shared.errors import HubBudgetExhausted

T0 = 1000.0


def settle(budget: CallBudget, hub: str = "h") -> None:
    """Wait (bounded) for the worker that takes the grant ahead: the condition, not a fixed sleep."""
    deadline = time.monotonic() + 5
    while not budget.reserved(hub) and time.monotonic() < deadline:
        time.sleep(0.001)


def test_a_grant_ahead_counts_a_full_window_past_the_last_moment_it_may_be_used() -> None:
    log = BudgetLog().granted(T0).granted(T0, ahead=35)
    assert log.ends == (T0 + WINDOW_SECONDS + HOLD_SECONDS, T0 + 35 + WINDOW_SECONDS + HOLD_SECONDS)
    # Used at the last moment (T0 + 35), it still counts for 61 s after it: a limit of 1 holds until then.
    assert BudgetLog(ends=log.ends[1:]).wait(T0 + 35 + 60, 1) == pytest.approx(WINDOW_SECONDS + HOLD_SECONDS - 60)
    # Kept sorted whatever the order of grants.
    assert list(log.granted(T0 + 1).ends) == sorted(log.granted(T0 + 1).ends)


def test_the_next_call_takes_the_grant_ahead_and_the_budget_still_holds() -> None:
    now = [T0]
    budget = CallBudget(lambda _hub: 3, clock=lambda: now[0])
    budget.acquire("h", wait_seconds=0, reserve_next=35)
    settle(budget)
    assert budget.reserved("h")
    # The call and the grant ahead both count: one call is left for anyone else.
    budget.acquire("h", wait_seconds=0)
    with pytest.raises(HubBudgetExhausted):
        budget.acquire("h", wait_seconds=0)
    # The next list call takes the grant ahead: no new grant is needed for it, though the budget is spent.
    now[0] += 30
    budget.acquire("h", wait_seconds=0, reserve_next=35)
    assert not budget.reserved("h")  # taken; none ahead now (the budget is spent)


def test_a_grant_ahead_is_not_used_late_nor_while_the_hub_asked_to_wait() -> None:
    now = [T0]
    budget = CallBudget(lambda _hub: 2, clock=lambda: now[0])
    budget.acquire("h", wait_seconds=0, reserve_next=35)
    settle(budget)
    now[0] += 36  # past its use-by time
    with pytest.raises(HubBudgetExhausted):  # both calls still count: it was not used, and not given back
        budget.acquire("h", wait_seconds=0, reserve_next=35)
    now[0] += 100
    budget.acquire("h", wait_seconds=0, reserve_next=35)
    settle(budget)
    budget.pause("h", 20)
    with pytest.raises(HubBudgetExhausted):
        budget.acquire("h", wait_seconds=0, reserve_next=35)
