"""shared/clock.py's parse_utc: every time from outside gives an aware UTC datetime or None, never an exception
(issue 21, point 6)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.clock import UNKNOWN_TIME, parse_utc, time_text

# ISO 8601 as crafted by someone who knows datetime's limits: any year, month, day, time, fraction and offset.
_OFFSETS = st.one_of(st.just(""), st.just("Z"), st.builds(
    lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
    st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99)))
_CRAFTED = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
    st.integers(0, 61), st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True)), _OFFSETS)


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC: OverflowError before issue 21
    "9999-12-31T23:59:59.9999999-01:00",  # after datetime.max once in UTC
    "0001-01-01T00:00:00", "0001-01-01T00:00:00Z",  # .NET's DateTime.MinValue: "not set"
    "9999-12-31T23:59:59.9999999", "9999-12-31T23:59:59.9999999Z",  # DateTime.MaxValue: "not ended"
    "1969-12-31T23:59:59Z", "2026-02-30T10:00:00Z", "2026-12-01T25:00:00Z", "yesterday", "", "   ",
    "2026-12-01T10:00:00Z" + " " * 100, None, 5, 1.5e300, ["2026-12-01T10:00:00Z"],
])
def test_a_time_we_cannot_use_is_unknown(value: object) -> None:
    assert parse_utc(value) is None
    assert time_text(value) == UNKNOWN_TIME


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-01T10:00:00.1234567Z", datetime.datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=datetime.UTC)),
    ("2026-12-01T10:00:00+01:00", datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)),
    ("2026-12-01T10:00:00", datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC)),  # no offset: UTC
    ("1970-01-01T00:00:00Z", datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)),
    ("8999-12-31T23:59:59Z", datetime.datetime(8999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)),
])
def test_a_real_time_reads_as_aware_utc(value: str, expected: datetime.datetime) -> None:
    assert parse_utc(value) == expected
    assert time_text(value) == expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expected.microsecond // 1000:03d}Z"


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_CRAFTED, st.text(max_size=80)))
def test_no_text_makes_parse_utc_raise_and_what_it_gives_survives_arithmetic(value: str) -> None:
    moment = parse_utc(value)
    if moment is None:
        return
    assert moment.tzinfo is datetime.UTC
    # What the app does with a time (stall due, the log's clock slack, the status page's window) never overflows.
    year = datetime.timedelta(days=366)
    assert moment - 100 * year < moment < moment + 100 * year
