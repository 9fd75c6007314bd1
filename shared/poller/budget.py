"""How long one tick may run: MONITOR_TICK_BUDGET_SECONDS, but never past the host's functionTimeout (the host
would end the run mid-write) nor past the schedule's interval (the next tick, and a run-now queued behind this
one, would wait on it). Pure: tests/unit exercises it directly.
"""

from __future__ import annotations

import re

# host.json's functionTimeout (00:05:00); tests/unit/test_tick_budget.py keeps the two equal.
FUNCTION_TIMEOUT_SECONDS = 300.0
# The tick ends this long before the host would end it, and before the schedule's next occurrence.
TIMEOUT_MARGIN_SECONDS = 30.0
SCHEDULE_MARGIN_SECONDS = 5.0
MIN_TICK_BUDGET_SECONDS = 5.0  # MONITOR_TICK_BUDGET_SECONDS' own lower bound
# NCRONTAB fields, finest first, with the seconds each step of it stands for.
_UNITS = (1.0, 60.0, 3600.0)
_STEP = re.compile(r"\*/([1-9][0-9]*)")
_FIXED = re.compile(r"[0-9]+")


def schedule_interval_seconds(schedule: str) -> float | None:
    """The interval of a regular 6-field NCRONTAB schedule ("*/20 * * * * *": 20; "0 */5 * * * *": 300; "0 0 * *
    * *": 3600); None for one that is not a plain step (then only functionTimeout bounds the budget)."""
    fields = schedule.split()
    if len(fields) != 6:
        return None
    for index, unit in enumerate(_UNITS):
        field = fields[index]
        if field == "*":
            return unit  # every second (minute, hour) from here up
        step = _STEP.fullmatch(field)
        if step is not None:
            return int(step.group(1)) * unit
        if _FIXED.fullmatch(field) is None:
            return None  # a list or a range: irregular
    if all(f == "*" for f in fields[3:]):
        return 24 * 3600.0  # once a day at a fixed time
    return None


def tick_budget_seconds(configured: float, schedule: str) -> float:
    """The tick's budget: the configured one, cut to below functionTimeout and the schedule's interval."""
    bounds = [configured, FUNCTION_TIMEOUT_SECONDS - TIMEOUT_MARGIN_SECONDS]
    interval = schedule_interval_seconds(schedule)
    if interval is not None:
        bounds.append(interval - SCHEDULE_MARGIN_SECONDS)
    return max(MIN_TICK_BUDGET_SECONDS, min(bounds))
