"""The status page for a hub in trouble, from the poller's state alone (no list was ever had): its last known jobs,
a warning naming the reason, and the hubs in trouble counted first. Pure: no stand-ins."""

from __future__ import annotations

import datetime
from typing import Any

from shared.proxy.answers import ApiErrorCode
from shared.proxy.common import ApiFailure
from shared.proxy.filters import ListFilters
from shared.status.html import render_status_page
from shared.status.page import StatusSnapshot, _section
from shared.status.query import DEFAULT_ROWS_PER_HUB, PageQuery
from shared.text import visible

SINCE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
QUERY = PageQuery(hubs=(), filters=ListFilters(), rows=DEFAULT_ROWS_PER_HUB, top_given=False, before=None, key=None)
THROTTLED = ApiFailure(status=429, code=ApiErrorCode.UPSTREAM_THROTTLED, message="the hub is throttling requests",
                       upstream_status=429)
REFUSED: dict[str, Any] = {
    "state": "refused", "attempts": 1, "firstAttemptUtc": "t", "lastAttemptUtc": "t", "httpStatus": 403,
    "errorCode": "AuthorizationPermissionMismatch", "nextAttemptUtc": "2026-12-08T01:01:00.000Z",
    "reason": "the SAS has no Write permission: create the job with sp=rwd"}
RECORDS: dict[str, dict[str, Any]] = {
    "old": {"job_id": "old", "status": "completed", "progress": 100, "changed_at": "2026-12-01T00:00:00Z"},
    "new": {"job_id": "new", "status": "failed", "progress": 10, "changed_at": "2026-12-07T00:00:00Z",
            "report": "pending", "delivery": REFUSED},
    "gone": {"job_id": "gone", "status": "failed", "changed_at": "2026-11-01T00:00:00Z",
             "absent_since": "2026-12-01T00:00:00Z"},
}


def test_a_hub_never_listed_shows_the_jobs_its_state_records_under_a_warning() -> None:
    section = _section("devhub", THROTTLED, (RECORDS, None), since=SINCE, query=QUERY)
    assert [row.job_id for row in section.rows] == ["new", "old"]  # newest change first; one gone from the hub not
    assert section.error == "UpstreamThrottled: the hub is throttling requests" and section.last_known_age is None
    new = section.rows[0]
    assert new.report_href is not None  # its copy is written: linked while its delivery is retried
    assert new.delivery is not None and new.delivery.startswith("not written beside the job: the SAS has no Write")
    healthy = _section("otherhub", THROTTLED, ({}, None), since=SINCE, query=QUERY)
    page = visible(render_status_page(StatusSnapshot(
        generated_at=SINCE, days=7, hubs=[section, healthy]), refresh_seconds=30).decode())
    assert page.index("2 of 2 hub(s) in trouble") < page.index("job(s) of the last")
    assert "the last known jobs are shown, as the poller last recorded them" in page
    assert "no earlier list is known" in page
    assert "retrying (attempt 1, next after 2026-12-08T01:01:00.000Z)" in page
