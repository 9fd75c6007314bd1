"""function.json ``retry`` policies: fixedDelay and exponentialBackoff, with .NET TimeSpan intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)$")
UNLIMITED = -1


class RetryStrategy(str, Enum):
    FIXED_DELAY = "fixedDelay"
    EXPONENTIAL_BACKOFF = "exponentialBackoff"


def parse_timespan(text: str) -> float:
    """``[d.]hh:mm:ss[.fff]`` to seconds."""
    match = TIMESPAN.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a TimeSpan like 00:00:10")
    days = int(match.group("days") or 0)
    return days * 86400 + int(match.group("h")) * 3600 + int(match.group("m")) * 60 + float(match.group("s"))


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    strategy: RetryStrategy
    max_retry_count: int
    delay_seconds: float = 0.0
    minimum_seconds: float = 0.0
    maximum_seconds: float = 0.0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RetryPolicy:
        strategy = RetryStrategy(raw["strategy"])
        count = int(raw.get("maxRetryCount", 0))
        if count < UNLIMITED:
            raise ValueError("maxRetryCount must be -1 (unlimited) or >= 0")
        if strategy is RetryStrategy.FIXED_DELAY:
            return cls(strategy=strategy, max_retry_count=count, delay_seconds=parse_timespan(raw["delayInterval"]))
        minimum = parse_timespan(raw["minimumInterval"])
        maximum = parse_timespan(raw["maximumInterval"])
        if maximum < minimum:
            raise ValueError("maximumInterval is shorter than minimumInterval")
        return cls(strategy=strategy, max_retry_count=count, minimum_seconds=minimum, maximum_seconds=maximum)

    def allows(self, retries_done: int) -> bool:
        return self.max_retry_count == UNLIMITED or retries_done < self.max_retry_count

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number `retry_number` (1-based)."""
        if self.strategy is RetryStrategy.FIXED_DELAY:
            return self.delay_seconds
        return float(min(self.minimum_seconds * 2 ** (retry_number - 1), self.maximum_seconds))
