"""Six-field NCRONTAB schedules: ``{second} {minute} {hour} {day} {month} {day-of-week}``.

Each field takes ``*``, numbers, ranges ``a-b``, lists ``a,b``, steps ``*/n`` / ``a-b/n`` / ``a/n``;
months take JAN..DEC and days SUN..SAT (case-insensitive); day-of-week 0 and 7 are Sunday.
Like NCrontab, a time must match BOTH the day-of-month and the day-of-week fields. Times are UTC
(Azure's default when WEBSITE_TIME_ZONE is unset).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum

FIELD_COUNT = 6
MAX_SEARCH_YEARS = 8

MONTH_NAMES = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
DAY_NAMES = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


class ScheduleError(ValueError):
    """The expression is not a valid six-field NCRONTAB schedule."""


class Field(Enum):
    SECOND = ("second", 0, 59)
    MINUTE = ("minute", 0, 59)
    HOUR = ("hour", 0, 23)
    DAY = ("day", 1, 31)
    MONTH = ("month", 1, 12)
    DAY_OF_WEEK = ("day-of-week", 0, 7)

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def low(self) -> int:
        return self.value[1]

    @property
    def high(self) -> int:
        return self.value[2]


def _number(text: str, field: Field) -> int:
    names = MONTH_NAMES if field is Field.MONTH else DAY_NAMES if field is Field.DAY_OF_WEEK else {}
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"{field.label}: {text!r} is not a number")
    value = int(text)
    if not field.low <= value <= field.high:
        raise ScheduleError(f"{field.label}: {value} is outside {field.low}-{field.high}")
    return value


def parse_field(text: str, field: Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(f"{field.label}: empty list item in {text!r}")
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{field.label}: bad step in {item!r}")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            start, _, end = base.partition("-")
            low, high = _number(start, field), _number(end, field)
            if low > high:
                raise ScheduleError(f"{field.label}: range {item!r} runs backwards")
        else:
            low = _number(base, field)
            high = field.high if step_text else low
        values.update(range(low, high + 1, step))
    if field is Field.DAY_OF_WEEK and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != FIELD_COUNT:
            raise ScheduleError(
                f"{expression!r}: NCRONTAB needs {FIELD_COUNT} fields "
                "({second} {minute} {hour} {day} {month} {day-of-week}), "
                f"got {len(parts)}"
            )
        fields = [parse_field(part, field) for part, field in zip(parts, Field, strict=True)]
        return cls(expression, *fields)

    def _day_matches(self, moment: datetime.datetime) -> bool:
        return moment.day in self.days and (moment.weekday() + 1) % 7 in self.days_of_week

    def next_after(self, after: datetime.datetime) -> datetime.datetime:
        """The first matching time strictly after `after` (aware datetimes keep their tzinfo)."""
        moment = after.replace(microsecond=0) + datetime.timedelta(seconds=1)
        limit = after + datetime.timedelta(days=366 * MAX_SEARCH_YEARS)
        while moment < limit:
            if moment.month not in self.months:
                year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
                moment = moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif not self._day_matches(moment):
                moment = moment.replace(hour=0, minute=0, second=0) + datetime.timedelta(days=1)
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0, second=0) + datetime.timedelta(hours=1)
            elif moment.minute not in self.minutes:
                moment = moment.replace(second=0) + datetime.timedelta(minutes=1)
            elif moment.second not in self.seconds:
                moment += datetime.timedelta(seconds=1)
            else:
                return moment
        raise ScheduleError(f"{self.expression!r} never fires")
