"""Blob names and documents of the poller's output: snapshots, latest.json and the reports.

Layout under the job's folder (`{prefix}/{jobId}/`):
    snapshots/{seq:05d}-{status}-{progress}.json   one per observed (status, progress) change
    latest.json                                    the newest snapshot, plus stall fields
    failure-report.json, failure-report.md         failed and cancelled jobs
    import-report.json, import-report.md           imports that completed with rejected lines
A job gets at most one report pair: which one follows its end (shared/reports/report.py, `report_kind`).
Names are deterministic (seq comes from the monitor state), so a retried write lands on the same blob.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

from shared.clock import utc_iso
from shared.jobs import JobStatus, job_progress, job_status
from shared.redaction import redact_job
from shared.reports.report import ReportKind

# Which jobIds the poller can use as one segment of a blob path as they are. This is about blob names, not
# about what a caller may ask get_job for (shared/proxy/validation.py's JOB_ID_PATTERN, a stricter rule for input
# that goes into an upstream URL): the poller takes whatever ids the hub lists (GUIDs when the hub makes
# them, caller-chosen otherwise) and skips, with a log line, any it cannot name a blob after.
_BLOB_SAFE_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,199}")
NO_PROGRESS = "na"
LATEST_BLOB = "latest.json"
# The fields latest.json adds to the snapshot it repeats.
LATEST_FIELDS = ("snapshotSeq", "snapshotBlob", "stalled", "stalledSinceUtc", "stallAfterSeconds")
REPORT_JSON_BLOB = "failure-report.json"
REPORT_MD_BLOB = "failure-report.md"
IMPORT_REPORT_JSON_BLOB = "import-report.json"
IMPORT_REPORT_MD_BLOB = "import-report.md"
# Every blob the poller writes says which hub's job it belongs to (jobs of two hubs can share an id).
HUB_METADATA = "monitorhub"
STATE_METADATA = "monitorstate"  # the state (its creation time) whose claim wrote a report
POLLED_METADATA = "monitorpolledat"  # a snapshot's polledAtUtc, so that a timeline needs no download
JSON_CONTENT = "application/json"
# A snapshot or report read back from a job's container (whoever created the job can write there): never more.
MAX_STORED_DOCUMENT_BYTES = 8 << 20
# A job document the state keeps (a pending snapshot, latest.json): a larger one is cut to JOB_FIELDS.
MAX_RECORD_DOCUMENT_BYTES = 64 << 10
CUT_FIELD_CHARS = 2048
TRUNCATED_FIELD = "monitorTruncated"  # set on a document cut to JOB_FIELDS
# JobProperties as IoT Hub's service API defines them (api-version 2021-04-12).
JOB_FIELDS = ("jobId", "type", "status", "progress", "startTimeUtc", "endTimeUtc", "failureReason",
              "inputBlobContainerUri", "outputBlobContainerUri", "inputBlobName", "outputBlobName",
              "storageAuthenticationType", "excludeKeysInExport", "includeConfigurations", "configurationsBlobName",
              "identity")
MARKDOWN_CONTENT = "text/markdown; charset=utf-8"
# A snapshot's name: `{seq:05d}-{status}-{progress}.json` at the end of the path.
SNAPSHOT_NAME = re.compile(r"/snapshots/(?P<seq>\d{5,})-(?P<status>[a-z]+)-(?P<progress>\d+|na)\.json$")


def blob_safe_job_id(value: object) -> str | None:
    """The jobId if it can be a blob path segment as is (no slashes, dots-only or control characters)."""
    if isinstance(value, str) and _BLOB_SAFE_JOB_ID.fullmatch(value) and ".." not in value:
        return value
    return None


def job_folder(prefix: str, job_id: str) -> str:
    return f"{prefix}/{job_id}"


def parse_snapshot_name(name: str) -> tuple[int, str, int | None] | None:
    """(seq, status, progress) of a snapshot's blob name, or None for any other name."""
    match = SNAPSHOT_NAME.search(name)
    if match is None:
        return None
    progress = match["progress"]
    return int(match["seq"]), match["status"], None if progress == NO_PROGRESS else int(progress)


def snapshot_blob_name(prefix: str, job_id: str, *, seq: int, status: JobStatus, progress: int | None) -> str:
    shown = NO_PROGRESS if progress is None else str(progress)
    return f"{job_folder(prefix, job_id)}/snapshots/{seq:05d}-{status.value}-{shown}.json"


