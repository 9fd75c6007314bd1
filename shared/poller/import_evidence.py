"""What an import's own evidence says, for its report: its errors log summarised (shared/reports/import_errors.py)
and its input's lines counted, each read bounded in bytes and in a share of the tick's budget, and never from a
blob another job wrote (a log from before the job started or overwritten by a later import of the hub, an input
written after the job started) nor, with the app's identity, from a blob a job field names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shared.blob_reads import IDENTITY, Cut
from shared.clock import Deadline, parse_utc
from shared.errors import ImportLogOverrun, SummaryAborted
from shared.logs import log_event
from shared.poller.events import PollerEvent
from shared.poller.state import IMPORT_LOG_ATTEMPTS, JobRecord
from shared.poller.storage import (
    EMPTY_BLOB_RANGE_CODE,
    BlobClients,
    blob_size,
    call_options,
    check_deadline,
    not_found,
    open_body,
    sas_refused,
    storage_error_code,
    storage_error_text,
)
from shared.poller.targets import JobTargets
from shared.reports.import_errors import (
    ImportErrorSummary,
    ImportLogBlob,
    count_lines,
    import_input_blob_name,
    import_log_blob,
    input_not_this_jobs,
    log_not_this_jobs,
    overwritten_by,
    summarize_chunks,
)

logger = logging.getLogger("jobmonitor.poller")

# importErrors.log: read at most this much (a longer log is summarised from its head, with a note), within
# this share of what is left of the tick's budget.
MAX_IMPORT_LOG_BYTES = 64 << 20
IMPORT_LOG_SHARE = 0.5
# An import's input is counted only up to this size, within this share of what is left of the budget.
MAX_INPUT_COUNT_BYTES = 64 << 20
INPUT_COUNT_SHARE = 0.25


class ImportEvidence:
    """Reads an import's errors log and input; process-wide, shared by the hubs' threads (no per-job state)."""

    def __init__(self, *, blobs: BlobClients, import_log_max_bytes: int = MAX_IMPORT_LOG_BYTES) -> None:
        self._blobs = blobs
        self._import_log_max_bytes = import_log_max_bytes

    def input_lines(self, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline) -> int | None:
        """How many lines the import's input has ("3 of 10,000 lines rejected"), or None when it cannot be
        known cheaply: no readable input, larger than MAX_INPUT_COUNT_BYTES, out of its share of the budget, or
        any storage error (the title then gives the rejected lines alone; the report never waits on this)."""
        if targets.input is None:
            return None
        name = import_input_blob_name(job, with_identity=targets.input.uses_identity)
        if name is None:
            return None
        count_deadline = Deadline(deadline.remaining() * INPUT_COUNT_SHARE)
        try:
            blob = self._blobs.container(targets.input).get_blob_client(name)
            check_deadline(count_deadline)
            properties = blob.get_blob_properties(**call_options(count_deadline))
            if blob_size(properties) > MAX_INPUT_COUNT_BYTES or input_not_this_jobs(properties.last_modified, job):
                return None  # too large to count cheaply, or written since the job read it (another job's)
            check_deadline(count_deadline)
            body = open_body(blob, max_bytes=MAX_INPUT_COUNT_BYTES, deadline=count_deadline)
            lines = count_lines(body)
            if body.cut is not None:  # an input that unpacks past the bound, or out of time: not counted
                log_event(logger, PollerEvent.INPUT_NOT_COUNTED, jobId=str(job.get("jobId")), blob=name,
                          error=f"cut:{body.cut.value}", message=body.why(name))
                return None
            return lines
        except Exception as exc:
            # Never the reason a report is late: logged, and the title goes without the total.
            log_event(logger, PollerEvent.INPUT_NOT_COUNTED, jobId=str(job.get("jobId")), blob=name,
                      error=type(exc).__name__, message=storage_error_text(exc))
            return None

    def summary(
        self, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        listed: Sequence[Mapping[str, Any]], *, at_once: bool = False,
    ) -> tuple[ImportErrorSummary | None, str | None, bool]:
        """Summarise importErrors.log from the job's output container: (summary, note, False), or (None, note,
        False) when it cannot be, or (None, note, True) when the log there predates the job (an earlier job's).

        At most `import_log_max_bytes` are read, within a share of what is left of the tick's budget (the
        report still has to be written). Running out of time counts as a failed attempt; after
        IMPORT_LOG_ATTEMPTS of them the report is written from the part that was read, and says so."""
        log_name = log_blob(job, targets).name
        if targets.output is None:
            return None, (f"{log_name} was not read: the output container has no usable SAS and is not "
                          "one the app's identity may read (MONITOR_IDENTITY_CONTAINERS)"), False
        log_deadline = Deadline(deadline.remaining() * IMPORT_LOG_SHARE)
        try:
            blob = self._blobs.container(targets.output).get_blob_client(log_name)
            body = open_body(blob, max_bytes=self._import_log_max_bytes, deadline=log_deadline)
            size = blob_size(body.properties)
            modified = body.properties.last_modified
            foreign = log_not_this_jobs(modified, job)
            later = overwritten_by(job, [o for o in listed if log_blob(o, targets).name == log_name], modified)
            if later is not None:
                # Often both ended between two ticks, where times cannot tell: the list says whose the log is.
                # None of its lines or counts go into this job's report.
                return None, (f"{log_name} was overwritten by job {later}, a later import of this hub into the "
                              "same output container: this job's own rejected lines are lost"), False
            if foreign is not None:
                # Import jobs often share one output container: the log there may be another job's.
                started = parse_utc(job.get("startTimeUtc"))
                return None, f"{log_name} {foreign}, so this report cannot list its lines", (
                    started is not None and modified is not None and modified < started)
            summary = summarize_chunks(body, should_stop=lambda: log_deadline.remaining() <= 0)
            if body.cut is Cut.TIME:
                raise SummaryAborted(summary)
        except SummaryAborted as aborted:
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS and not at_once:
                raise ImportLogOverrun from None  # counts as a failed attempt; the next tick tries again
            return aborted.summary, (
                f"{log_name} was only partly read: the time budget ran out {IMPORT_LOG_ATTEMPTS} times; "
                f"the summary covers its first {aborted.summary.bytes_read} bytes"
            ), False
        except Exception as exc:
            if storage_error_code(exc) == EMPTY_BLOB_RANGE_CODE:
                return summarize_chunks([]), None, False  # an empty log (a range read of 0 bytes is refused)
            if not_found(exc):
                return None, None, False  # no log: nothing was rejected (a failed job's report says it has none)
            if sas_refused(exc) and not targets.output.uses_identity and not at_once:
                raise  # _write_job tries the managed identity, where it is allowed
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS and not at_once:
                raise  # try again next tick
            return None, f"{log_name} could not be read ({storage_error_text(exc)})", False
        if body.cut is Cut.ENCODING:
            return None, f"{body.why(log_name)}: it was not read, so this report cannot list its lines", False
        if body.cut is Cut.SIZE and body.encoding != IDENTITY:
            return summary, (f"{body.why(log_name)} (stored: {size} bytes): truncated, the summary covers its "
                             f"first {body.decoded} unpacked bytes"), False
        if size > self._import_log_max_bytes or body.cut is Cut.SIZE:
            return summary, (f"{log_name} is {size} bytes: truncated, the summary covers its first "
                             f"{self._import_log_max_bytes} bytes"), False
        return summary, None, False


def log_blob(job: Mapping[str, Any], targets: JobTargets) -> ImportLogBlob:
    """Where the import's errors log is read: never a blob the job names when the app's identity reads it."""
    return import_log_blob(job, with_identity=targets.output is not None and targets.output.uses_identity)
