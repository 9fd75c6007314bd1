"""Time: a budget on the monotonic clock, and UTC timestamps as IoT Hub writes them.

Every time read from outside (the hub's job fields, a blob's metadata or body) goes through `parse_utc`: it
gives an aware UTC datetime or None ("unknown"), never an exception, so one odd field cannot fail a page,
a route or a tick.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable

# Times outside these years are unknown: .NET's sentinels (DateTime.MinValue 0001-01-01, MaxValue 9999-12-31)
# mean "not set", and a time this close to datetime's limits overflows at the first offset or timedelta added
# to it (0001-01-01T00:00:00+01:00 is before datetime.min in UTC). IoT Hub's jobs API dates from 2016.
EARLIEST_YEAR = 1970
LATEST_YEAR = 9000
UNKNOWN_TIME = "unknown"  # what pages, reports and routes show for a time that is missing or unreadable


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


MAX_TIME_TEXT = 64  # an ISO 8601 time is about 30 characters; a longer field is not one


def parse_utc(value: object) -> datetime.datetime | None:
    """Read an ISO 8601 time as IoT Hub or .NET writes it (Z suffix, up to 7 fractional digits): an aware UTC
    datetime, or None for anything else (missing, malformed, out of range, a sentinel). Never raises."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TIME_TEXT:
        return None
    # Python 3.10's fromisoformat takes neither "Z" nor more than 6 fractional digits.
    text = re.sub(r"[Zz]$", "+00:00", value.strip())
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        moment = moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that takes the time past datetime's limits
        return None
    return moment if EARLIEST_YEAR <= moment.year < LATEST_YEAR else None


def time_text(value: object) -> str:
    """A time from outside as pages and reports show it: UTC as IoT Hub writes it, or "unknown"."""
    moment = parse_utc(value)
    return utc_iso(moment) if moment is not None else UNKNOWN_TIME
