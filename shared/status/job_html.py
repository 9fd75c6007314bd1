"""One job's page (shared/status/job_page.py): a summary, the timeline as a chart and a table, the files beside the
job (snapshots, latest.json, the report), the report, and the job's JSON as get_job answers it.

Every value is untrusted: escaped through shared.pages.layout (the job's JSON is get_job's answer, redacted; the
report copy was redacted when read). Links to the blobs are the container's URL without any SAS, so they open
with the reader's own access to the storage account; links to the app's routes are relative and URL-quoted.
A section with nothing to show says why, in one sentence, or is left out.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Mapping
from typing import Any

from shared.clock import parse_utc
from shared.jobs import NOT_ENDED, JobStatus, job_end, job_end_text, job_progress
from shared.pages.layout import document, plain, status_class, text
from shared.pages.times import time_html
from shared.poller.documents import LATEST_BLOB, parse_snapshot_name
from shared.reports.html import report_title
from shared.reports.markdown import format_duration
from shared.reports.timeline_svg import render_timeline_svg
from shared.status.job_page import FolderBlob, JobView

MAX_TIMELINE_ROWS = 500
# The job's JSON on the page (get_job's answer is at most MAX_JOB_BYTES anyway).
MAX_JSON_LINES = 400
MAX_JSON_LINE_CHARS = 2000


def _href(link: str) -> str:
    return html.escape(link, quote=True)


def _row(label: str, value: str, *, css: str = "") -> str:
    cell = f'<td class="{css}">' if css else "<td>"
    return f'<tr><th scope="row">{label}</th>{cell}{value}</td></tr>'


def _query(view: JobView) -> str:
    return urllib.parse.urlencode({"hub": view.hub, **({"code": view.key} if view.key else {})})


def timeline_of(blobs: list[FolderBlob]) -> list[dict[str, Any]]:
    """The snapshots of the folder as timeline entries (seq, status, progress, polledAtUtc), in order."""
    entries = []
    for blob in blobs:
        parsed = parse_snapshot_name(blob.name)
        if parsed is None:
            continue
        seq, status, progress = parsed
        entries.append({"seq": seq, "status": status, "progress": progress, "polledAtUtc": blob.polled_at,
                        "blob": blob})
    return sorted(entries, key=lambda entry: int(entry["seq"]))


def render_job_page(view: JobView) -> bytes:
    job = view.job
    now = view.generated_at
    job_id = plain(view.job_id)
    status = JobStatus.parse(job.get("status")).value
    # A sentinel end (DateTime.MinValue / MaxValue) is no end: "not ended", no duration (shared/jobs.py).
    started, ended = parse_utc(job.get("startTimeUtc")), job_end(job)
    duration = (ended - started).total_seconds() if started and ended else None
    progress = job_progress(job)
    back = "../../status?" + urllib.parse.urlencode(
        {"hub": view.hub, **({"code": view.key} if view.key else {})})
    body = [
        f'<nav class="muted"><a href="{_href(back)}">← All jobs on {plain(view.hub)}</a></nav>',
        f"<h1>Job {job_id}</h1>",
        '<div class="scroll"><table><caption>Summary</caption><tbody>',
        _row("Hub", plain(view.hub)),
        _row("Job id", job_id, css="id"),
        _row("Type", plain(job.get("type"))),
        _row("Status", f'<span class="status {status_class(status)}">{plain(job.get("status"))}</span>'),
        _row("Progress", f"{progress} %" if progress is not None else "-"),
        _row("Started", time_html(started, now, raw=job.get("startTimeUtc"))),
        _row("Ended", NOT_ENDED if job_end_text(job) == NOT_ENDED else time_html(ended, now, raw=job_end_text(job))),
        _row("Duration", plain(format_duration(duration))),
    ]
    if job.get("failureReason"):
        body.append(_row("Failure reason", text(job.get("failureReason")), css="mono"))
    body.append("</tbody></table></div>")
    body += _report(view)
    entries = timeline_of(view.blobs)
    body += _timeline(entries, view.folder_note)
    body += _files(view, entries)
    body += [
        "<h2>The job as get_job answers it</h2>",
        f'<pre class="json">{_json_lines(view.job_json)}</pre>',
        f'<p class="meta">Page made {time_html(now, now)} by the IoT Hub job monitor.</p>',
    ]
    return document(title=f"IoT Hub job {job_id}", body=body)


def _json_lines(value: str) -> str:
    # json.dumps escaped every control and non-ASCII character: each line is plain ASCII, escaped here for HTML.
    lines = value.splitlines()
    shown = [plain(line, empty="", limit=MAX_JSON_LINE_CHARS) for line in lines[:MAX_JSON_LINES]]
    if len(lines) > MAX_JSON_LINES:
        shown.append(f"… {len(lines) - MAX_JSON_LINES} more line(s): GET /api/jobs/{{jobId}} has them all")
    return "\n".join(shown)


def _report(view: JobView) -> list[str]:
    if view.report is None:
        if view.report_note:
            return ["<h2>Report</h2>", f'<p role="alert">{text(view.report_note)}</p>']
        return []  # none needed, or none yet: the summary says the status
    # From /api/status/jobs/{jobId} to /api/status/jobs/{jobId}/report.
    link = f"{urllib.parse.quote(view.job_id, safe='')}/report?{_query(view)}"
    hint = view.report.get("hint")
    out = ["<h2>Report</h2>",
           f'<p><a href="{_href(link)}">{text(report_title(view.report))}</a></p>']
    if isinstance(hint, Mapping) and hint.get("text"):
        out.append(f"<p><strong>{text(hint.get('key'))}</strong>: {text(hint.get('text'))}</p>")
    return out


def _timeline(entries: list[dict[str, Any]], note: str | None) -> list[str]:
    out = ["<h2>Timeline</h2>"]
    if not entries:
        out.append(f'<p class="muted">No snapshot to draw: {text(note or "the poller has written none yet")}.</p>')
        return out
    out.append(render_timeline_svg(entries, chart_id="job-timeline"))
    out.append('<div class="scroll"><table><caption>What the poller saw</caption><thead><tr>'
               '<th scope="col">#</th><th scope="col">Status</th><th scope="col">Progress</th>'
               '<th scope="col">Polled (UTC)</th></tr></thead><tbody>')
    for entry in entries[:MAX_TIMELINE_ROWS]:
        blob: FolderBlob = entry["blob"]
        seq = f'<a href="{_href(blob.url)}">{int(entry["seq"])}</a>'
        shown = "-" if entry["progress"] is None else f"{entry['progress']} %"
        out.append(f'<tr><td>{seq}</td><td><span class="status {status_class(entry["status"])}">'
                   f"{plain(entry['status'])}</span></td><td>{shown}</td><td>{plain(entry['polledAtUtc'])}</td></tr>")
    out.append("</tbody></table></div>")
    return out


def _files(view: JobView, entries: list[dict[str, Any]]) -> list[str]:
    """latest.json and the report's blobs beside the job (the snapshots are linked from the timeline's table)."""
    others = [blob for blob in view.blobs if parse_snapshot_name(blob.name) is None]
    if not others and view.folder_url is None:
        return []
    out = ["<h2>Beside the job</h2>"]
    if view.folder_url is not None:
        out.append(f'<p>Folder <a href="{_href(view.folder_url)}" class="mono">{plain(view.folder_url)}</a>: '
                   f"{len(entries)} snapshot(s). Links open with your own access to the storage account.</p>")
    if others:
        out.append("<ul>")
        for blob in others:
            label = "latest.json (the newest snapshot and the stall flag)" if blob.name.endswith(
                "/" + LATEST_BLOB) else blob.name.rsplit("/", 1)[-1]
            out.append(f'<li><a href="{_href(blob.url)}">{plain(label)}</a></li>')
        out.append("</ul>")
    delivered = any(blob.name.endswith(("report.json", "report.md")) for blob in others)
    if view.report is not None:
        out.append(f"<p>The report beside the job: {'written' if delivered else 'not found in the folder'}.</p>")
    return out
