"""The failure report of a failed (or cancelled) job: a model, its JSON form and a Markdown rendering.

The Markdown is rendered from the JSON form, so that `failure-report.md` always says what the stored
`failure-report.json` says, even when the two blobs were written by different ticks.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.failure_reasons import FailureReason, Hint, hint_for, parse_failure_reason
from shared.import_errors import ImportErrorSummary
from shared.jobs import JobStatus, StorageAuthenticationType
from shared.redaction import redact_sas_uri, redact_text, redact_value
from shared.snapshots import job_status, parse_utc, utc_iso

REPORT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    seq: int
    status: str
    progress: int | None
    polled_at_utc: str
    blob: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "status": self.status, "progress": self.progress,
            "polledAtUtc": self.polled_at_utc, "blob": self.blob,
        }


@dataclass(frozen=True, kw_only=True)
class FailureReport:
    job_id: str
    hub: str
    job_type: str | None
    status: JobStatus
    start_time_utc: str | None
    end_time_utc: str | None
    duration_seconds: float | None
    failure_reason: FailureReason | None
    hint: Hint
    storage_authentication: StorageAuthenticationType
    output_container: str | None
    import_errors: ImportErrorSummary | None
    import_errors_note: str | None
    timeline: Sequence[TimelineEntry] = field(default_factory=tuple)
    generated_at_utc: str = ""

    @property
    def cancelled(self) -> bool:
        return self.status is JobStatus.CANCELLED

    def to_json(self) -> dict[str, Any]:
        reason = self.failure_reason
        document = {
            "reportVersion": REPORT_VERSION,
            "jobId": self.job_id,
            "hub": self.hub,
            "type": self.job_type,
            "status": self.status.value,
            "cancelled": self.cancelled,
            "startTimeUtc": self.start_time_utc,
            "endTimeUtc": self.end_time_utc,
            "durationSeconds": self.duration_seconds,
            "failureReason": reason.to_json() if reason is not None else None,
            "hint": {"key": self.hint.key, "text": self.hint.advice},
            "storageAuthenticationType": self.storage_authentication.value,
            "outputContainer": self.output_container,
            "importErrors": self.import_errors.to_json() if self.import_errors is not None else None,
            "importErrorsNote": self.import_errors_note,
            "timeline": [entry.to_json() for entry in self.timeline],
            "generatedAtUtc": self.generated_at_utc,
        }
        # Belt and braces: every string in the report passes redaction once more.
        redacted: dict[str, Any] = redact_value(document)
        return redacted


def storage_authentication(job: Mapping[str, Any]) -> StorageAuthenticationType:
    value = job.get("storageAuthenticationType")
    if isinstance(value, str) and value.lower() == StorageAuthenticationType.IDENTITY_BASED.value.lower():
        return StorageAuthenticationType.IDENTITY_BASED
    return StorageAuthenticationType.KEY_BASED


def build_report(
    job: Mapping[str, Any],
    *,
    hub: str,
    timeline: Sequence[TimelineEntry],
    import_errors: ImportErrorSummary | None,
    import_errors_note: str | None,
    generated_at: datetime.datetime,
) -> FailureReport:
    status = job_status(job)
    reason = parse_failure_reason(job.get("failureReason"))
    auth = storage_authentication(job)
    start, end = parse_utc(job.get("startTimeUtc")), parse_utc(job.get("endTimeUtc"))
    duration = round((end - start).total_seconds(), 3) if start is not None and end is not None else None
    output = job.get("outputBlobContainerUri")
    return FailureReport(
        job_id=str(job.get("jobId")),
        hub=hub,
        job_type=str(job["type"]) if job.get("type") is not None else None,
        status=status,
        start_time_utc=_text(job.get("startTimeUtc")),
        end_time_utc=_text(job.get("endTimeUtc")),
        duration_seconds=duration,
        failure_reason=reason,
        hint=hint_for(
            reason,
            status=status,
            storage_authentication=auth,
            import_error_lines=import_errors.total_lines if import_errors is not None else 0,
        ),
        storage_authentication=auth,
        output_container=redact_sas_uri(output) if isinstance(output, str) else None,
        import_errors=import_errors,
        import_errors_note=import_errors_note,
        timeline=tuple(timeline),
        generated_at_utc=utc_iso(generated_at),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


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
