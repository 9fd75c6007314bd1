"""The status page's HTML: a section per hub, a table of its jobs (status, progress bar, start, end, duration,
stall flag, report link), for a phone as for a desk and for a screen reader.

Job fields come from the hub's list, which was redacted when fetched (`plain`); free text (a failure reason) is
redacted again (`text`). Every value is escaped; links are relative and built from validated, URL-quoted parts.
The page refreshes itself with a meta refresh (no script: the Content-Security-Policy allows none).
"""

from __future__ import annotations

import datetime
import html

from shared.clock import UNKNOWN_TIME, utc_iso
from shared.pages.layout import document, plain, status_class, text
from shared.reports.markdown import format_duration
from shared.status.page import HubSection, JobRow, ReportLink, StatusSnapshot

MAX_REASON_CHARS = 160


def _anchor(hub: str) -> str:
    # Hub names are configured names (letters, digits, hyphens): safe in an id once escaped.
    return "hub-" + html.escape(hub.lower(), quote=True)


def render_status_page(snapshot: StatusSnapshot, *, refresh_seconds: int) -> bytes:
    days = f"{snapshot.days:g}"
    jobs = sum(len(section.rows) for section in snapshot.hubs)
    stalled = sum(1 for section in snapshot.hubs for row in section.rows if row.stalled)
    failed = sum(1 for section in snapshot.hubs for row in section.rows if row.status.value in ("failed", "cancelled"))
    body = [
        "<h1>IoT Hub import/export jobs</h1>",
        f'<p class="meta">{jobs} job(s) of the last {days} day(s) on {len(snapshot.hubs)} hub(s): {failed} failed or '
        f"cancelled, {stalled} stalled. Updated {utc_iso(snapshot.generated_at)}; this page refreshes every "
        f"{refresh_seconds} s.</p>",
        '<nav aria-label="Hubs"><ul class="hubs">',
        *(f'<li><a href="#{_anchor(s.hub)}">{plain(s.hub)}</a> ({len(s.rows)})</li>' for s in snapshot.hubs),
        "</ul></nav>",
    ]
    for section in snapshot.hubs:
        body += _section(section, days)
    return document(title="IoT Hub jobs: status", body=body, refresh_seconds=refresh_seconds)


def _section(section: HubSection, days: str) -> list[str]:
    anchor = _anchor(section.hub)
    out = [f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">Hub {plain(section.hub)}</h2>']
    if section.error is not None:
        out.append(f'<p role="alert">The hub\'s jobs could not be listed: {text(section.error)}</p></section>')
        return out
    if section.age_seconds is not None:
        out.append(f'<p class="muted">The hub call budget is spent: this list is {section.age_seconds} s old.</p>')
    if section.state_note is not None:
        out.append(f'<p class="muted">{text(section.state_note)}</p>')
    if not section.rows:
        out.append(f"<p>No jobs in the last {days} day(s).</p></section>")
        return out
    out += [
        '<div class="scroll"><table>',
        f"<caption>Jobs on {plain(section.hub)}, newest first ({len(section.rows)} of the last {days} day(s))"
        "</caption>",
        '<thead><tr><th scope="col">Job</th><th scope="col" class="hide-narrow">Type</th><th scope="col">Status</th>'
        '<th scope="col">Progress</th><th scope="col">Started, ended (UTC)</th><th scope="col">Duration</th>'
        '<th scope="col">Stalled</th><th scope="col">Report</th></tr></thead><tbody>',
    ]
    out += [_row(row) for row in section.rows]
    out.append("</tbody></table></div>")
    if section.older_hidden:
        out.append(f'<p class="muted">{section.older_hidden} older job(s) of the window are not shown: '
                   f'<a href="{html.escape(section.list_href, quote=True)}">the list route</a> has them all.</p>')
    out.append("</section>")
    return out


def _when(moment: datetime.datetime | None, raw: object) -> str:
    # A time the hub wrote in its own format reads shorter; one we cannot read (a sentinel, an overflow) is unknown.
    if moment is not None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return plain(raw) if raw is None or raw == "" else UNKNOWN_TIME


def _row(row: JobRow) -> str:
    job_id = plain(row.job_id)
    status = row.status.value
    css = status_class(status)
    reason = ""
    if row.status.value in ("failed", "cancelled"):
        failure = row.failure_reason
        if failure:
            reason = f'<span class="muted reason">{text(failure, limit=MAX_REASON_CHARS)}</span>'
    if row.progress is None:
        progress = '<span class="muted">-</span>'
    else:
        value = min(100, max(0, row.progress))
        progress = (f'<progress max="100" value="{value}" aria-label="Progress of job {job_id}">{value} %</progress>'
                    f'<span class="pct" aria-hidden="true">{value} %</span>')
    if row.stalled:
        stall = f'<span class="stall">stalled since {plain(row.stalled_since)}</span>'
    elif row.stalled is None:
        stall = '<span class="muted" title="the poller has not seen this job">?</span>'
    else:
        stall = "no"
    if row.report_href is not None:
        report = f'<a href="{html.escape(row.report_href, quote=True)}" aria-label="Report of job {job_id}">report</a>'
    elif row.report is ReportLink.PENDING:
        report = '<span class="muted">pending</span>'
    else:
        report = '<span class="muted">-</span>'
    return (
        f'<tr><td class="jobid">{job_id}</td><td class="hide-narrow">{plain(row.type)}</td>'
        f'<td><span class="status {css}">{status}</span>{reason}</td><td class="progress">{progress}</td>'
        f'<td class="when">{_when(row.started, row.start_text)}'
        f'<span class="muted ended hide-narrow">{_when(row.ended, row.end_text)}</span></td>'
        f"<td>{plain(format_duration(row.duration_seconds))}</td><td>{stall}</td><td>{report}</td></tr>"
    )
