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
from shared.reports.delivery import delivery_rows
from shared.reports.failure_reasons import Hint
from shared.reports.report import stored_title
from shared.text import visible

MAX_CELL_CHARS = 4000  # the JSON's own fields are bounded; this bounds a hand-edited or older stored one

# Backslash-escaped wherever they stand: what starts or ends emphasis, links, images, code, headings, tables,
# strikethrough and math (GitHub renders $...$). Not `(`, `)` or `!`: they make a link or an image only after a
# `]` or before a `[`, both escaped. Not `_` between two letters or digits: CommonMark never opens or closes
# emphasis there (`import_errors`, `dev_1` stay as written).
_MARKDOWN_PUNCTUATION = frozenset("\\`*[]#|~$")
# `&` only where it would start a character reference (`&lt;`, `&#60;`): `?sv=1&sig=x` stays readable.
_REFERENCE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_HTML = {"<": "&lt;", ">": "&gt;"}
# Autolinks that need no punctuation above: `scheme://` (a backslash before the `:`) and, for renderers that link
# bare domains (markdown-it's linkify), `www.` and a name ending in a top-level domain linkify-it knows (a backslash
# before that dot); `devices.txt` or `a.b.example` are no link anywhere, and stay as written. E-mail autolinks
# survive backslashes in cmark-gfm (GitHub), so `@` gets a zero-width space after it, as an entity (a literal one
# would be linked by markdown-it).
_SCHEME_COLON = re.compile(r":(?=/)")
_TLDS = ("biz|com|edu|gov|net|org|pro|web|xxx|aero|asia|coop|info|museum|name|shop|"
         "[a-z]{2}")  # linkify-it's default list and every two-letter (country) domain
_DOMAIN_DOT = re.compile(rf"(?i)\.(?=(?:{_TLDS})(?![a-z0-9-]))|(?<=www)\.")


def md_text(value: object) -> str:
    """`value` as inert, one-line Markdown text: redacted, HTML-escaped, Markdown-escaped where Markdown needs it."""
    if value is None:
        return "-"
    text = redact_text(str(value))
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    text = visible(text)  # one line, and what a reader sees is what it says
    text = _REFERENCE.sub("&amp;", text)
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _MARKDOWN_PUNCTUATION or (ch == "_" and not _between_word_characters(text, i)):
            out.append("\\" + ch)
        elif ch == "@":
            out.append("@&#8203;")
        else:
            out.append(ch)
    escaped = "".join(out)
    escaped = _SCHEME_COLON.sub(r"\\:", escaped)
    return _DOMAIN_DOT.sub(r"\\.", escaped)


def _between_word_characters(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()


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
        *(f"| {label} | {md_text(value)} |" for label, value in delivery_rows(report)),
        "",
        "## What probably went wrong" if kind == "failure" else "## What happened",
        "",
    ]
    hint = report.get("hint")
    reason = report.get("failureReason")
    if isinstance(hint, Mapping):
        lines += [f"**{md_text(hint.get('key'))}**: {md_text(hint.get('text'))}", ""]
        if hint.get("key") == Hint.UNKNOWN.key and isinstance(reason, Mapping):
            # No rule fits: the hub's own words are all there is, so they come first.
            lines += [f"**As the hub wrote it:** {md_text(reason.get('raw'))}", ""]
    if report.get("monitorNote"):  # the monitor gave up on the job (none in reports of an earlier version)
        lines += [f"**The monitor**: {md_text(report.get('monitorNote'))}", ""]
    if kind == "failure":
        lines += ["## Failure reason", ""]
        if isinstance(reason, Mapping):
            family = f", HTTP family {md_text(reason.get('family'))}" if reason.get("family") else ""
            lines += [
                f"- Code: {md_text(reason.get('code'))} ({md_text(reason.get('number'))}{family})",
                f"- Text: {md_text(reason.get('text'))}",
                f"- As the hub wrote it: {md_text(reason.get('raw'))}",
                "",
            ]
        else:
            lines += ["The hub gave no failure reason.", ""]
    lines += _import_errors_section(report)
    lines += ["## Timeline", ""]
    timeline = report.get("timeline")
    entries = [entry for entry in (timeline if isinstance(timeline, list) else []) if isinstance(entry, Mapping)]
    if not entries:  # no empty table (issue 23): say so, as the report page does
        lines.append("No progress was recorded for this job.")
    else:
        lines += ["| # | Status | Progress | Polled (UTC) |", "|---|---|---|---|"]
    for entry in entries:
        lines.append(
            f"| {md_text(entry.get('seq'))} | {md_text(entry.get('status'))} | {md_text(entry.get('progress'))} "
            f"| {md_text(entry.get('polledAtUtc'))} |"
        )
    lines += ["", f"_Report generated {md_text(report.get('generatedAtUtc'))} by the IoT Hub job monitor._", ""]
    return "\n".join(lines)


def _import_errors_section(report: Mapping[str, Any]) -> list[str]:
    note = report.get("importErrorsNote")
    if not note and not isinstance(report.get("importErrors"), Mapping):
        return []  # nothing was read and nothing is to be said: no empty heading
    lines = ["## Rejected lines (the errors log)", ""]
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
                    f"| {md_text(entry.get('errorCode'))} | {_problem(entry)}"
                    f"{md_text(entry.get('errorStatus') or entry.get('note'))} |"
                )
    lines.append("")
    return lines


def _problem(entry: Mapping[str, Any]) -> str:
    """"**field a.b: value ...** — " when the line's tail names the field at fault (a 400012 line)."""
    problem = entry.get("problem")
    return f"**{md_text(problem)}** — " if problem else ""


def format_duration(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    seconds = float(value)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"
