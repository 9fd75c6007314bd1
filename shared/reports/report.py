"""The reports the poller writes, the model and its JSON form (reports/markdown.py renders it for people):

- a **failure report** for a failed or cancelled job (any type): the parsed failureReason, a hint, and for an
  import the summary of its errors log;
- an **import report** for an import that completed with a non-empty errors log: IoT Hub finishes an import
  whose lines were partly or wholly rejected as `completed` (docs/iothub-evidence.md), and the log is the only
  place that says which lines were not applied.

`report_kind` says which a finished job gets (None: no report); the title says it too ("import completed: 3
of 10,000 lines rejected", "import failed").
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shared.clock import UNKNOWN_TIME, parse_utc, utc_iso
from shared.jobs import JobStatus, StorageAuthenticationType, job_status
from shared.redaction import redact_text, redact_value
from shared.reports.failure_reasons import FailureReason, Hint, hint_for, parse_failure_reason
from shared.reports.import_errors import ImportErrorSummary

# 2: `kind` and `title`; import reports for completed imports; `importErrors.errorCodes`; entries'
# `deviceIdSource`.
REPORT_VERSION = 2


class ReportKind(str, Enum):
    """Which report a finished job gets (`.value` is written as `kind`)."""

    FAILURE = "failure"  # a failed or cancelled job
    IMPORT = "import"  # an import that completed, with rejected lines in its errors log


def report_kind(job: Mapping[str, Any], import_errors: ImportErrorSummary | None = None) -> ReportKind | None:
    """FAILURE for a failed or cancelled job; IMPORT for a completed import whose errors log has lines; None
    otherwise (active jobs, completed exports, completed imports with an empty or missing log)."""
    status = job_status(job)
    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return ReportKind.FAILURE
    if (
        status is JobStatus.COMPLETED and str(job.get("type", "")).lower() == "import"
        and import_errors is not None and import_errors.total_lines > 0
    ):
        return ReportKind.IMPORT
    return None


def report_title(
    kind: ReportKind, *, job_type: str | None, status: JobStatus, rejected_lines: int | None,
    input_lines: int | None = None,
) -> str:
    """"import completed: 3 of 10,000 lines rejected" (IMPORT) or "import failed" / "export cancelled"
    (FAILURE). The total appears only when it is known (`input_lines`)."""
    noun = job_type if job_type in ("import", "export") else "job"
    if kind is ReportKind.FAILURE:
        return f"{noun} {'cancelled' if status is JobStatus.CANCELLED else 'failed'}"
    if rejected_lines is None:  # the poller asked for a report, but the log could not be read (its note says why)
        return "import completed: its errors log could not be read"
    rejected = rejected_lines
    if input_lines is not None and input_lines >= rejected:  # fewer input lines than rejected: not the same input
        unit = "line" if input_lines == 1 else "lines"
        return f"import completed: {rejected:,} of {input_lines:,} {unit} rejected"
    return f"import completed: {rejected:,} {'line' if rejected == 1 else 'lines'} rejected"


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
    """A report of either kind (the name is historical: `kind` says which)."""

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
    kind: ReportKind = ReportKind.FAILURE
    title: str = ""
    input_lines: int | None = None
    monitor_note: str | None = None  # why the monitor gave up on the job (its writes kept failing)

    @property
    def cancelled(self) -> bool:
        return self.status is JobStatus.CANCELLED

    def to_json(self) -> dict[str, Any]:
        reason = self.failure_reason
        document = {
            "reportVersion": REPORT_VERSION,
            "kind": self.kind.value,
            "title": self.title,
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
            "inputLines": self.input_lines,
            "monitorNote": self.monitor_note,
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
    kind: ReportKind | None = None,
    input_lines: int | None = None,
    monitor_note: str | None = None,
) -> FailureReport:
    """The report of a finished job. `kind` defaults to `report_kind(job, import_errors)`; when that is None
    the poller asked for a report anyway (it decides): an IMPORT report for a completed import (say, one
    whose log could not be read), a FAILURE report otherwise. `input_lines`, when the caller counted the
    import's input, goes into the title ("3 of 10,000 lines rejected")."""
    status = job_status(job)
    job_type = str(job["type"]) if job.get("type") is not None else None
    completed_import = status is JobStatus.COMPLETED and (job_type or "").lower() == "import"
    chosen = kind or report_kind(job, import_errors) or (
        ReportKind.IMPORT if completed_import else ReportKind.FAILURE)
    reason = parse_failure_reason(job.get("failureReason"))
    auth = storage_authentication(job)
    start, end = parse_utc(job.get("startTimeUtc")), parse_utc(job.get("endTimeUtc"))
    duration = round((end - start).total_seconds(), 3) if start is not None and end is not None else None
    output = job.get("outputBlobContainerUri")
    rejected = import_errors.total_lines if import_errors is not None else None
    return FailureReport(
        kind=chosen,
        title=report_title(chosen, job_type=job_type, status=status, rejected_lines=rejected, input_lines=input_lines),
        input_lines=input_lines,
        job_id=str(job.get("jobId")),
        hub=hub,
        job_type=job_type,
        status=status,
        start_time_utc=_time(job.get("startTimeUtc")),
        end_time_utc=_time(job.get("endTimeUtc")),
        duration_seconds=duration,
        failure_reason=reason,
        hint=Hint.DEVICE_IMPORT_ERRORS if chosen is ReportKind.IMPORT else hint_for(
            reason,
            status=status,
            storage_authentication=auth,
            import_error_lines=import_errors.total_lines if import_errors is not None else 0,
            job_type=job_type,
        ),
        storage_authentication=auth,
        output_container=redact_text(output) if isinstance(output, str) else None,
        import_errors=import_errors,
        import_errors_note=import_errors_note,
        timeline=tuple(timeline),
        generated_at_utc=utc_iso(generated_at),
        monitor_note=monitor_note,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: object) -> str | None:
    """A job's time as the hub wrote it, "unknown" when it is no time we can read (a sentinel, an overflow)."""
    if not isinstance(value, str) or value == "":
        return None
    return value if parse_utc(value) is not None else UNKNOWN_TIME


def stored_title(report: Mapping[str, Any]) -> str:
    """A stored report's title; a version-1 report (failure reports only) has none and gets one."""
    title = report.get("title")
    if isinstance(title, str) and title:
        return title
    return f"{report.get('type') or 'job'} {'cancelled' if report.get('cancelled') else 'failed'}"
