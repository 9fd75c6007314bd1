"""The status page's HTML: the filters as links, a section per hub, a table of its jobs (status, progress bar,
start, end, duration, stall flag, report link; the job id links to the job's page) with the same columns in every
hub's table, an "older" link per hub, for a phone as for a desk and for a screen reader.

Job fields come from the hub's list, which was redacted when fetched (`plain`); free text (a failure reason) is
redacted again (`text`). Every value is escaped; links are relative and built from validated, URL-quoted parts.
The page refreshes itself with a meta refresh (no script: the Content-Security-Policy allows none, nor a form:
every filter is a link, and free text is the `q` parameter of the address).
"""

from __future__ import annotations

import datetime
import html

from shared.clock import parse_utc
from shared.jobs import NOT_ENDED
from shared.pages.layout import document, plain, status_class, text
from shared.pages.times import time_html
from shared.reports.markdown import format_duration
from shared.status.page import HubSection, JobRow, ReportLink, StatusSnapshot
from shared.status.query import PageQuery

# A failure reason longer than this opens in place (`<details>`): the summary shows its start.
MAX_REASON_CHARS = 160
# The filter links: (label, parameter, value); "" drops the parameter.
_FILTER_LINKS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Status", (("any", ""), ("failed or cancelled", "failed,cancelled"), ("running", "running"),
                ("completed", "completed"))),
    ("Type", (("any", ""), ("imports", "import"), ("exports", "export"))),
    ("Since", (("the window", ""), ("24 h", "24h"), ("7 days", "7d"))),
)
_FILTER_PARAMS = {"Status": "status", "Type": "type", "Since": "since"}


def _anchor(hub: str) -> str:
    # Hub names are configured names (letters, digits, hyphens): safe in an id once escaped.
    return "hub-" + html.escape(hub.lower(), quote=True)


def render_status_page(snapshot: StatusSnapshot, *, refresh_seconds: int) -> bytes:
    days = f"{snapshot.days:g}"
    now = snapshot.generated_at
    jobs = sum(len(section.rows) for section in snapshot.hubs)
    stalled = sum(1 for section in snapshot.hubs for row in section.rows if row.stalled)
    failed = sum(1 for section in snapshot.hubs for row in section.rows if row.status.value in ("failed", "cancelled"))
    window = "matching" if snapshot.query and snapshot.query.filtered else f"of the last {days} day(s)"
    body = [
        "<h1>IoT Hub import/export jobs</h1>",
        *_trouble_summary(snapshot),
        f'<p class="meta">{jobs} job(s) {window} shown on {len(snapshot.hubs)} hub(s): {failed} failed or '
        f"cancelled, {stalled} stalled. Updated {time_html(now, now)}; this page refreshes every "
        f"{refresh_seconds} s.</p>",
    ]
    if snapshot.query is not None:
        body += _filters(snapshot.query)
    body += [
        '<nav aria-label="Hubs"><ul class="hubs">',
        *(f'<li><a href="#{_anchor(s.hub)}">{plain(s.hub)}</a> ({len(s.rows)})</li>' for s in snapshot.hubs),
        "</ul></nav>",
    ]
    filtered = snapshot.query is not None and snapshot.query.filtered
    for section in snapshot.hubs:
        body += _section(section, days, now, filtered=filtered)
    return document(title="IoT Hub jobs: status", body=body, refresh_seconds=refresh_seconds)


def _href(link: str) -> str:
    return html.escape(link, quote=True)


def _filters(query: PageQuery) -> list[str]:
    """The filters as links (no form: the CSP's form-action is 'none'), the current one marked, and what the
    free-text search looks for with a link that drops it."""
    current = query.filters.query()
    out = ['<nav class="filters" aria-label="Filters">']
    for label, choices in _FILTER_LINKS:
        param = _FILTER_PARAMS[label]
        items = []
        for name, value in choices:
            link = query.link(drop=param) if value == "" else query.link(changes={param: value})
            chosen = current.get(param, "") == value or (param == "since" and value == "" and param not in current)
            mark = ' aria-current="true"' if chosen else ""
            items.append(f'<li><a href="{_href(link)}"{mark}>{name}</a></li>')
        out.append(f'<span>{label}: <ul>{"".join(items)}</ul></span>')
    if query.filters.text:
        out.append(f'<span>Search: “{plain(query.filters.text)}” <a href="{_href(query.link(drop="q"))}">clear'
                   "</a></span>")
    else:
        out.append('<span class="muted">Search a job id or failure reason: add <code>&amp;q=…</code> to the '
                   "address.</span>")
    if current.get("since") and current["since"] not in ("24h", "7d"):
        out.append(f'<span>Since {plain(current["since"])} <a href="{_href(query.link(drop="since"))}">clear</a>'
                   "</span>")
    out.append("</nav>")
    return out


