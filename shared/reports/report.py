"""The failure report of a failed (or cancelled) job: the model and its JSON form (reports/markdown.py
renders it for people)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.clock import parse_utc, utc_iso
from shared.jobs import JobStatus, StorageAuthenticationType, job_status
from shared.redaction import redact_sas_uri, redact_value
from shared.reports.failure_reasons import FailureReason, Hint, hint_for, parse_failure_reason
from shared.reports.import_errors import ImportErrorSummary

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
