"""The status page's HTML, exactly, from a snapshot built by hand: the hubs in trouble first, the summary line, the
hubs' navigation, a section with rows of every kind (a failed job with a long marked-up reason, a report link and
its delivery, a stalled job without a start, a cancelled job the poller has not seen with its report pending and
its delivery refused, a queued job), a hub whose list failed and a hub without jobs; the filters as links; a
continued page. Every value here is escaped where it lands, and the page's key is only the query's (`?code=`).
Written for the mutants `make mutate` left alive in shared/status/html.py."""

from __future__ import annotations

import datetime
from typing import Any

from shared.jobs import NOT_ENDED, JobStatus
from shared.proxy.filters import ListFilters
from shared.status.html import render_status_page
from shared.status.page import HubSection, JobRow, ReportLink, StatusSnapshot
from shared.status.query import PageQuery

T = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
REASON = "bad <b>thing</b> " + "z" * 200  # 217 characters: the summary shows 160, then an ellipsis


def _row(job_id: str, status: JobStatus, **fields: Any) -> JobRow:
    values: dict[str, Any] = {
        "job_id": job_id, "type": "export", "status": status, "progress": None, "started": None, "ended": None,
        "start_text": None, "end_text": None, "stalled": False, "stalled_since": None, "report": ReportLink.NONE,
        "report_href": None, **fields,
    }
    return JobRow(**values)


def _time(relative: str, exact: str) -> str:
    return f"<time>{relative}<i> ({exact} UTC)</i></time>"


ROWS = [
    _row("job-1", JobStatus.FAILED, progress=140, started=T - datetime.timedelta(minutes=10),
         ended=T - datetime.timedelta(seconds=510), start_text="x", end_text="y", report=ReportLink.WRITTEN,
         report_href="jobs/job-1/report?hub=h1&code=k", failure_reason=REASON,
         page_href="jobs/job-1/page?hub=h1&code=k", delivery="written beside the job"),
    _row("job-2", JobStatus.RUNNING, progress=-5, start_text="<i>when</i>", end_text=NOT_ENDED, stalled=True,
         stalled_since="2026-01-02T03:00:00Z", type=None, page_href="jobs/job-2/page?hub=h1&code=k"),
    _row("job-3", JobStatus.CANCELLED, stalled=None, report=ReportLink.PENDING, failure_reason="",
         end_text="raw<end>", delivery="not written beside the job: <no> Write; retrying", delivery_refused=True),
    _row("job-4", JobStatus.QUEUED, progress=0, end_text=NOT_ENDED, page_href="jobs/job-4/page?hub=h1"),
]

EXPECTED = "".join([
    "<h1>IoT Hub import/export jobs</h1>",
    '<p role="alert"><strong>2 of 3 hub(s) in trouble</strong>: <a href="#hub-h1">H1</a>, <a href="#hub-h2">h2</a>.'
    " Their jobs could not be listed; the last known ones are shown, with their age.</p>",
    '<p class="meta">4 job(s) of the last 7 day(s) shown on 3 hub(s): 2 failed or cancelled, 1 stalled. Updated '
    f"{_time('just now', '2026-01-02 03:04:05')}; this page refreshes every 30 s.</p>",
    '<nav aria-label="Hubs"><ul class="hubs"><li><a href="#hub-h1">H1</a> (4)</li><li><a href="#hub-h2">h2</a> (0)'
    '</li><li><a href="#hub-h3">h3</a> (0)</li></ul></nav>',
    '<section aria-labelledby="hub-h1"><h2 id="hub-h1">Hub H1</h2>',
    '<p role="alert"><strong>This hub is in trouble: its jobs could not be listed</strong> (UpstreamThrottled: slow '
    "&lt;down&gt;); the last known jobs are shown, as listed 12 s ago.</p>",
    '<p class="muted">note &lt;x&gt;</p>',
    '<div class="scroll"><table class="jobs"><caption>Jobs on H1, newest first (4 of 9)</caption>',
    '<thead><tr><th scope="col">Job</th><th scope="col">Type</th><th scope="col">Status</th>'
    '<th scope="col">Progress</th><th scope="col">Started, ended</th><th scope="col">Duration</th>'
    '<th scope="col">Stalled</th><th scope="col">Report</th></tr></thead><tbody>',
    # A failed job: its long reason opens in place; its progress held to 100; its duration from start to end.
    '<tr><td><a href="jobs/job-1/page?hub=h1&amp;code=k">job-1</a><td>export<td><b class=s-failed>failed</b>'
    "<details><summary>bad &lt;b&gt;thing&lt;/b&gt; " + "z" * 143 + "…</summary><span>"
    '<span class="sr">The whole reason: </span>bad &lt;b&gt;thing&lt;/b&gt; ' + "z" * 200 + "</span></details>"
    "<td><progress value=1></progress> 100 %"
    f"<td>{_time('10 min ago', '2026-01-02 02:54:05')}<small>ended {_time('8 min ago', '2026-01-02 02:55:35')}"
    "</small><td>90.0 s<td>no"
    '<td><a href="jobs/job-1/report?hub=h1&amp;code=k" aria-label="Report of job job-1">report</a> '
    '<span class="muted reason">written beside the job</span>',
    # A running job without a start (its raw text shown, escaped), not ended, stalled; progress held to 0.
    '<tr><td><a href="jobs/job-2/page?hub=h1&amp;code=k">job-2</a><td>-<td><b class=s-running>running</b>'
    "<td><progress value=0></progress> 0 %<td>unknown<small>not ended</small><td>-"
    f'<td><span class="stall">stalled since {_time("4 min ago", "2026-01-02 03:00:00")}</span><td>-',
    # A cancelled job the poller has not seen: no page link (the page gives none), its raw end, its report pending
    # and its refused delivery standing out.
    "<tr><td>job-3<td>export<td><b class=s-cancelled>cancelled</b><td>-<td>-<small>ended unknown</small>"
    '<td>-<td><span class="muted" title="the poller has not seen this job">?</span>'
    '<td><span class="muted">pending</span> <strong class="reason">not written beside the job: &lt;no&gt; Write; '
    "retrying</strong>",
    # A queued job: listed, not ended, no duration.
    '<tr><td><a href="jobs/job-4/page?hub=h1">job-4</a><td>export<td><b class=s-queued>queued</b>'
    "<td><progress value=0></progress> 0 %<td>-<small>not ended</small><td>-<td>no<td>-",
    "</tbody></table></div>",
    '<p class="pager"><a href="status?hub=H1&amp;before=b&amp;code=k" rel="next" aria-label="Older jobs on H1">'
    "older jobs →</a></p></section>",
    '<section aria-labelledby="hub-h2"><h2 id="hub-h2">Hub h2</h2>',
    '<p role="alert"><strong>This hub is in trouble: its jobs could not be listed</strong> (HubUnavailable: down '
    "&lt;now&gt;); no earlier list is known.</p><p>No known jobs in the last 7 day(s).</p></section>",
    '<section aria-labelledby="hub-h3"><h2 id="hub-h3">Hub h3</h2><p>No jobs in the last 7 day(s).</p></section>',
    "</main></body></html>",
])