def _section(section: HubSection, days: str, now: datetime.datetime, *, filtered: bool) -> list[str]:
    anchor = _anchor(section.hub)
    out = [f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">Hub {plain(section.hub)}</h2>']
    if section.error is not None:
        out.append(_trouble_banner(section))
    if section.state_note is not None:
        out.append(f'<p class="muted">{text(section.state_note)}</p>')
    newest = (f'<a href="{_href(section.newest_href)}">newest jobs</a>' if section.newest_href else "")
    if not section.rows:
        if newest or filtered:
            empty = "No jobs match these filters"
        else:
            empty = f"No {'known ' if section.error else ''}jobs in the last {days} day(s)"
        out.append(f"<p>{empty}.{' ' + newest if newest else ''}</p></section>")
        return out
    out += [
        '<div class="scroll"><table class="jobs">',
        f"<caption>Jobs on {plain(section.hub)}, newest first ({len(section.rows)} of {section.matched}"
        f"{' after the ones before' if newest else ''})</caption>",
        # The same columns, of the same widths (the stylesheet's `table.jobs th:nth-child`), in every hub's table.
        '<thead><tr><th scope="col">Job</th><th scope="col">Type</th><th scope="col">Status</th>'
        '<th scope="col">Progress</th><th scope="col">Started, ended</th><th scope="col">Duration</th>'
        '<th scope="col">Stalled</th><th scope="col">Report</th></tr></thead><tbody>',
    ]
    out += [_row(row, now) for row in section.rows]
    out.append("</tbody></table></div>")
    links = [newest] if newest else []
    if section.older_href:
        links.append(f'<a href="{_href(section.older_href)}" rel="next" aria-label="Older jobs on '
                     f'{plain(section.hub)}">older jobs →</a>')
    if links:
        out.append(f'<p class="pager">{"".join(links)}</p>')
    out.append("</section>")
    return out


def _reason(failure: object) -> str:
    """A failure reason whole: short ones as text, long ones cut in the summary of a `<details>` that opens in
    place (no script needed)."""
    whole = text(failure)
    short = text(failure, limit=MAX_REASON_CHARS)
    if short == whole:
        return f"<small>{whole}</small>"
    return (f'<details><summary>{short}</summary><span><span class="sr">The whole reason: </span>{whole}</span>'
            "</details>")


def _row(row: JobRow, now: datetime.datetime) -> str:
    """One job's row, kept short (a default page has 1,000 of them; issue 23: at most 300 KB): the cells' look
    comes from their column in the stylesheet (`table.jobs td:nth-child`), not from a class on every cell, and the
    optional end tags of cells and rows are left out."""
    job_id = plain(row.job_id)
    status = row.status.value
    reason = ""
    if status in ("failed", "cancelled") and row.failure_reason:
        reason = _reason(row.failure_reason)
    if row.progress is None:
        progress = "-"
    else:  # the column's header names the bar for a screen reader; the number is there as text too
        value = min(100, max(0, row.progress))
        progress = f"<progress value={value / 100:g}></progress> {value} %"
    if row.stalled:
        since = time_html(parse_utc(row.stalled_since), now, raw=row.stalled_since)
        stall = f'<span class="stall">stalled since {since}</span>'
    elif row.stalled is None:
        stall = '<span class="muted" title="the poller has not seen this job">?</span>'
    else:
        stall = "no"
    if row.report_href is not None:
        report = f'<a href="{_href(row.report_href)}" aria-label="Report of job {job_id}">report</a>'
    elif row.report is ReportLink.PENDING:
        report = '<span class="muted">pending</span>'
    else:
        report = "-"
    report += _delivery(row)
    ident = f'<a href="{_href(row.page_href)}">{job_id}</a>' if row.page_href else job_id
    if row.ended is None and not row.end_text:
        ended = ""
    elif row.ended is None and row.end_text == NOT_ENDED:  # said once, not "ended not ended"
        ended = f"<small>{NOT_ENDED}</small>"
    else:
        ended = f"<small>ended {time_html(row.ended, now, raw=row.end_text)}</small>"
    return (
        f"<tr><td>{ident}<td>{plain(row.type)}<td><b class={status_class(status)}>{status}</b>{reason}"
        f"<td>{progress}<td>{time_html(row.started, now, raw=row.start_text)}{ended}"
        f"<td>{plain(format_duration(row.duration_seconds))}<td>{stall}<td>{report}"
    )


def _delivery(row: JobRow) -> str:
    """Whether the report is beside the job, in words: a refusal stands out (the report page says what to do)."""
    if row.delivery is None:
        return ""
    words = text(row.delivery, limit=MAX_REASON_CHARS)
    if row.delivery_refused:
        return f' <strong class="reason">{words}</strong>'
    return f' <span class="muted reason">{words}</span>'


def _trouble_summary(snapshot: StatusSnapshot) -> list[str]:
    """The hubs in trouble, first thing on the page: a page must never read healthy when it is not."""
    troubled = [section for section in snapshot.hubs if section.error is not None]
    if not troubled:
        return []
    names = ", ".join(f'<a href="#{_anchor(s.hub)}">{plain(s.hub)}</a>' for s in troubled)
    return [f'<p role="alert"><strong>{len(troubled)} of {len(snapshot.hubs)} hub(s) in trouble</strong>: {names}. '
            "Their jobs could not be listed; the last known ones are shown, with their age.</p>"]


def _trouble_banner(section: HubSection) -> str:
    if section.last_known_age is not None:
        known = f"the last known jobs are shown, as listed {section.last_known_age} s ago"
    elif section.rows:
        known = "the last known jobs are shown, as the poller last recorded them"
    else:
        known = "no earlier list is known"
    return (f'<p role="alert"><strong>This hub is in trouble: its jobs could not be listed</strong> '
            f"({text(section.error)}); {known}.</p>")
