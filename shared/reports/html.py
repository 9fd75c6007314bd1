"""The report as a web page: a summary table, what probably went wrong, the import's error codes explained, the
first rejected lines with their device ids, and the timeline as an inline SVG chart with its table.

Rendered from the report's JSON form (the stored copy), like markdown.py, so it says what the `.json` says; every
field is optional here (older report versions, hand-edited copies). Every value is untrusted and goes through
`shared.pages.layout.text` (redacted, escaped); the page loads nothing and runs nothing (layout.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.pages.layout import document, status_class, text
from shared.reports.delivery import delivery_rows
from shared.reports.failure_reasons import Hint
from shared.reports.import_errors import explain_code
from shared.reports.markdown import format_duration
from shared.reports.report import stored_title
from shared.reports.timeline_svg import render_timeline_svg, timeline_rows

# Rows of the first-lines table shown (the stored report keeps a bounded number anyway).
MAX_ENTRY_ROWS = 200
MAX_TIMELINE_ROWS = 500


def _status(value: object) -> str:
    name = value.lower() if isinstance(value, str) else ""
    css = status_class(name)
    return f'<span class="status {css}">{text(value)}</span>'


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else text(value)


def _row(label: str, value: str, *, css: str = "") -> str:
    cell = f'<td class="{css}">' if css else "<td>"
    return f'<tr><th scope="row">{label}</th>{cell}{value}</td></tr>'


def report_title(report: Mapping[str, Any]) -> str:
    return f"IoT Hub {stored_title(report)}"


def render_html(report: Mapping[str, Any], *, status_page: str | None = None) -> bytes:
    """The report page. `status_page`: a relative link back to the status page (already escaped), if any."""
    kind = report.get("kind") if report.get("kind") in ("failure", "import") else "failure"
    title = text(report_title(report))
    body = [
        f'<nav class="muted"><a href="{status_page}">← All jobs</a></nav>' if status_page else "",
        f"<h1>{title}</h1>",
        '<div class="scroll"><table><caption>Summary</caption><tbody>',
        _row("Report", "import report" if kind == "import" else "failure report"),
        _row("Hub", text(report.get("hub"))),
        _row("Job id", text(report.get("jobId")), css="id"),
        _row("Type", text(report.get("type"))),
        _row("Status", _status(report.get("status")) + (" (cancelled)" if report.get("cancelled") is True else "")),
        _row("Started (UTC)", text(report.get("startTimeUtc"))),
        _row("Ended (UTC)", text(report.get("endTimeUtc"))),
        _row("Duration", text(format_duration(report.get("durationSeconds")))),
        _row("Storage authentication", text(report.get("storageAuthenticationType"))),
        _row("Output container", text(report.get("outputContainer")), css="mono"),
        *(_row(label, text(value)) for label, value in delivery_rows(report)),
        "</tbody></table></div>",
        f"<h2>{'What probably went wrong' if kind == 'failure' else 'What happened'}</h2>",
    ]
    hint = report.get("hint")
    reason = report.get("failureReason")
    if isinstance(hint, Mapping):
        body.append(f"<p><strong>{text(hint.get('key'))}</strong>: {text(hint.get('text'))}</p>")
        if hint.get("key") == Hint.UNKNOWN.key and isinstance(reason, Mapping):
            # No rule fits: the hub's own words are all there is, so they come first.
            body.append(f'<p><strong>As the hub wrote it:</strong> <span class="mono">{text(reason.get("raw"))}'
                        "</span></p>")
    if report.get("monitorNote"):  # the monitor gave up on the job (none in reports of an earlier version)
        body.append(f"<p><strong>The monitor</strong>: {text(report.get('monitorNote'))}</p>")
    if kind == "failure":
        body.append("<h2>Failure reason</h2>")
        if isinstance(reason, Mapping):
            family = f", HTTP family {text(reason.get('family'))}" if reason.get("family") else ""
            body += [
                "<ul>",
                f"<li>Code: {text(reason.get('code'))} ({text(reason.get('number'))}{family})</li>",
                f"<li>Text: {text(reason.get('text'))}</li>",
                f'<li>As the hub wrote it: <span class="mono">{text(reason.get("raw"))}</span></li>',
                "</ul>",
            ]
        else:
            body.append("<p>The hub gave no failure reason.</p>")
    body += _import_errors(report)
    body += _timeline(report)
    body.append(f'<p class="meta">Report generated {text(report.get("generatedAtUtc"))} by the IoT Hub job '
                "monitor.</p>")
    return document(title=title, body=body)


def _import_errors(report: Mapping[str, Any]) -> list[str]:
    note = report.get("importErrorsNote")
    if not note and not isinstance(report.get("importErrors"), Mapping):
        return []  # nothing was read and nothing is to be said: no empty heading
    out = ["<h2>Rejected lines (the errors log)</h2>"]
    if note:
        out.append(f"<p><em>{text(note)}</em></p>")
    summary = report.get("importErrors")
    if not isinstance(summary, Mapping):
        return out
    inputs = report.get("inputLines")
    of_inputs = f" of {_number(inputs)} input lines" if isinstance(inputs, int) and not isinstance(inputs, bool) else ""
    out.append(f"<p>{_number(summary.get('totalLines'))} line(s) rejected{of_inputs}.</p>")
    rows = summary.get("errorCodes")
    if not isinstance(rows, list) or not rows:  # a version-1 report: counts only, explained here
        counts = summary.get("countsByErrorCode")
        rows = [explain_code(str(code), count if isinstance(count, int) else 0)
                for code, count in (counts.items() if isinstance(counts, Mapping) else [])]
    if rows:
        out += [
            '<div class="scroll"><table><caption>Error codes, what they mean and what to do</caption><thead><tr>'
            '<th scope="col">Code</th><th scope="col">Name</th><th scope="col">Lines</th>'
            '<th scope="col">What it means</th><th scope="col">What to do</th></tr></thead><tbody>',
        ]
        for row in rows:
            if isinstance(row, Mapping):
                out.append(
                    f'<tr><td class="code">{text(row.get("code"))}</td><td>{text(row.get("name"))}</td>'
                    f"<td>{_number(row.get('lines'))}</td><td>{text(row.get('meaning'))}</td>"
                    f"<td>{text(row.get('whatToDo'))}</td></tr>"
                )
        out.append("</tbody></table></div>")
    entries = summary.get("firstEntries")
    if isinstance(entries, list) and entries:
        shown = [entry for entry in entries[:MAX_ENTRY_ROWS] if isinstance(entry, Mapping)]
        out += [
            f'<div class="scroll"><table><caption>First {len(shown)} rejected lines (keys redacted)</caption>'
            '<thead><tr><th scope="col">Line</th><th scope="col">Device</th><th scope="col">Code</th>'
            '<th scope="col">Error text</th></tr></thead><tbody>',
        ]
        for entry in shown:
            out.append(
                f"<tr><td>{text(entry.get('line'))}</td><td class=\"id\">{text(entry.get('deviceId'))}</td>"
                f'<td class="code">{text(entry.get("errorCode"))}</td>'
                f"<td>{_problem(entry)}{text(entry.get('errorStatus') or entry.get('note'))}</td></tr>"
            )
        out.append("</tbody></table></div>")
    return out


def _problem(entry: Mapping[str, Any]) -> str:
    """The field a 400012 line's tail names, first and in bold (markdown.py does the same)."""
    problem = entry.get("problem")
    return f"<strong>{text(problem)}</strong> — " if problem else ""


def _timeline(report: Mapping[str, Any]) -> list[str]:
    timeline = report.get("timeline")
    out = ["<h2>Timeline</h2>", render_timeline_svg(timeline)]
    rows = timeline_rows(timeline)[:MAX_TIMELINE_ROWS]
    if rows:
        out.append('<div class="scroll"><table><caption>What the poller saw</caption><thead><tr>'
                   '<th scope="col">#</th><th scope="col">Status</th><th scope="col">Progress</th>'
                   '<th scope="col">Polled (UTC)</th></tr></thead><tbody>')
        for entry in rows:
            out.append(f"<tr><td>{text(entry.get('seq'))}</td><td>{_status(entry.get('status'))}</td>"
                       f"<td>{text(entry.get('progress'))}</td><td>{text(entry.get('polledAtUtc'))}</td></tr>")
        out.append("</tbody></table></div>")
    return out
