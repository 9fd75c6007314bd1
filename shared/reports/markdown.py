"""The report for people: Markdown rendered from the report's JSON form.

Rendered from the JSON form, so that `failure-report.md` always says what the stored `failure-report.json`
says, even when the two blobs were written by different ticks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.redaction import redact_text


def _cell(value: object) -> str:
    """A Markdown table cell: one line, pipes escaped, redacted."""
    if value is None:
        return "-"
    text = redact_text(str(value)).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text.replace("`", "'")


def _code(value: object) -> str:
    return f"`{_cell(value)}`" if value is not None else "-"


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report for people, from its JSON form (`FailureReport.to_json()` or the stored blob)."""
    status = str(report.get("status"))
    title = "cancelled" if report.get("cancelled") else "failed"
    lines = [
        f"# IoT Hub {_cell(report.get('type'))} job {title}: {_code(report.get('jobId'))}",
        "",
        "| | |",
        "|---|---|",
        f"| Hub | {_cell(report.get('hub'))} |",
        f"| Job id | {_code(report.get('jobId'))} |",
        f"| Type | {_cell(report.get('type'))} |",
        f"| Status | **{_cell(status)}**{' (cancelled)' if report.get('cancelled') else ''} |",
        f"| Started (UTC) | {_cell(report.get('startTimeUtc'))} |",
        f"| Ended (UTC) | {_cell(report.get('endTimeUtc'))} |",
        f"| Duration | {_duration(report.get('durationSeconds'))} |",
        f"| Storage authentication | {_cell(report.get('storageAuthenticationType'))} |",
        f"| Output container | {_cell(report.get('outputContainer'))} |",
        "",
        "## What probably went wrong",
        "",
    ]
    hint = report.get("hint")
    if isinstance(hint, Mapping):
        lines += [f"**{_cell(hint.get('key'))}**: {_cell(hint.get('text'))}", ""]
    lines += ["## Failure reason", ""]
    reason = report.get("failureReason")
    if isinstance(reason, Mapping):
        lines += [
            f"- Code: {_code(reason.get('code'))} ({_cell(reason.get('number'))})",
            f"- Text: {_cell(reason.get('text'))}",
            "",
            "```",
            redact_text(str(reason.get("raw") or "")).replace("```", "'''"),
            "```",
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
                f"| {_cell(entry.get('seq'))} | {_cell(entry.get('status'))} | {_cell(entry.get('progress'))} "
                f"| {_cell(entry.get('polledAtUtc'))} |"
            )
    lines += ["", f"_Report generated {_cell(report.get('generatedAtUtc'))} by the IoT Hub job monitor._", ""]
    return "\n".join(lines)


def _import_errors_section(report: Mapping[str, Any]) -> list[str]:
    if report.get("type") != "import" and report.get("importErrors") is None:
        return []
    lines = ["## importErrors.log", ""]
    note = report.get("importErrorsNote")
    if note:
        lines += [f"_{_cell(note)}_", ""]
    summary = report.get("importErrors")
    if not isinstance(summary, Mapping):
        return lines
    lines += [f"{_cell(summary.get('totalLines'))} line(s).", "", "| Error code | Lines |", "|---|---|"]
    counts = summary.get("countsByErrorCode")
    for code, count in (counts.items() if isinstance(counts, Mapping) else []):
        lines.append(f"| {_cell(code)} | {_cell(count)} |")
    entries = summary.get("firstEntries")
    if isinstance(entries, list) and entries:
        lines += ["", f"First {len(entries)} entries (keys redacted):", "",
                  "| Line | Device | Code | Status |", "|---|---|---|---|"]
        for entry in entries:
            if isinstance(entry, Mapping):
                lines.append(
                    f"| {_cell(entry.get('line'))} | {_cell(entry.get('deviceId'))} | {_cell(entry.get('errorCode'))} "
                    f"| {_cell(entry.get('errorStatus') or entry.get('note'))} |"
                )
    lines.append("")
    return lines


def _duration(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    seconds = float(value)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"
