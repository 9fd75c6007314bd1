"""The tick's budget (shared/poller/budget.py): below functionTimeout and below the schedule's interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.poller.budget import (
    FUNCTION_TIMEOUT_SECONDS,
    schedule_interval_seconds,
    tick_budget_seconds,
)


@pytest.mark.parametrize(("schedule", "seconds"), [
    ("*/20 * * * * *", 20.0), ("0 */5 * * * *", 300.0), ("30 */1 * * * *", 60.0), ("0 0 */2 * * *", 7200.0),
    ("* * * * * *", 1.0), ("0 * * * * *", 60.0), ("0 0 3 * * *", 86400.0),
    ("0 0 0 1 1 *", None), ("0 5,35 * * * *", None), ("0 10-20 * * * *", None), ("0 */5 * * *", None),
])
def test_the_interval_of_a_regular_schedule(schedule: str, seconds: float | None) -> None:
    assert schedule_interval_seconds(schedule) == seconds


def test_the_budget_ends_before_the_next_tick_and_before_the_host_ends_the_run() -> None:
    assert tick_budget_seconds(240, "0 */5 * * * *") == 240  # the default: inside both bounds
    assert tick_budget_seconds(240, "*/20 * * * * *") == 15  # make run's 20 s schedule: 5 s before the next tick
    assert tick_budget_seconds(3600, "0 0 * * * *") == FUNCTION_TIMEOUT_SECONDS - 30  # the host's timeout first
    assert tick_budget_seconds(3600, "0 0 0 1 1 *") == FUNCTION_TIMEOUT_SECONDS - 30  # irregular: the timeout only
    assert tick_budget_seconds(240, "*/2 * * * * *") == 5  # never below the setting's own floor


def test_the_function_timeout_is_host_jsons() -> None:
    host = json.loads((Path(__file__).parents[2] / "host.json").read_text())
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    assert hours * 3600 + minutes * 60 + seconds == FUNCTION_TIMEOUT_SECONDS
