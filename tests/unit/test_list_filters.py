"""The list filters GET /api/jobs and the status page share (shared/proxy/filters.py), the continuation of an
"older" link, and the page's query (shared/status/query.py): pure, no stand-ins. Over HTTP:
tests/routes/test_list_filters.py; in a browser: tests/browser/test_status_page_browser.py."""

from __future__ import annotations

import datetime
import json
import urllib.parse

import pytest

from shared.proxy.common import ApiFailure
from shared.proxy.filters import Cursor, ListFilters
from shared.proxy.listing import JobListView
from shared.settings.hub import HubClientSettings
from shared.status.query import DEFAULT_ROWS_PER_HUB, PageQuery

NOW = datetime.datetime(2026, 12, 8, 12, 0, tzinfo=datetime.UTC)


def _job(job_id: str, minutes_ago: float | None, status: str = "completed", reason: str | None = None,
         type_: str = "export") -> dict[str, object]:
    job: dict[str, object] = {"jobId": job_id, "status": status, "type": type_}
    if minutes_ago is not None:
        job["startTimeUtc"] = (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if reason is not None:
        job["failureReason"] = reason
    return job


def _view(*jobs: dict[str, object]) -> JobListView:
    return JobListView(json.dumps(list(jobs)).encode())


def _ids(view: JobListView, params: dict[str, str]) -> list[str]:
    return [str(item.job["jobId"]) for item in view.select(ListFilters.parse(params, now=NOW))]


def test_filters_take_the_spec_s_spellings_only() -> None:
    parsed = ListFilters.parse({"status": "failed,cancelled", "type": "import", "top": "10"})
    assert (parsed.statuses, parsed.types, parsed.top) == (frozenset({"failed", "cancelled"}), frozenset({"import"}),
                                                           10)
    for empty in ({"status": ""}, {"q": ""}, {"since": ""}, {"before": ""}):
        assert ListFilters.parse(empty) == ListFilters()  # the host drops empty values; so does the parser
    for bad in ({"status": "FAILED"}, {"type": "import,"}, {"top": "0"}, {"top": "10001"}):
        with pytest.raises(ApiFailure):
            ListFilters.parse(bad)


@pytest.mark.parametrize("params", [
    {"q": "x" * 101},
    {"q": "tab\there"},
    {"q": "x\x85y"},
    {"since": "yesterday"},
    {"since": "31d"},
    {"since": "0h"},
    {"since": "721h"},
    {"since": "90m"},
    {"since": "2026-02-29T08:00:00Z"},  # not a leap year
    {"since": "2026-04-31T08:00:00Z"},
    {"since": "2026-12-01"},  # a date alone: which zone?
    {"since": "2026-12-01T08:00:00+02:00"},  # UTC only, as the hub writes
    {"since": "2026-13-01T08:00:00Z"},
    {"before": "no-separator"},
    {"before": "2026-12-01T08:00:00Z|"},
    {"before": "not a time|job-1"},
    {"before": "|" + "j" * 200},
])
def test_a_bad_text_since_or_continuation_is_a_400_invalid_filter(params: dict[str, str]) -> None:
    with pytest.raises(ApiFailure) as raised:
        ListFilters.parse(params, now=NOW)
    assert (raised.value.status, raised.value.code.value) == (400, "InvalidFilter")
    assert next(iter(params)) in raised.value.message


def test_free_text_finds_a_job_by_a_piece_of_its_id_or_its_failure_reason_whatever_the_case() -> None:
    view = _view(_job("Backup-Nightly-7", 1), _job("imp-2", 2, "failed", "ErrorCode:ImportErrors;Blob MISSING"),
                 _job("other", 3, "failed", None))
    assert _ids(view, {"q": "nightly"}) == ["Backup-Nightly-7"]
    assert _ids(view, {"q": "missing"}) == ["imp-2"]
    assert _ids(view, {"q": "  IMP-2 "}) == ["imp-2"]
    assert _ids(view, {"q": "nothing-like-it"}) == []
    assert _ids(view, {"q": "o", "status": "failed"}) == ["imp-2", "other"]  # every filter applies


def test_since_takes_a_utc_time_or_an_age_and_drops_jobs_without_times() -> None:
    view = _view(_job("new", 30), _job("day-old", 60 * 24 + 1), _job("timeless", None))
    assert _ids(view, {"since": "1h"}) == ["new"]
    assert _ids(view, {"since": "720h"}) == ["new", "day-old"]
    assert _ids(view, {"since": "2028-02-29T00:00:00Z"}) == []  # a leap day, in the future
    assert _ids(view, {"since": "2d"}) == ["new", "day-old"]
    assert _ids(view, {"since": "2026-12-08T11:00:00Z"}) == ["new"]
    assert _ids(view, {}) == ["new", "day-old", "timeless"]


def test_the_continuation_starts_after_the_last_job_shown_even_when_newer_jobs_arrive() -> None:
    jobs = [_job(f"j{i:02d}", i) for i in range(10)]
    first = _ids(_view(*jobs), {"top": "4"})
    assert first == ["j00", "j01", "j02", "j03"]
    last = _view(*jobs).select(ListFilters(top=4))[-1]
    cursor = Cursor(started=last.started, job_id=str(last.job["jobId"])).text()
    # Three jobs started since the first page was made: an offset would shift; the continuation does not.
    newer = [_job(f"new{i}", -i - 1) for i in range(3)]
    assert _ids(_view(*newer, *jobs), {"top": "4", "before": cursor}) == ["j04", "j05", "j06", "j07"]
    # The job the cursor names may have gone: the continuation still starts where it stood.
    assert _ids(_view(*[j for j in jobs if j["jobId"] != "j03"]), {"top": "2", "before": cursor}) == ["j04", "j05"]


def test_jobs_started_at_the_same_instant_continue_by_job_id_without_loss_or_repeat() -> None:
    same = [_job(f"s{i}", 5) for i in (3, 1, 2, 0)] + [_job("untimed-b", None), _job("untimed-a", None)]
    view = _view(*same)
    seen: list[str] = []
    params: dict[str, str] = {"top": "2"}
    for _ in range(len(same) + 1):  # bounded: a continuation that repeats itself must fail, not hang
        page = view.select(ListFilters.parse(params, now=NOW))
        if not page:
            break
        seen += [str(item.job["jobId"]) for item in page]
        params["before"] = Cursor(started=page[-1].started, job_id=str(page[-1].job["jobId"])).text()
    assert seen == ["s0", "s1", "s2", "s3", "untimed-a", "untimed-b"]


def test_the_canonical_form_differs_for_every_filter_so_each_answer_has_its_own_etag() -> None:
    forms = {ListFilters.parse(params, now=NOW).canonical() for params in (
        {}, {"status": "failed"}, {"type": "import"}, {"q": "x"}, {"since": "1h"}, {"before": "|x"}, {"top": "5"})}
    assert len(forms) == 7
    assert (ListFilters.parse({"status": "failed,running"}).canonical()
            == ListFilters.parse({"status": "running,failed"}).canonical())


def _hubs() -> HubClientSettings:
    from shared.settings import AppSettings

    return AppSettings.from_environ({
        "IOTHUB_HUBS": "hub-a,hub-b", "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "IOTHUB_AUTH": "managedIdentity"}).hub


def test_the_page_query_keeps_its_filters_in_every_link_and_the_key_only_when_given() -> None:
    query = PageQuery.parse({"status": "failed", "q": "Blob", "code": "k&y"}, _hubs(), now=NOW)
    assert [hub.name for hub in query.hubs] == ["hub-a", "hub-b"]
    assert query.rows == DEFAULT_ROWS_PER_HUB
    link = query.link(hub="hub-a", before=Cursor(started=None, job_id="j|1"))
    assert link.startswith("status?")
    assert urllib.parse.parse_qs(link.split("?", 1)[1]) == {
        "hub": ["hub-a"], "status": ["failed"], "q": ["blob"], "before": ["|j|1"], "code": ["k&y"]}
    dropped = urllib.parse.parse_qs(query.link(drop="q").split("?", 1)[1])
    assert dropped == {"status": ["failed"], "code": ["k&y"]}
    plain = PageQuery.parse({}, _hubs(), now=NOW)
    assert plain.link() == "status"


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"before": "|j1"}, 400, "InvalidFilter"),  # a continuation is one hub's
    ({"top": "201"}, 400, "InvalidTop"),
    ({"hub": "hub-c"}, 404, "UnknownHub"),
    ({"hub": "../hub-a"}, 400, "UnknownHub"),
])
def test_the_page_refuses_what_it_cannot_show(params: dict[str, str], status: int, code: str) -> None:
    with pytest.raises(ApiFailure) as raised:
        PageQuery.parse(params, _hubs(), now=NOW)
    assert (raised.value.status, raised.value.code.value) == (status, code)
