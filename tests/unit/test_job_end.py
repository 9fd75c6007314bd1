"""A job's end: endTimeUtc absent, or .NET's DateTime.MinValue / MaxValue sentinel, means "not ended"."""

from __future__ import annotations

import datetime
import re

import pytest

from shared.jobs import NOT_ENDED, job_end, job_end_text
from shared.status.job_html import render_job_page
from shared.status.job_page import JobView

NOW = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)


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


@pytest.mark.parametrize("raw", [None, "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z"])
def test_the_job_page_shows_a_job_without_an_end_as_not_ended_with_no_duration(raw: str | None) -> None:
    """The job's own page, as the status page's row: a sentinel end is neither a date in year 1 or 9999 nor a
    duration counted to it."""
    job = {"jobId": "j1", "status": "running", "progress": 5, "startTimeUtc": "2026-12-07T09:00:00Z",
           **({} if raw is None else {"endTimeUtc": raw})}
    page = render_job_page(JobView(hub="devhub", job_id="j1", job=job, job_json="{}", generated_at=NOW)).decode()
    assert _cells(page, "Ended", "Duration") == [NOT_ENDED, "-"]
    assert "9999" not in page and "0001-01-01" not in page  # the job's JSON (not shown here) keeps what came


def test_the_job_page_shows_a_real_end_and_the_duration_to_it() -> None:
    job = {"jobId": "j1", "status": "completed", "progress": 100, "startTimeUtc": "2026-12-07T09:00:00Z",
           "endTimeUtc": "2026-12-07T09:01:30Z"}
    page = render_job_page(JobView(hub="devhub", job_id="j1", job=job, job_json="{}", generated_at=NOW)).decode()
    assert _cells(page, "Ended", "Duration") == ["<time>58 min ago<i> (2026-12-07 09:01:30 UTC)</i></time>", "90.0 s"]


def _cells(page: str, *names: str) -> list[str]:
    cells = dict(re.findall(r'<th scope="row">([^<]*)</th><td[^>]*>(.*?)</td>', page))
    return [cells[name] for name in names]
