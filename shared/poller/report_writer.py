"""Writing one job's report beside its output, once: a failure report for a failed or cancelled job, an import
report for an import whose errors log has lines (shared/reports builds both), and the app's own copy of it.

The errors log and the import's input are read by shared/poller/import_evidence.py, bounded in bytes and time and
never from another job's blobs. Both pairs are created with If-None-Match: an
earlier, interrupted or overlapping tick may have written them (its JSON then stays, and the Markdown follows
it). The app's copy is always the report built here: the job's container is written by whoever created the job.

The app's copy (in AzureWebJobsStorage) is written first and on its own, so that a job whose container refuses us
still has its report on the report route and the status page. What the job's container answered is recorded in
the copy and the state (shared/reports/delivery.py): delivered, or refused with storage's status, code and advice,
tried again with backoff for the job's history window, then given up.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline, time_text, utc_iso
from shared.errors import ReportCopyUnwritten, TickBudgetExhausted
from shared.jobs import JobStatus, job_status
from shared.logs import log_event
from shared.poller.confirm import WriteOutcome
from shared.poller.delivery import refusal_of
from shared.poller.documents import (
    HUB_METADATA,
    JSON_CONTENT,
    MARKDOWN_CONTENT,
    MAX_STORED_DOCUMENT_BYTES,
    POLLED_METADATA,
    STATE_METADATA,
    job_folder,
    json_bytes,
    parse_json_object,
    parse_snapshot_name,
    report_blob_names,
)
from shared.poller.events import PollerEvent
from shared.poller.import_evidence import MAX_IMPORT_LOG_BYTES, ImportEvidence, log_blob
from shared.poller.state import JobRecord, ReportState
from shared.poller.storage import (
    BlobClients,
    call_options,
    check_deadline,
    list_folder,
    list_refused,
    read_bounded_blob,
    sas_refused,
    storage_error_text,
    storage_refusal,
)
from shared.poller.targets import JobTargets
from shared.reports import delivery
from shared.reports.copies import ReportCopies
from shared.reports.delivery import Delivery
from shared.reports.markdown import render_markdown
from shared.reports.report import ReportKind, TimelineEntry, build_report, report_kind

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

logger = logging.getLogger("jobmonitor.poller")



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
        self._evidence = ImportEvidence(blobs=blobs, import_log_max_bytes=import_log_max_bytes)

    def delivery_due(self, record: JobRecord) -> bool:
        """False while a refused delivery beside the job waits for its next attempt (its backoff): the job's
        container is left alone until then."""
        return record.report is not ReportState.PENDING or delivery.due(Delivery.from_json(record.delivery),
                                                                         self._clock())

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
        listed: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """The job's report, once: a failure report for a failed or cancelled job; an import report for a
        completed import whose errors log has lines (none for an empty or missing log). `listed`: the hub's
        jobs in this tick's list (which later import overwrote a shared errors log).

        The app's own copy is written first, on its own; then the pair beside the job, whose outcome (delivered,
        or refused and why) is recorded in the copy and the state."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        done.report_tried = True
        built = self._build(hub, record, job, targets, container, deadline, done, listed=listed)
        if built is None:
            return
        report, json_name, md_name, summary_lines = built
        document = report
        previous = Delivery.from_json(record.delivery)
        self._put_copy(hub, record.job_id, report, previous, deadline)
        metadata = {HUB_METADATA: hub, STATE_METADATA: lineage}
        first_written = True
        try:
            check_deadline(deadline)
            try:
                container.upload_blob(json_name, json_bytes(document), overwrite=False, metadata=metadata,
                                      content_settings=ContentSettings(content_type=JSON_CONTENT),
                                      **call_options(deadline))
            except ResourceExistsError:
                # Written by an earlier or overlapping tick: the Markdown follows what is stored.
                check_deadline(deadline)
                stored, stored_metadata = read_bounded_blob(container, json_name,
                                                            max_bytes=MAX_STORED_DOCUMENT_BYTES, deadline=deadline)
                document = _stored_report(stored, record.job_id) or report
                # Under another state (this one was lost since): that state's tick logged it already.
                first_written = stored_metadata.get(STATE_METADATA) in (None, lineage)
            check_deadline(deadline)
            with contextlib.suppress(ResourceExistsError):
                container.upload_blob(md_name, _markdown(document, report).encode(), overwrite=False,
                                      metadata=metadata,
                                      content_settings=ContentSettings(content_type=MARKDOWN_CONTENT),
                                      **call_options(deadline))
        except TickBudgetExhausted:
            raise  # left pending: the next tick tries again, with the copy already in place
        except Exception as exc:
            if sas_refused(exc) and targets.uses_sas and targets.with_identity() is not None:
                raise  # JobWriter.write tries the managed identity, where the operator allowed it
            self._record_refusal(hub, record, job, report, targets, exc, done, deadline, first_copy=previous is None,
                                 json_name=json_name, summary_lines=summary_lines)
            return
        now = self._clock()
        outcome = delivery.delivered(previous, now)
        self._put_copy(hub, record.job_id, report, outcome, deadline)
        done.report_written = True
        done.delivery = outcome.to_json()
        if first_written and previous is None:
            # Logged once, by the tick whose confirm records the report as written (shared/poller/confirm.py).
            done.report_fields = _report_fields(report, json_name, summary_lines)

    def write_refused(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        done: WriteOutcome, refusal: Exception, *, final: bool = False, listed: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """The job's container refused an earlier write of this tick (a snapshot, latest.json): the report is
        built from what can be read and the app's copy written anyway, recording the refusal. Never raises:
        if even the copy cannot be written, the job's write stays failed (and is retried next tick)."""
        if record.report is not ReportState.PENDING:
            return
        try:
            container = self._blobs.container(targets.monitor)
            built = self._build(hub, record, job, targets, container, deadline, done, listed=listed,
                                at_once=True)
            if built is None:
                return
            report, json_name, _md_name, summary_lines = built
            previous = Delivery.from_json(record.delivery)
            self._put_copy(hub, record.job_id, report, previous, deadline)
            self._record_refusal(hub, record, job, report, targets, refusal, done, deadline,
                                 first_copy=previous is None, json_name=json_name, summary_lines=summary_lines,
                                 final=final)
        except Exception as exc:
            log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub, jobId=record.job_id,
                      error=type(exc).__name__, message=storage_error_text(exc), step="reportCopy")

    def _record_refusal(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], report: dict[str, Any], targets: JobTargets,
        exc: Exception, done: WriteOutcome, deadline: Deadline, *, first_copy: bool, json_name: str,
        summary_lines: int | None, final: bool = False,
    ) -> None:
        """A refused delivery beside the job, recorded in the copy (written already) and the state: tried again
        after the backoff, or given up past the job's history window."""
        outcome = delivery.refused(Delivery.from_json(record.delivery), refusal_of(exc, targets.monitor, final=final),
                                   job=job, now=self._clock())
        self._put_copy(hub, record.job_id, report, outcome, deadline)
        done.failed = False  # the backoff and the history window decide, not MAX_WRITE_FAILURES
        done.delivery = outcome.to_json()
        if first_copy:
            done.report_fields = _report_fields(report, json_name, summary_lines)
        if outcome.final:
            done.report_written = True
            done.skip = done.skip or (f"gave up writing beside the job after {outcome.attempts} attempt(s): "
                                      f"{outcome.reason}")

    def _put_copy(self, hub: str, job_id: str, report: Mapping[str, Any], recorded: Delivery | None,
                  deadline: Deadline) -> None:
        """The app's own copy, which the app serves, with the delivery as recorded. Built here, never read back
        from the job's container, which whoever created the job can write."""
        document = dict(report) if recorded is None else {**report, "delivery": recorded.to_json()}
        try:
            check_deadline(deadline)
            self._copies.put(hub, job_id, document, **call_options(deadline))
        except TickBudgetExhausted:
            raise
        except Exception as exc:
            raise ReportCopyUnwritten(f"the app's copy of the report could not be written ({storage_error_text(exc)})"
                                      ) from exc

    def _build(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, container: ContainerClient,
        deadline: Deadline, done: WriteOutcome, *, listed: Sequence[Mapping[str, Any]] = (), at_once: bool = False,
    ) -> tuple[dict[str, Any], str, str, int | None] | None:
        """The report (JSON), its blob names beside the job and its rejected-line count; None when the job needs
        none (then `done` says so). `at_once`: an unreadable errors log is not tried again first (the container
        refused us already; the copy says why, and the next delivery attempt builds the report afresh)."""
        summary, note, note_is_earlier = None, None, False
        if str(job.get("type", "")).lower() == "import":
            summary, note, note_is_earlier = self._evidence.summary(record, job, targets, deadline, listed,
                                                                  at_once=at_once)
        kind = report_kind(job, summary)
        if kind is None and note is not None and job_status(job) is JobStatus.COMPLETED and not note_is_earlier:
            # The log could not be read, or a later job overwrote it: whether lines were rejected is unknown,
            # and the report says so. A log older than the job is an earlier job's: this one wrote none.
            kind = ReportKind.IMPORT
        if kind is None:
            done.report_not_needed = True  # a completed import with nothing rejected, or a completed export
            return None
        if kind is ReportKind.IMPORT or summary is not None:
            # Why the log read is not the one the job named (its outputBlobName was unusable), if it is not.
            note = "; ".join(n for n in (log_blob(job, targets).note, note) if n) or None
        prefix = record.prefix or self._prefix
        json_name, md_name = report_blob_names(prefix, record.job_id, kind)
        input_lines = self._evidence.input_lines(job, targets, deadline) if summary is not None else None
        report = build_report(
            job, hub=hub, timeline=self._timeline(container, prefix, record, targets, deadline), kind=kind,
            import_errors=summary, import_errors_note=note, generated_at=self._clock(), input_lines=input_lines,
        )
        built: dict[str, Any] = report.to_json()
        return built, json_name, md_name, summary.total_lines if summary is not None else None

    def write_note(self, hub: str, record: JobRecord, job: Mapping[str, Any], deadline: Deadline,
                   done: WriteOutcome) -> None:
        """The report of a job given up after failed writes: the app's own copy only (the job's container is
        what kept failing), its timeline from the state, and why it was given up as its note."""
        report = build_report(job, hub=hub, timeline=_state_timeline(record), import_errors=None,
                              import_errors_note=None, generated_at=self._clock(), monitor_note=record.skipped)
        built = report.to_json()
        check_deadline(deadline)
        self._copies.put(hub, record.job_id, built, **call_options(deadline))
        done.report_written = True
        done.report_fields = {"status": built.get("status"), "hint": report.hint.key, "blob": None,
                              "importErrorLines": None, "note": built.get("monitorNote")}

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
            # Through a SAS without List, or refused outright (the report's copy is written all the same).
            if not list_refused(exc, targets.monitor) and storage_refusal(exc) is None:
                raise
            return _state_timeline(record)
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


def _report_fields(report: Mapping[str, Any], json_name: str, summary_lines: int | None) -> dict[str, Any]:
    hint = report.get("hint")
    return {"status": report.get("status"), "hint": hint.get("key") if isinstance(hint, Mapping) else None,
            "blob": json_name, "importErrorLines": summary_lines}


def _state_timeline(record: JobRecord) -> list[TimelineEntry]:
    """The job's timeline as the state recorded it."""
    return [TimelineEntry(seq=int(e["seq"]), status=str(e["status"]), progress=e.get("progress"),
                          polled_at_utc=str(e.get("polledAtUtc") or ""), blob=str(e.get("blob") or ""))
            for e in sorted(record.timeline, key=lambda e: int(e["seq"]))]


def _stored_report(data: bytes, job_id: str) -> dict[str, Any] | None:
    """A report an earlier tick stored for this job, or None for anything else found under its name."""
    document = parse_json_object(data)
    if document is None or document.get("jobId") != job_id:
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
