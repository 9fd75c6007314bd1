"""The report for people: Markdown rendered from the report's JSON form.

Rendered from the JSON form, so that the `.md` always says what the stored `.json` says, even when the two
blobs were written by different ticks (or versions: every field is optional here).

Every value is untrusted text (a job's fields are written by whoever may create jobs, the log lines by
whoever wrote the import file), and the `.md` may be opened in a renderer that lets raw HTML through
(GitHub, VS Code, many wikis). So every value goes through `md_text`, which makes it inert both as Markdown
and as HTML: no tag, entity, link, image, autolink, emphasis, code span, heading or table cell break can come
out of it, and it stays on one line. The `.json` keeps the (redacted) raw values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.redaction import redact_text
from shared.reports.report import stored_title
from shared.text import visible

MAX_CELL_CHARS = 4000  # the JSON's own fields are bounded; this bounds a hand-edited or older stored one

# Backslash-escaped everywhere: what starts or ends emphasis, links, images, code, headings, tables, strike-
# through and math (GitHub renders $...$).
_MARKDOWN_PUNCTUATION = frozenset("\\`*_[]()#!|~$")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Autolinks that need no punctuation above: `scheme://` and, for renderers that link bare domains
# (markdown-it's linkify), `name.tld`. A backslash before the `:` or `.` splits the text where the
# renderer looks for them. E-mail autolinks survive backslashes in cmark-gfm (GitHub), so `@` gets a
# zero-width space after it, as an entity (a literal one would be linked by markdown-it).
_SCHEME_COLON = re.compile(r":(?=/)")
_DOMAIN_DOT = re.compile(r"\.(?=[A-Za-z])")


def md_text(value: object) -> str:
    """`value` as inert, one-line Markdown text: redacted, HTML-escaped, Markdown-escaped."""
    if value is None:
        return "-"
    text = redact_text(str(value))
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    text = visible(text)  # one line, and what a reader sees is what it says
    out: list[str] = []
    for ch in text:
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _MARKDOWN_PUNCTUATION:
            out.append("\\" + ch)
        elif ch == "@":
            out.append("@&#8203;")
        else:
            out.append(ch)
    escaped = "".join(out)
    escaped = _SCHEME_COLON.sub(r"\\:", escaped)
    return _DOMAIN_DOT.sub(r"\\.", escaped)


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else md_text(value)


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report for people, from its JSON form (`FailureReport.to_json()` or the stored blob)."""
    kind = report.get("kind") if report.get("kind") in ("failure", "import") else "failure"
    lines = [
        f"# IoT Hub {md_text(stored_title(report))}",
        "",
        "| | |",
        "|---|---|",
        f"| Report | {'import report' if kind == 'import' else 'failure report'} |",
        f"| Hub | {md_text(report.get('hub'))} |",
        f"| Job id | {md_text(report.get('jobId'))} |",
        f"| Type | {md_text(report.get('type'))} |",
        f"| Status | **{md_text(report.get('status'))}**{' (cancelled)' if report.get('cancelled') else ''} |",
        f"| Started (UTC) | {md_text(report.get('startTimeUtc'))} |",
        f"| Ended (UTC) | {md_text(report.get('endTimeUtc'))} |",
        f"| Duration | {format_duration(report.get('durationSeconds'))} |",
        f"| Storage authentication | {md_text(report.get('storageAuthenticationType'))} |",
        f"| Output container | {md_text(report.get('outputContainer'))} |",
        "",
        "## What probably went wrong" if kind == "failure" else "## What happened",
        "",
    ]
    hint = report.get("hint")
    if isinstance(hint, Mapping):
        lines += [f"**{md_text(hint.get('key'))}**: {md_text(hint.get('text'))}", ""]
    if report.get("monitorNote"):  # the monitor gave up on the job (none in reports of an earlier version)
        lines += [f"**The monitor**: {md_text(report.get('monitorNote'))}", ""]
    if kind == "failure":
        lines += ["## Failure reason", ""]
        reason = report.get("failureReason")
        if isinstance(reason, Mapping):
            lines += [
                f"- Code: {md_text(reason.get('code'))} ({md_text(reason.get('number'))})",
                f"- Text: {md_text(reason.get('text'))}",
                f"- As the hub wrote it: {md_text(reason.get('raw'))}",
                "",
            ]
        else:
            lines += ["The hub gave no failure reason.", ""]
    lines += _import_errors_section(report)
    lines += ["## Timeline", "", "| # | Status | Progress | Polled (UTC) |", "|---|---|---|---|"]
    timeline = report.get("timeline")
    for entry in timeline if isinstance(timeline, list) else []:
        if isinstance(entry, Mapping):
            lines.append(
                f"| {md_text(entry.get('seq'))} | {md_text(entry.get('status'))} | {md_text(entry.get('progress'))} "
                f"| {md_text(entry.get('polledAtUtc'))} |"
            )
    lines += ["", f"_Report generated {md_text(report.get('generatedAtUtc'))} by the IoT Hub job monitor._", ""]
    return "\n".join(lines)


def _import_errors_section(report: Mapping[str, Any]) -> list[str]:
    if report.get("type") != "import" and report.get("importErrors") is None:
        return []
    lines = ["## Rejected lines (the errors log)", ""]
    note = report.get("importErrorsNote")
    if note:
        lines += [f"_{md_text(note)}_", ""]
    summary = report.get("importErrors")
    if not isinstance(summary, Mapping):
        return lines
    total = summary.get("totalLines")
    inputs = report.get("inputLines")
    of_inputs = f" of {_number(inputs)} input lines" if isinstance(inputs, int) else ""
    lines += [f"{_number(total)} line(s) rejected{of_inputs}.", ""]
    codes = summary.get("errorCodes")
    if isinstance(codes, list) and codes:
        lines += ["| Code | Name | Lines | What it means | What to do |", "|---|---|---|---|---|"]
        for row in codes:
            if isinstance(row, Mapping):
                lines.append(
                    f"| {md_text(row.get('code'))} | {md_text(row.get('name'))} | {_number(row.get('lines'))} "
                    f"| {md_text(row.get('meaning'))} | {md_text(row.get('whatToDo'))} |"
                )
    else:  # a version-1 report: counts only
        lines += ["| Error code | Lines |", "|---|---|"]
        counts = summary.get("countsByErrorCode")
        for code, count in (counts.items() if isinstance(counts, Mapping) else []):
            lines.append(f"| {md_text(code)} | {_number(count)} |")
    entries = summary.get("firstEntries")
    if isinstance(entries, list) and entries:
        lines += ["", f"First {len(entries)} lines (keys redacted):", "",
                  "| Line | Device | Code | Error text |", "|---|---|---|---|"]
        for entry in entries:
            if isinstance(entry, Mapping):
                lines.append(
                    f"| {md_text(entry.get('line'))} | {md_text(entry.get('deviceId'))} "
                    f"| {md_text(entry.get('errorCode'))} | {md_text(entry.get('errorStatus') or entry.get('note'))} |"
                )
    lines.append("")
    return lines


def format_duration(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    seconds = float(value)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"
