"""A job's end: endTimeUtc absent, or .NET's DateTime.MinValue / MaxValue sentinel, means "not ended"."""

from __future__ import annotations

import datetime

import pytest

from shared.jobs import NOT_ENDED, job_end, job_end_text


@pytest.mark.parametrize("raw", [None, "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z",
                                 "9999-12-31T23:59:59.9999999", "0001-01-01T00:00:00+00:00"])
def test_no_end_or_a_sentinel_is_not_ended(raw: str | None) -> None:
    job = {} if raw is None else {"endTimeUtc": raw}
    assert job_end(job) is None
    assert job_end_text(job) == NOT_ENDED


def test_a_real_end_is_kept() -> None:
    job = {"endTimeUtc": "2026-12-01T10:20:30.1234567Z"}
    assert job_end(job) == datetime.datetime(2026, 12, 1, 10, 20, 30, 123456, tzinfo=datetime.UTC)
    assert job_end_text(job) == "2026-12-01T10:20:30.1234567Z"


def test_an_unreadable_end_is_shown_as_it_came_not_as_not_ended() -> None:
    # The page escapes it where it lands; calling it "not ended" would hide what the hub sent.
    job = {"endTimeUtc": "<b>soon</b>"}
    assert job_end(job) is None
    assert job_end_text(job) == "<b>soon</b>"
