"""Writing one job's files: its pending snapshots, latest.json and report, each exactly once.

Names are deterministic (the seq comes from the state) and every write is conditional: snapshots and
reports are created with If-None-Match (an earlier, interrupted or overlapping tick may have written them
already), latest.json only ever moves forward (its metadata carries the revision). What was written is
returned as a WriteOutcome for the tick to confirm in the state (shared/poller/core.py).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline
from shared.errors import ImportLogOverrun, StateConflict, SummaryAborted, TickBudgetExhausted
from shared.logs import log_event
from shared.poller.core import WriteOutcome
from shared.poller.documents import latest_blob_name, report_json_blob_name, report_md_blob_name
from shared.poller.events import PollerEvent
from shared.poller.state import IMPORT_LOG_ATTEMPTS, JobRecord, PendingLatest, PendingSnapshot, ReportState
from shared.poller.storage import (
    BlobClients,
    blob_size,
    call_options,
    check_deadline,
    not_found,
    sas_refused,
    storage_error_text,
)
from shared.poller.targets import JobTargets
from shared.reports.import_errors import ImportErrorSummary, summarize_chunks
from shared.reports.markdown import render_markdown
from shared.reports.report import TimelineEntry, build_report

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

logger = logging.getLogger("jobmonitor.poller")

IMPORT_ERRORS_BLOB = "importErrors.log"
JSON_CONTENT = "application/json"
MARKDOWN_CONTENT = "text/markdown; charset=utf-8"
# importErrors.log: read at most this much (a longer log is summarised from its head, with a note), within
# this share of what is left of the tick's budget.
MAX_IMPORT_LOG_BYTES = 64 << 20
IMPORT_LOG_SHARE = 0.5


class JobWriter:
    """Writes jobs' files into their containers; process-wide, shared by the hubs' threads."""

    def __init__(
        self, *, blobs: BlobClients, prefix: str, sibling_container: str | None,
        clock: Callable[[], datetime.datetime], import_log_max_bytes: int = MAX_IMPORT_LOG_BYTES,
    ) -> None:
        self._blobs = blobs
        self._prefix = prefix
        self._sibling_container = sibling_container
        self._clock = clock
        self._import_log_max_bytes = import_log_max_bytes
        self._siblings_ready: set[tuple[str, str]] = set()
        # (hub, jobId) whose SAS storage refused: written with the managed identity from then on.
        self._sas_refused: set[tuple[str, str]] = set()
        self._sas_lock = threading.Lock()

    def write(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline
    ) -> WriteOutcome:
        done = WriteOutcome()
        key = (hub, record.job_id)
        if key in self._sas_refused:
            targets = targets.with_identity() or targets
        try:
            try:
                self._write_job_blobs(hub, record, job, targets, deadline, done)
            except Exception as exc:
                if not sas_refused(exc) or not targets.uses_sas:
                    raise
                fallback = targets.with_identity()
                if fallback is None:
                    # A refused SAS never widens what the identity may touch: outside the operator's list, the
                    # job is skipped (one log line, when the state records it).
                    done.failed = True
                    done.skip = (f"storage refused the job's SAS ({storage_error_text(exc)}) and "
                                 f"{targets.monitor.describe()} is not in MONITOR_IDENTITY_CONTAINERS")
                    return done
                # An expired SAS is often why the job failed: its report must not depend on that SAS.
                with self._sas_lock:
                    self._sas_refused.add(key)
                log_event(logger, PollerEvent.SAS_REFUSED, hub=hub, jobId=record.job_id,
                          container=targets.monitor.describe(), message=storage_error_text(exc))
                self._write_job_blobs(hub, record, job, fallback, deadline, done)
        except TickBudgetExhausted:
            pass  # left pending; the next tick finishes it
        except Exception as exc:
            done.failed = True
            log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub, jobId=record.job_id,
                      container=targets.monitor.describe(), error=type(exc).__name__, message=storage_error_text(exc),
                      failures=record.write_failures + 1)
        return done

    def _write_job_blobs(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        done: WriteOutcome,
    ) -> None:
        container = self._blobs.container(targets.monitor)
        if self._sibling_container is not None and targets.monitor.target.container == self._sibling_container:
            check_deadline(deadline)
            self._ensure_sibling(container, targets, deadline)
        for pending in sorted(record.pending, key=lambda p: p.seq):
            check_deadline(deadline)
            self._write_snapshot(container, pending, deadline)
            done.snapshots.add(pending.seq)
        if record.latest is not None:
            check_deadline(deadline)
            done.latest_etag = self._write_latest(container, record, record.latest, deadline)
            done.latest_rev = record.latest.rev
        if record.report == ReportState.PENDING:
            check_deadline(deadline)
            done.report_written = self._write_report(hub, record, job, targets, container, deadline)

    def _ensure_sibling(self, container: ContainerClient, targets: JobTargets, deadline: Deadline) -> None:
        """MONITOR_CONTAINER is created on first use in each account (once per process)."""
        from azure.core.exceptions import ResourceExistsError

        key = (targets.monitor.target.account_url, targets.monitor.target.container)
        if key in self._siblings_ready:
            return
        with contextlib.suppress(ResourceExistsError):
            container.create_container(**call_options(deadline))
        self._siblings_ready.add(key)

    @staticmethod
    def _write_snapshot(container: ContainerClient, pending: PendingSnapshot, deadline: Deadline) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        # Already there means written by an earlier, interrupted or overlapping tick: same seq, same name.
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(
                pending.blob, _json_bytes(pending.document), overwrite=False,
                content_settings=ContentSettings(content_type=JSON_CONTENT), **call_options(deadline),
            )

    def _write_latest(
        self, container: ContainerClient, record: JobRecord, latest: PendingLatest, deadline: Deadline
    ) -> str | None:
        """Write latest.json only forward: its metadata carries the revision, compared on any conflict."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        name = latest_blob_name(self._prefix, record.job_id)
        data = _json_bytes(latest.document)
        metadata = {"monitorrev": str(latest.rev), "monitorseq": str(record.seq)}
        settings = ContentSettings(content_type=JSON_CONTENT)
        etag = record.latest_etag
        blob = container.get_blob_client(name)
        for _ in range(4):
            check_deadline(deadline)  # no round starts after the deadline
            try:
                if etag is None:
                    result = blob.upload_blob(data, overwrite=False, metadata=metadata, content_settings=settings,
                                              **call_options(deadline))
                else:
                    result = blob.upload_blob(data, overwrite=True, metadata=metadata, content_settings=settings,
                                              etag=etag, match_condition=MatchConditions.IfNotModified,
                                              **call_options(deadline))
                return str(result["etag"])
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                check_deadline(deadline)
                try:
                    properties = blob.get_blob_properties(**call_options(deadline))
                except ResourceNotFoundError:
                    etag = None
                    continue
                theirs = int((properties.metadata or {}).get("monitorrev", "0") or 0)
                if theirs >= latest.rev:
                    return str(properties.etag)  # as new or newer already: nothing to do
                etag = str(properties.etag)
        raise StateConflict(f"latest.json of {record.job_id} kept changing")

    def _write_report(
        self,
        hub: str,
        record: JobRecord,
        job: Mapping[str, Any],
        targets: JobTargets,
        container: ContainerClient,
        deadline: Deadline,
    ) -> bool:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        json_name = report_json_blob_name(self._prefix, record.job_id)
        md_name = report_md_blob_name(self._prefix, record.job_id)
        summary, note = None, None
        if str(job.get("type", "")).lower() == "import":
            summary, note = self._import_summary(record, targets, deadline)
        report = build_report(
            job, hub=hub, timeline=[TimelineEntry(
                seq=int(e["seq"]), status=str(e["status"]), progress=e.get("progress"),
                polled_at_utc=str(e["polledAtUtc"]), blob=str(e.get("blob", "")),
            ) for e in record.timeline],
            import_errors=summary, import_errors_note=note, generated_at=self._clock(),
        )
        document: dict[str, Any] = report.to_json()
        check_deadline(deadline)
        created = False
        try:
            container.upload_blob(json_name, _json_bytes(document), overwrite=False,
                                  content_settings=ContentSettings(content_type=JSON_CONTENT), **call_options(deadline))
            created = True
        except ResourceExistsError:
            # Written by an earlier or overlapping tick: the Markdown follows what is stored.
            check_deadline(deadline)
            document = json.loads(container.download_blob(json_name, **call_options(deadline)).readall())
        check_deadline(deadline)
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(md_name, render_markdown(document).encode(), overwrite=False,
                                  content_settings=ContentSettings(content_type=MARKDOWN_CONTENT),
                                  **call_options(deadline))
        if created:
            log_event(logger, PollerEvent.REPORT_WRITTEN, hub=hub, jobId=record.job_id,
                      status=document.get("status"), hint=report.hint.key, blob=json_name,
                      importErrorLines=summary.total_lines if summary is not None else None)
        return True

    def _import_summary(
        self, record: JobRecord, targets: JobTargets, deadline: Deadline
    ) -> tuple[ImportErrorSummary | None, str | None]:
        """Summarise importErrors.log from the job's output container; (None, note) when it cannot be.

        At most `import_log_max_bytes` are read, within a share of what is left of the tick's budget (the
        report still has to be written). Running out of time counts as a failed attempt; after
        IMPORT_LOG_ATTEMPTS of them the report is written from the part that was read, and says so."""
        if targets.output is None:
            return None, (f"{IMPORT_ERRORS_BLOB} was not read: the output container has no usable SAS and is not "
                          "one the app's identity may read (MONITOR_IDENTITY_CONTAINERS)")
        log_deadline = Deadline(deadline.remaining() * IMPORT_LOG_SHARE)
        try:
            blob = self._blobs.container(targets.output).get_blob_client(IMPORT_ERRORS_BLOB)
            downloader = blob.download_blob(offset=0, length=self._import_log_max_bytes, **call_options(log_deadline))
            size = blob_size(downloader.properties)
            summary = summarize_chunks(downloader.chunks(), should_stop=lambda: log_deadline.remaining() <= 0)
        except SummaryAborted as aborted:
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
                raise ImportLogOverrun from None  # counts as a failed attempt; the next tick tries again
            return aborted.summary, (
                f"{IMPORT_ERRORS_BLOB} was only partly read: the time budget ran out {IMPORT_LOG_ATTEMPTS} times; "
                f"the summary covers its first {aborted.summary.bytes_read} bytes"
            )
        except Exception as exc:
            if not_found(exc):
                return None, f"{IMPORT_ERRORS_BLOB} was not found in the output container"
            if sas_refused(exc) and not targets.output.uses_identity:
                raise  # _write_job tries the managed identity, where it is allowed
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
                raise  # try again next tick
            return None, f"{IMPORT_ERRORS_BLOB} could not be read ({storage_error_text(exc)})"
        if size > self._import_log_max_bytes:
            return summary, (f"{IMPORT_ERRORS_BLOB} is {size} bytes: truncated, the summary covers its first "
                             f"{self._import_log_max_bytes} bytes")
        return summary, None


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False).encode()
