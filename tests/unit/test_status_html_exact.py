"""The status page's HTML, exactly, from a snapshot built by hand: the summary line, the hubs' navigation, a
section with rows of every kind (a failed job with a long marked-up reason and a report link, a stalled job
without a start, a cancelled job the poller has not seen with its report pending), a hub whose list failed and
a hub without jobs. Written for the mutants `make mutate` left alive in shared/status/html.py."""

from __future__ import annotations

import datetime
from typing import Any

from shared.jobs import JobStatus
from shared.status.html import render_status_page
from shared.status.page import HubSection, JobRow, ReportLink, StatusSnapshot

T = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
REASON = "bad <b>thing</b> " + "z" * 200  # 217 characters: cut to 160, then an ellipsis


def _row(job_id: str, status: JobStatus, **fields: Any) -> JobRow:
    values: dict[str, Any] = {
        "job_id": job_id, "type": "export", "status": status, "progress": None, "started": None, "ended": None,
        "start_text": None, "end_text": None, "stalled": False, "stalled_since": None, "report": ReportLink.NONE,
        "report_href": None, **fields,
    }
    return JobRow(**values)


ROWS = [
    _row("job-1", JobStatus.FAILED, progress=140, started=T, ended=T + datetime.timedelta(seconds=90),
         start_text="x", end_text="y", report=ReportLink.WRITTEN, report_href="jobs/job-1/report?hub=h1&code=k",
         failure_reason=REASON),
    _row("job-2", JobStatus.RUNNING, progress=-5, start_text="<i>when</i>", stalled=True,
         stalled_since="2026-01-02T03:00:00Z", type=None),
    _row("job-3", JobStatus.CANCELLED, stalled=None, report=ReportLink.PENDING, failure_reason=""),
]

EXPECTED = "".join([
    "<h1>IoT Hub import/export jobs</h1>",
    '<p class="meta">3 job(s) of the last 7 day(s) on 3 hub(s): 2 failed or cancelled, 1 stalled. '
    "Updated 2026-01-02T03:04:05.000Z; this page refreshes every 30 s.</p>",
    '<nav aria-label="Hubs"><ul class="hubs"><li><a href="#hub-h1">H1</a> (3)</li><li><a href="#hub-h2">h2</a> (0)'
    '</li><li><a href="#hub-h3">h3</a> (0)</li></ul></nav>',
    '<section aria-labelledby="hub-h1"><h2 id="hub-h1">Hub H1</h2>',
    '<p class="muted">The hub call budget is spent: this list is 12 s old.</p>',
    '<p class="muted">note &lt;x&gt;</p>',
    '<div class="scroll"><table><caption>Jobs on H1, newest first (3 of the last 7 day(s))</caption><thead>',
    '<tr><th scope="col">Job</th><th scope="col" class="hide-narrow">Type</th><th scope="col">Status</th>'
    '<th scope="col">Progress</th><th scope="col">Started, ended (UTC)</th><th scope="col">Duration</th>'
    '<th scope="col">Stalled</th><th scope="col">Report</th></tr></thead><tbody>',
    '<tr><td class="jobid">job-1</td><td class="hide-narrow">export</td><td><span class="status s-failed">failed'
    '</span><span class="muted reason">bad &lt;b&gt;thing&lt;/b&gt; ' + "z" * 143 + "…</span></td>"
    '<td class="progress"><progress max="100" value="100" aria-label="Progress of job job-1">100 %</progress>'
    '<span class="pct" aria-hidden="true">100 %</span></td><td class="when">2026-01-02 03:04:05'
    '<span class="muted ended hide-narrow">2026-01-02 03:05:35</span></td><td>90.0 s</td><td>no</td>'
    '<td><a href="jobs/job-1/report?hub=h1&amp;code=k" aria-label="Report of job job-1">report</a></td></tr>',
    '<tr><td class="jobid">job-2</td><td class="hide-narrow">-</td><td><span class="status s-running">running'
    '</span></td><td class="progress"><progress max="100" value="0" aria-label="Progress of job job-2">0 %'
    '</progress><span class="pct" aria-hidden="true">0 %</span></td><td class="when">&lt;i&gt;when&lt;/i&gt;'
    '<span class="muted ended hide-narrow">-</span></td><td>-</td>'
    '<td><span class="stall">stalled since 2026-01-02T03:00:00Z</span></td><td><span class="muted">-</span></td>'
    "</tr>",
    '<tr><td class="jobid">job-3</td><td class="hide-narrow">export</td><td><span class="status s-cancelled">'
    'cancelled</span></td><td class="progress"><span class="muted">-</span></td><td class="when">-'
    '<span class="muted ended hide-narrow">-</span></td><td>-</td>'
    '<td><span class="muted" title="the poller has not seen this job">?</span></td>'
    '<td><span class="muted">pending</span></td></tr></tbody></table></div>',
    '<p class="muted">3 older job(s) of the window are not shown: <a href="jobs?hub=H1&amp;code=k">the list route'
    "</a> has them all.</p></section>",
    '<section aria-labelledby="hub-h2"><h2 id="hub-h2">Hub h2</h2>',
    "<p role=\"alert\">The hub's jobs could not be listed: HubUnavailable: down &lt;now&gt;</p></section>",
    '<section aria-labelledby="hub-h3"><h2 id="hub-h3">Hub h3</h2><p>No jobs in the last 7 day(s).</p></section>',
    "</main></body></html>",
])


def test_the_page_renders_every_kind_of_row_and_section_exactly() -> None:
    snapshot = StatusSnapshot(generated_at=T, days=7.0, hubs=[
        HubSection(hub="H1", rows=ROWS, older_hidden=3, state_note="note <x>", age_seconds=12,
                   list_href="jobs?hub=H1&code=k"),
        HubSection(hub="h2", error="HubUnavailable: down <now>"),
        HubSection(hub="h3"),
    ])
    page = render_status_page(snapshot, refresh_seconds=30).decode()
    assert page[page.index("<h1>"):] == EXPECTED
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "<title>IoT Hub jobs: status</title>" in page


def test_a_section_without_age_note_or_hidden_jobs_says_nothing_of_them() -> None:
    snapshot = StatusSnapshot(generated_at=T, days=0.5, hubs=[HubSection(hub="h1", rows=ROWS[2:])])
    page = render_status_page(snapshot, refresh_seconds=5).decode()
    assert "budget is spent" not in page and "older job(s)" not in page and 'class="muted">note' not in page
    assert "1 job(s) of the last 0.5 day(s) on 1 hub(s): 1 failed or cancelled, 0 stalled." in page
    assert "<caption>Jobs on h1, newest first (1 of the last 0.5 day(s))</caption>" in page


def test_quotes_are_escaped_in_every_attribute_and_a_cancelled_jobs_reason_and_raw_end_are_shown() -> None:
    row = _row("job-q", JobStatus.CANCELLED, failure_reason="stopped by hand", end_text="raw-end",
               report=ReportLink.WRITTEN, report_href='jobs/q/report?x="y')
    snapshot = StatusSnapshot(generated_at=T, days=7.0, hubs=[
        HubSection(hub='a"b', rows=[row], older_hidden=1, list_href='jobs?hub="l"')])
    page = render_status_page(snapshot, refresh_seconds=30).decode()
    assert 'id="hub-a&quot;b"' in page and 'href="#hub-a&quot;b"' in page
    assert 'href="jobs/q/report?x=&quot;y"' in page and 'href="jobs?hub=&quot;l&quot;"' in page
    assert '<span class="muted reason">stopped by hand</span>' in page
    assert '<span class="muted ended hide-narrow">raw-end</span>' in page