def latest_blob_name(prefix: str, job_id: str) -> str:
    return f"{job_folder(prefix, job_id)}/{LATEST_BLOB}"


def report_json_blob_name(prefix: str, job_id: str) -> str:
    return f"{job_folder(prefix, job_id)}/{REPORT_JSON_BLOB}"


def report_md_blob_name(prefix: str, job_id: str) -> str:
    return f"{job_folder(prefix, job_id)}/{REPORT_MD_BLOB}"


def import_report_json_blob_name(prefix: str, job_id: str) -> str:
    return f"{job_folder(prefix, job_id)}/{IMPORT_REPORT_JSON_BLOB}"


def import_report_md_blob_name(prefix: str, job_id: str) -> str:
    return f"{job_folder(prefix, job_id)}/{IMPORT_REPORT_MD_BLOB}"


def report_blob_names(prefix: str, job_id: str, kind: ReportKind) -> tuple[str, str]:
    """(the .json, the .md) of the job's report of this kind."""
    if kind is ReportKind.IMPORT:
        return import_report_json_blob_name(prefix, job_id), import_report_md_blob_name(prefix, job_id)
    return report_json_blob_name(prefix, job_id), report_md_blob_name(prefix, job_id)


def snapshot_document(job: Mapping[str, Any], *, hub: str, polled_at: datetime.datetime) -> dict[str, Any]:
    """The job's properties with every SAS and secret redacted, plus when and where it was polled; cut to
    MAX_RECORD_DOCUMENT_BYTES (the state keeps it until written, so a job's size is bounded there too)."""
    document = redact_job(job)
    if len(json_bytes(document)) > MAX_RECORD_DOCUMENT_BYTES:
        document = _cut(document)
    document["polledAtUtc"] = utc_iso(polled_at)
    document["hub"] = hub
    return document


def _cut(document: Mapping[str, Any]) -> dict[str, Any]:
    """A document too large to keep: the fields IoT Hub documents for a job, each at most CUT_FIELD_CHARS."""
    kept: dict[str, Any] = {}
    for name in JOB_FIELDS:
        value = document.get(name)
        if isinstance(value, str):
            kept[name] = value[:CUT_FIELD_CHARS]
        elif value is not None and len(json.dumps(value)) <= CUT_FIELD_CHARS:
            kept[name] = value
    kept[TRUNCATED_FIELD] = True
    return kept


def our_snapshot(
    document: dict[str, Any] | None, *, job_id: str, pair: tuple[str, int | None]
) -> dict[str, Any] | None:
    """`document` if it can be a snapshot this monitor wrote of `job_id` at `pair` (recovery builds latest.json,
    which the state keeps, from it), else None: whoever writes the job's container can put anything there."""
    if document is None or document.get("jobId") != job_id or not isinstance(document.get("polledAtUtc"), str):
        return None
    if (job_status(document).value, job_progress(document)) != pair:
        return None
    return document if len(json_bytes(document)) <= MAX_RECORD_DOCUMENT_BYTES else None


def latest_document(
    snapshot: Mapping[str, Any],
    *,
    seq: int,
    snapshot_blob: str,
    stalled: bool,
    stalled_since: str | None,
    stall_after_seconds: float,
) -> dict[str, Any]:
    """latest.json: the newest snapshot, which blob it is, and whether the job looks stalled."""
    document = dict(snapshot)
    document["snapshotSeq"] = seq
    document["snapshotBlob"] = snapshot_blob
    document["stalled"] = stalled
    if stalled:
        document["stalledSinceUtc"] = stalled_since
        document["stallAfterSeconds"] = stall_after_seconds
    return document


# What parsing a body read from a job's container can raise besides ValueError (UnicodeError is one): nesting
# deeper than the interpreter's stack, a number too large, a document too large for memory.
PARSE_ERRORS = (ValueError, RecursionError, OverflowError, MemoryError)


def parse_json_object(data: bytes) -> dict[str, Any] | None:
    """A JSON object read back from a job's container (whoever created the job can write there), or None for
    anything else: never an exception, whatever the bytes."""
    try:
        document = json.loads(data)
    except PARSE_ERRORS:
        return None
    return document if isinstance(document, dict) else None


def json_bytes(document: Mapping[str, Any]) -> bytes:
    """A document as the poller stores it: indented JSON, fields in their order."""
    return json.dumps(document, indent=2, sort_keys=False).encode()
