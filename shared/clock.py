"""Time: a budget on the monotonic clock, and UTC timestamps as IoT Hub writes them."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable


class Deadline:
    """A time budget measured on the monotonic clock."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def utc_iso(moment: datetime.datetime) -> str:
    """`2026-11-28T16:31:58.123Z`: milliseconds, UTC, as IoT Hub writes its own times."""
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_utc(value: object) -> datetime.datetime | None:
    """Read an ISO 8601 time as IoT Hub or .NET writes it (Z suffix, up to 7 fractional digits)."""
    if not isinstance(value, str) or not value.strip():
        return None
    # Python 3.10's fromisoformat takes neither "Z" nor more than 6 fractional digits.
    text = re.sub(r"[Zz]$", "+00:00", value.strip())
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)
