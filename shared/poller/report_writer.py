"""Writing one job's report beside its output, once: a failure report for a failed or cancelled job, an import
report for an import whose errors log has lines (shared/reports builds both), and the app's own copy of it.

The errors log is read from the job's output container under a size limit and a share of the tick's budget, and
the import's input is counted for the title when that is cheap. Both pairs are created with If-None-Match: an
earlier, interrupted or overlapping tick may have written them (its JSON then stays, and the Markdown follows
it). The app's copy is always the report built here: the job's container is written by whoever created the job.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.blob_reads import IDENTITY, Cut
from shared.clock import Deadline, parse_utc, time_text, utc_iso
from shared.errors import ImportLogOverrun, SummaryAborted
from shared.jobs import JobStatus, job_status
from shared.logs import log_event
from shared.poller.confirm import WriteOutcome
from shared.poller.documents import (
    HUB_METADATA,
    JSON_CONTENT,
    MARKDOWN_CONTENT,
    MAX_STORED_DOCUMENT_BYTES,
    POLLED_METADATA,
    STATE_METADATA,
    job_folder,
    json_bytes,
    parse_snapshot_name,
    report_blob_names,
)
from shared.poller.events import PollerEvent
from shared.poller.state import IMPORT_LOG_ATTEMPTS, JobRecord
from shared.poller.storage import (
    EMPTY_BLOB_RANGE_CODE,
    BlobClients,
    blob_size,
    call_options,
    check_deadline,
    list_folder,
    list_refused,
    not_found,
    open_body,
    read_bounded_blob,
    sas_refused,
    storage_error_code,
    storage_error_text,
)
from shared.poller.targets import JobTargets
from shared.reports.copies import ReportCopies
from shared.reports.import_errors import (
    ImportErrorSummary,
    count_lines,
    import_input_blob_name,
    import_log_blob,
    log_not_this_jobs,
    summarize_chunks,
)
from shared.reports.markdown import render_markdown
from shared.reports.report import ReportKind, TimelineEntry, build_report, report_kind

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

logger = logging.getLogger("jobmonitor.poller")

# importErrors.log: read at most this much (a longer log is summarised from its head, with a note), within
# this share of what is left of the tick's budget.
MAX_IMPORT_LOG_BYTES = 64 << 20
IMPORT_LOG_SHARE = 0.5
# An import's input is counted only up to this size, within this share of what is left of the budget.
MAX_INPUT_COUNT_BYTES = 64 << 20
INPUT_COUNT_SHARE = 0.25


class ReportWriter:
    """Writes jobs' reports; process-wide, shared by the hubs' threads (it keeps no per-job state)."""

    def __init__(
        self, *, blobs: BlobClients, copies: ReportCopies, prefix: str, clock: Callable[[], datetime.datetime],
        import_log_max_bytes: int = MAX_IMPORT_LOG_BYTES,
    ) -> None:
        self._blobs = blobs
        self._copies = copies
        self._prefix = prefix
        self._clock = clock
        self._import_log_max_bytes = import_log_max_bytes

    def write(
        self,
        hub: str,
        record: JobRecord,
        job: Mapping[str, Any],
        targets: JobTargets,
        container: ContainerClient,
        deadline: Deadline,
        done: WriteOutcome,
        lineage: str,
    ) -> None:
        """The job's report, once: a failure report for a failed or cancelled job; an import report for a
        completed import whose errors log has lines (none for an empty or missing log)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        summary, note, note_is_earlier = None, None, False
        if str(job.get("type", "")).lower() == "import":
            summary, note, note_is_earlier = self._import_summary(record, job, targets, deadline)
        kind = report_kind(job, summary)
        if kind is None and note is not None and job_status(job) is JobStatus.COMPLETED and not note_is_earlier:
            # The log could not be read, or a later job overwrote it: whether lines were rejected is unknown,
            # and the report says so. A log older than the job is an earlier job's: this one wrote none.
            kind = ReportKind.IMPORT
        if kind is None:
            done.report_not_needed = True  # a completed import with nothing rejected, or a completed export
            return
        if kind is ReportKind.IMPORT or summary is not None:
            # Why the log read is not the one the job named (its outputBlobName was unusable), if it is not.
            note = "; ".join(n for n in (import_log_blob(job).note, note) if n) or None
        prefix = record.prefix or self._prefix
        json_name, md_name = report_blob_names(prefix, record.job_id, kind)
        input_lines = self._input_lines(job, targets, deadline) if summary is not None else None
        report = build_report(
            job, hub=hub, timeline=self._timeline(container, prefix, record, targets, deadline), kind=kind,
            import_errors=summary, import_errors_note=note, generated_at=self._clock(), input_lines=input_lines,
        )
        built: dict[str, Any] = report.to_json()
        document = built
        check_deadline(deadline)
        metadata = {HUB_METADATA: hub, STATE_METADATA: lineage}
        first_written = True
        try:
            container.upload_blob(json_name, json_bytes(document), overwrite=False, metadata=metadata,
                                  content_settings=ContentSettings(content_type=JSON_CONTENT), **call_options(deadline))
        except ResourceExistsError:
            # Written by an earlier or overlapping tick: the Markdown follows what is stored.
            check_deadline(deadline)
            stored, stored_metadata = read_bounded_blob(container, json_name, max_bytes=MAX_STORED_DOCUMENT_BYTES,
                                                        deadline=deadline)
            document = _stored_report(stored, record.job_id) or built
            # Under another state (this one was lost since): that state's tick logged it already.
            first_written = stored_metadata.get(STATE_METADATA) in (None, lineage)
        check_deadline(deadline)
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(md_name, _markdown(document, built).encode(), overwrite=False, metadata=metadata,
                                  content_settings=ContentSettings(content_type=MARKDOWN_CONTENT),
                                  **call_options(deadline))
        check_deadline(deadline)
        # The app's own copy, which the app serves: part of writing the report (a failure retries both). Built
        # here, never read back from the job's container, which whoever created the job can write (its timeline
        # is the one listing of the folder's snapshot names, as the report beside the job has it).
        self._copies.put(hub, record.job_id, built, **call_options(deadline))
        done.report_written = True
        if not first_written:
            return
        # Logged once, by the tick whose confirm records the report as written (shared/poller/confirm.py).
        done.report_fields = {"status": built.get("status"), "hint": report.hint.key, "blob": json_name,
                              "importErrorLines": summary.total_lines if summary is not None else None}

    @staticmethod
    def _timeline(container: ContainerClient, prefix: str, record: JobRecord, targets: JobTargets,
                  deadline: Deadline) -> list[TimelineEntry]:
        """The job's timeline as its folder holds it (one listing): right even after the state was lost. Through
        a SAS without List, as the state recorded it."""
        from azure.core.exceptions import HttpResponseError

        folder = job_folder(prefix, record.job_id)
        check_deadline(deadline)
        entries = []
        try:
            blobs = list_folder(container, f"{folder}/snapshots/", deadline=deadline)
        except HttpResponseError as exc:
            if not list_refused(exc, targets.monitor):
                raise
            return [TimelineEntry(seq=int(e["seq"]), status=str(e["status"]), progress=e.get("progress"),
                                  polled_at_utc=str(e.get("polledAtUtc") or ""), blob=str(e.get("blob") or ""))
                    for e in sorted(record.timeline, key=lambda e: int(e["seq"]))]
        for blob in blobs:
            parsed = parse_snapshot_name(blob.name)
            if parsed is None:
                continue
            seq, status, progress = parsed
            entries.append(TimelineEntry(
                seq=seq, status=status, progress=progress,
                # The metadata is anyone's text: a time or "unknown", never an overflow at the report page.
                polled_at_utc=time_text(polled) if (polled := (blob.metadata or {}).get(POLLED_METADATA)) else utc_iso(
                    blob.last_modified),
                blob=blob.name,
            ))
        return sorted(entries, key=lambda entry: entry.seq)

    def _input_lines(self, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline) -> int | None:
        """How many lines the import's input has ("3 of 10,000 lines rejected"), or None when it cannot be
        known cheaply: no readable input, larger than MAX_INPUT_COUNT_BYTES, out of its share of the budget, or
        any storage error (the title then gives the rejected lines alone; the report never waits on this)."""
        name = import_input_blob_name(job)
        if targets.input is None or name is None:
            return None
        count_deadline = Deadline(deadline.remaining() * INPUT_COUNT_SHARE)
        try:
            blob = self._blobs.container(targets.input).get_blob_client(name)
            check_deadline(count_deadline)
            if blob_size(blob.get_blob_properties(**call_options(count_deadline))) > MAX_INPUT_COUNT_BYTES:
                return None
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

    def _import_summary(
        self, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline
    ) -> tuple[ImportErrorSummary | None, str | None, bool]:
        """Summarise importErrors.log from the job's output container: (summary, note, False), or (None, note,
        False) when it cannot be, or (None, note, True) when the log there predates the job (an earlier job's).

        At most `import_log_max_bytes` are read, within a share of what is left of the tick's budget (the
        report still has to be written). Running out of time counts as a failed attempt; after
        IMPORT_LOG_ATTEMPTS of them the report is written from the part that was read, and says so."""
        log_name = import_log_blob(job).name
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
            if foreign is not None:
                # Import jobs often share one output container: the log there may be another job's.
                started = parse_utc(job.get("startTimeUtc"))
                return None, f"{log_name} {foreign}, so this report cannot list its lines", (
                    started is not None and modified is not None and modified < started)
            summary = summarize_chunks(body, should_stop=lambda: log_deadline.remaining() <= 0)
            if body.cut is Cut.TIME:
                raise SummaryAborted(summary)
        except SummaryAborted as aborted:
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
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
            if sas_refused(exc) and not targets.output.uses_identity:
                raise  # _write_job tries the managed identity, where it is allowed
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
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



def _stored_report(data: bytes, job_id: str) -> dict[str, Any] | None:
    """A report an earlier tick stored for this job, or None for anything else found under its name."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("jobId") != job_id:
        return None
    return document


def _markdown(stored: dict[str, Any], built: dict[str, Any]) -> str:
    """The Markdown of the stored report, so that the pair agrees; of the one just built if the stored one,
    written by whoever can write the job's container, does not render."""
    if stored is not built:
        try:
            return render_markdown(stored)
        except (TypeError, ValueError, AttributeError, KeyError):
            pass
    return render_markdown(built)