def test_the_page_renders_every_kind_of_row_and_section_exactly() -> None:
    snapshot = StatusSnapshot(generated_at=T, days=7.0, hubs=[
        HubSection(hub="H1", rows=ROWS, matched=9, error="UpstreamThrottled: slow <down>", last_known_age=12,
                   state_note="note <x>", list_href="jobs?hub=H1&code=k", older_href="status?hub=H1&before=b&code=k"),
        HubSection(hub="h2", error="HubUnavailable: down <now>"),
        HubSection(hub="h3"),
    ])
    page = render_status_page(snapshot, refresh_seconds=30).decode()
    assert page[page.index("<h1>"):] == EXPECTED
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "<title>IoT Hub jobs: status</title>" in page


def test_a_healthy_section_without_note_or_more_jobs_says_nothing_of_them() -> None:
    snapshot = StatusSnapshot(generated_at=T, days=0.5, hubs=[HubSection(hub="h1", rows=ROWS[2:3], matched=1)])
    page = render_status_page(snapshot, refresh_seconds=5).decode()
    for absent in ("role=\"alert\"", "in trouble", 'class="pager"', "older jobs", "newest jobs", 'class="muted">note',
                   'class="filters"'):
        assert absent not in page, absent
    assert "1 job(s) of the last 0.5 day(s) shown on 1 hub(s): 1 failed or cancelled, 0 stalled." in page
    assert "<caption>Jobs on h1, newest first (1 of 1)</caption>" in page


def test_a_continued_page_links_back_to_the_newest_and_says_where_it_starts() -> None:
    snapshot = StatusSnapshot(generated_at=T, days=7.0, hubs=[
        HubSection(hub="h1", rows=ROWS[3:], matched=3, newest_href="status?hub=h1&code=k",
                   older_href="status?hub=h1&before=c&code=k"),
        HubSection(hub="h2", newest_href="status?hub=h2"),
    ])
    page = render_status_page(snapshot, refresh_seconds=30).decode()
    assert "<caption>Jobs on h1, newest first (1 of 3 after the ones before)</caption>" in page
    assert ('<p class="pager"><a href="status?hub=h1&amp;code=k">newest jobs</a><a href="status?hub=h1&amp;'
            'before=c&amp;code=k" rel="next" aria-label="Older jobs on h1">older jobs →</a></p></section>') in page
    assert '<p>No jobs match these filters. <a href="status?hub=h2">newest jobs</a></p></section>' in page


