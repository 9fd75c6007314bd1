"""Bounded ticks under a hub that throttles everything: every tick ends inside its budget, whatever Retry-After
the hub sends; a hub whose wait outlasts the budget is skipped for the tick and said so, never asked again inside
it. Each tick is measured around it against its own budget (no wall-clock constant)."""

from __future__ import annotations

import logging
import time

import pytest

from devstack.hubsim.vocab import FaultKind, Operation
from shared.poller.tick import Poller
from tests.support.poller import PollerEnv, events

HUBS = ("devhub", "otherhub")
TICKS = 6
BUDGET = 5.0


@pytest.mark.parametrize(("retry_after", "wait_seconds"), [(120, 10), (None, 30), (1, 1)],
                         ids=["retry-after-past-the-budget", "wait-n-seconds-in-the-body", "retry-after-inside"])
def test_every_tick_stays_within_its_budget_under_a_hub_that_throttles_everything(
    env: PollerEnv, caplog: pytest.LogCaptureFixture, retry_after: int | None, wait_seconds: int
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    for hub in HUBS:
        env.hubsim.control(hub).queue_fault(FaultKind.THROTTLE, count=1000, operation=Operation.LIST,
                                            retry_after=retry_after, wait_seconds=wait_seconds)
    # The hub client alone would keep trying for a minute: only the tick's budget stops it.
    poller = Poller(env.settings(HUBS, MONITOR_TICK_BUDGET_SECONDS=str(BUDGET), IOTHUB_RETRY_BUDGET_SECONDS="60",
                                 IOTHUB_MAX_ATTEMPTS="10"))
    longest = 0.0
    for _ in range(TICKS):
        started = time.monotonic()
        result = poller.tick()
        longest = max(longest, time.monotonic() - started)
        assert result.budget_seconds == BUDGET
        for hub in HUBS:
            outcome = result.hubs[hub]
            assert not outcome.ok and outcome.throttled and not outcome.timed_out
            assert "skipped for this tick" in (outcome.error or "")
    assert longest < BUDGET, f"the longest of {TICKS} ticks took {longest:.2f} s of a {BUDGET} s budget"
    failed = events(caplog, "poller.hub_failed")
    assert len(failed) == TICKS * len(HUBS)
    assert all(line["skipped"] == "this tick" and line["retryAfterSeconds"] > 0 for line in failed)
    ticks = events(caplog, "poller.tick")
    assert [(t["hubsThrottled"], t["budgetSeconds"]) for t in ticks] == [(2, BUDGET)] * TICKS
    if retry_after == 120:
        # Asked to wait two minutes: each hub was asked once, and never again inside any later tick.
        assert [env.hubsim.control(hub).counters()["list"] for hub in HUBS] == [1, 1]
    print(f"longest tick under throttling ({retry_after=}, {wait_seconds=}): {longest:.2f} s of {BUDGET} s")