def test_the_filters_are_links_that_keep_the_query_and_the_key_from_code_escaped() -> None:
    """Each link changes or drops one filter and keeps the rest, the continuation never, and the key only as the
    page was opened with it (`?code=`); the current choice is marked; the search text is escaped."""
    filters = ListFilters.parse({"status": "failed,cancelled", "q": 'Dev"<x>', "since": "2026-01-01T00:00:00Z"})
    query = PageQuery(hubs=(), filters=filters, rows=50, top_given=False, before=None, key='k"&')
    page = render_status_page(StatusSnapshot(generated_at=T, days=7.0, query=query, hubs=[HubSection(hub="h1")]),
                              refresh_seconds=30).decode()
    rest = "q=dev%22%3Cx%3E&amp;since=2026-01-01T00%3A00%3A00.000Z"
    key = "code=k%22%26"
    status = "status=failed%2Ccancelled"
    assert page[page.index('<p class="meta">'):page.index('<nav aria-label="Hubs">')] == "".join([
        '<p class="meta">0 job(s) matching shown on 1 hub(s): 0 failed or cancelled, 0 stalled. Updated '
        f"{_time('just now', '2026-01-02 03:04:05')}; this page refreshes every 30 s.</p>",
        '<nav class="filters" aria-label="Filters">',
        f'<span>Status: <ul><li><a href="status?{rest}&amp;{key}">any</a></li>'
        f'<li><a href="status?{status}&amp;{rest}&amp;{key}" aria-current="true">failed or cancelled</a></li>'
        f'<li><a href="status?status=running&amp;{rest}&amp;{key}">running</a></li>'
        f'<li><a href="status?status=completed&amp;{rest}&amp;{key}">completed</a></li></ul></span>',
        f'<span>Type: <ul><li><a href="status?{status}&amp;{rest}&amp;{key}" aria-current="true">any</a></li>'
        f'<li><a href="status?{status}&amp;{rest}&amp;type=import&amp;{key}">imports</a></li>'
        f'<li><a href="status?{status}&amp;{rest}&amp;type=export&amp;{key}">exports</a></li></ul></span>',
        f'<span>Since: <ul><li><a href="status?{status}&amp;q=dev%22%3Cx%3E&amp;{key}">the window</a></li>'
        f'<li><a href="status?{status}&amp;q=dev%22%3Cx%3E&amp;since=24h&amp;{key}">24 h</a></li>'
        f'<li><a href="status?{status}&amp;q=dev%22%3Cx%3E&amp;since=7d&amp;{key}">7 days</a></li></ul></span>',
        f'<span>Search: “dev&quot;&lt;x&gt;” <a href="status?{status}&amp;since=2026-01-01T00%3A00%3A00.000Z&amp;'
        f'{key}">clear</a></span>',
        f'<span>Since 2026-01-01T00:00:00.000Z <a href="status?{status}&amp;q=dev%22%3Cx%3E&amp;{key}">clear</a>'
        "</span></nav>",
    ])
    assert "<p>No jobs match these filters.</p>" in page


def test_without_filters_the_window_is_current_and_the_search_is_explained() -> None:
    query = PageQuery(hubs=(), filters=ListFilters(), rows=20, top_given=True, before=None, key=None)
    page = render_status_page(StatusSnapshot(generated_at=T, days=7.0, query=query, hubs=[]),
                              refresh_seconds=30).decode()
    assert '<li><a href="status?top=20" aria-current="true">the window</a></li>' in page
    assert '<li><a href="status?since=24h&amp;top=20">24 h</a></li>' in page
    assert ('<span class="muted">Search a job id or failure reason: add <code>&amp;q=…</code> to the address.'
            "</span></nav>") in page
    assert "code=" not in page  # no key came with `?code=`: none goes out


def test_quotes_are_escaped_in_every_attribute_and_a_cancelled_jobs_reason_and_unreadable_end_are_shown() -> None:
    row = _row('job"q', JobStatus.CANCELLED, failure_reason="stopped by hand", end_text="raw-end",
               report=ReportLink.WRITTEN, report_href='jobs/q/report?x="y', page_href='jobs/q/page?x="y')
    snapshot = StatusSnapshot(generated_at=T, days=7.0, hubs=[
        HubSection(hub='a"b', rows=[row], matched=2, older_href='status?hub="o"', newest_href='status?hub="n"')])
    page = render_status_page(snapshot, refresh_seconds=30).decode()
    assert 'id="hub-a&quot;b"' in page and 'href="#hub-a&quot;b"' in page
    assert '<a href="jobs/q/page?x=&quot;y">job&quot;q</a>' in page
    assert '<a href="jobs/q/report?x=&quot;y" aria-label="Report of job job&quot;q">report</a>' in page
    assert '<a href="status?hub=&quot;n&quot;">newest jobs</a>' in page
    assert '<a href="status?hub=&quot;o&quot;" rel="next" aria-label="Older jobs on a&quot;b">' in page
    assert "<b class=s-cancelled>cancelled</b><small>stopped by hand</small>" in page
    assert "<small>ended unknown</small>" in page
