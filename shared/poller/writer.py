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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline, parse_utc, utc_iso
from shared.errors import ImportLogOverrun, JobMonitorError, StateConflict, SummaryAborted, TickBudgetExhausted
from shared.jobs import JobStatus, job_status
from shared.logs import log_event
from shared.poller.core import Recovery, WriteOutcome
from shared.poller.documents import (
    LATEST_BLOB,
    NO_PROGRESS,
    SNAPSHOT_NAME,
    latest_blob_name,
    report_blob_names,
)
from shared.poller.events import PollerEvent
from shared.poller.state import IMPORT_LOG_ATTEMPTS, JobRecord, PendingLatest, PendingSnapshot, ReportState
from shared.poller.storage import (
    BlobClients,
    blob_size,
    call_options,
    check_deadline,
    list_folder,
    not_found,
    read_bounded_blob,
    sas_refused,
    storage_error_code,
    storage_error_hint,
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

# Every blob the poller writes says which hub's job it belongs to (jobs of two hubs can share an id).
HUB_METADATA = "monitorhub"
STATE_METADATA = "monitorstate"  # the state (its creation time) whose claim wrote a report
POLLED_METADATA = "monitorpolledat"  # a snapshot's polledAtUtc, so that a timeline needs no download
MAX_REPORT_BYTES = 8 << 20  # a stored report read back (its Markdown follows it)
SAME_SEQ_LIMIT = 100  # blobs numbered like one snapshot: one, or a folder that is not this state's
JSON_CONTENT = "application/json"
MARKDOWN_CONTENT = "text/markdown; charset=utf-8"
# importErrors.log: read at most this much (a longer log is summarised from its head, with a note), within
# this share of what is left of the tick's budget.
MAX_IMPORT_LOG_BYTES = 64 << 20
# Storage refuses a ranged read of an empty blob (416): for the errors log, that is an empty log.
EMPTY_BLOB_RANGE_CODE = "InvalidRange"
IMPORT_LOG_SHARE = 0.5
# An import's input is counted only up to this size, within this share of what is left of the budget.
MAX_INPUT_COUNT_BYTES = 64 << 20
INPUT_COUNT_SHARE = 0.25


class JobWriter:
    """Writes jobs' files into their containers; process-wide, shared by the hubs' threads."""

    def __init__(
        self, *, blobs: BlobClients, copies: ReportCopies, prefix: str, sibling_container: str | None,
        clock: Callable[[], datetime.datetime], import_log_max_bytes: int = MAX_IMPORT_LOG_BYTES,
    ) -> None:
        self._blobs = blobs
        self._copies = copies
        self._prefix = prefix
        self._sibling_container = sibling_container
        self._clock = clock
        self._import_log_max_bytes = import_log_max_bytes
        self._siblings_ready: set[tuple[str, str]] = set()
        # (hub, jobId) whose SAS storage refused: written with the managed identity from then on.
        self._sas_refused: set[tuple[str, str]] = set()
        self._sas_lock = threading.Lock()

    def write(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline, *,
        lineage: str = "",
    ) -> WriteOutcome:
        """Write what `record` has pending. `lineage` names the state the claims come from (its creation
        time): a report already written under another state (before the state was lost) is not logged
        again."""
        done = WriteOutcome()
        key = (hub, record.job_id)
        if key in self._sas_refused:
            targets = targets.with_identity() or targets
        try:
            try:
                self._write_job_blobs(hub, record, job, targets, deadline, done, lineage)
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
                self._write_job_blobs(hub, record, job, fallback, deadline, done, lineage)
        except TickBudgetExhausted:
            pass  # left pending; the next tick finishes it
        except _FolderTaken as taken:
            # What this tick "wrote" into a folder that is not (only) this job's does not count.
            done.snapshots.clear()
            done.latest_rev = done.latest_etag = None
            try:
                done.recovery = self._recovery(hub, record, taken.container, deadline)
            except TickBudgetExhausted:
                pass
            except Exception as exc:
                self._failed(done, exc, hub, record, targets)
        except Exception as exc:
            self._failed(done, exc, hub, record, targets)
        return done

    @staticmethod
    def _failed(done: WriteOutcome, exc: Exception, hub: str, record: JobRecord, targets: JobTargets) -> None:
        """One job's write failed: retried next tick, and the poller gives up after a number of them."""
        done.failed = True
        # A 403 says which refusal it is (firewall, SAS, role) and what to do about it.
        hint = storage_error_hint(exc, targets.monitor)
        log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub, jobId=record.job_id,
                  container=targets.monitor.describe(), error=type(exc).__name__, message=storage_error_text(exc),
                  code=storage_error_code(exc), hint=hint.key if hint else None,
                  advice=hint.text if hint else None, failures=record.write_failures + 1)

    def _write_job_blobs(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        done: WriteOutcome, lineage: str,
    ) -> None:
        container = self._blobs.container(targets.monitor)
        if self._sibling_container is not None and targets.monitor.target.container == self._sibling_container:
            check_deadline(deadline)
            self._ensure_sibling(container, targets, deadline)
        for pending in sorted(record.pending, key=lambda p: p.seq):
            check_deadline(deadline)
            self._write_snapshot(container, hub, record, pending, deadline)
            done.snapshots.add(pending.seq)
        if record.latest is not None:
            check_deadline(deadline)
            done.latest_etag = self._write_latest(container, hub, record, record.latest, deadline, done)
            done.latest_rev = record.latest.rev
        if record.report == ReportState.PENDING:
            check_deadline(deadline)
            self._write_report(hub, record, job, targets, container, deadline, done, lineage)

    def _ensure_sibling(self, container: ContainerClient, targets: JobTargets, deadline: Deadline) -> None:
        """MONITOR_CONTAINER is created on first use in each account (once per process)."""
        from azure.core.exceptions import ResourceExistsError

        key = (targets.monitor.target.account_url, targets.monitor.target.container)
        if key in self._siblings_ready:
            return
        with contextlib.suppress(ResourceExistsError):
            container.create_container(**call_options(deadline))
        self._siblings_ready.add(key)

    def _write_snapshot(
        self, container: ContainerClient, hub: str, record: JobRecord, pending: PendingSnapshot, deadline: Deadline
    ) -> None:
        """Create the snapshot unless its seq is taken. The seq alone says whether a snapshot exists: a blob
        with this seq and another (status, progress), or another hub's, means the folder holds numbers this
        state does not know (the state was lost or restored, or another hub's job has the id). So does a blob
        of this very name polled at another time: the same observation, claimed under another state, whose
        document (not this claim's) latest.json must then follow."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        taken = list_folder(container, pending.blob.rsplit("/", 1)[0] + f"/{pending.seq:05d}-", deadline=deadline,
                            limit=SAME_SEQ_LIMIT)
        if any(b.name != pending.blob or _foreign(b.metadata, hub) or _other_claim(b.metadata, pending)
               for b in taken):
            raise _FolderTaken(container)
        if taken:
            return  # written by an earlier, interrupted or overlapping tick: same seq, same name
        check_deadline(deadline)
        try:
            container.upload_blob(
                pending.blob, _json_bytes(pending.document), overwrite=False,
                metadata={HUB_METADATA: hub, "monitorseq": str(pending.seq),
                          POLLED_METADATA: str(pending.document.get("polledAtUtc", ""))},
                content_settings=ContentSettings(content_type=JSON_CONTENT), **call_options(deadline),
            )
        except ResourceExistsError:
            # Written meanwhile: by an overlapping tick of this hub (fine), or by another hub's job.
            check_deadline(deadline)
            properties = container.get_blob_client(pending.blob).get_blob_properties(**call_options(deadline))
            if _foreign(properties.metadata, hub) or _other_claim(properties.metadata, pending):
                raise _FolderTaken(container) from None

    def _write_latest(
        self, container: ContainerClient, hub: str, record: JobRecord, latest: PendingLatest, deadline: Deadline,
        done: WriteOutcome,
    ) -> str | None:
        """Write latest.json only forward: its metadata carries the revision, compared on any conflict. A
        revision newer than ours is left alone, and reported (`latest_behind`): the confirm claims above it
        if this state never claimed that far (the state was lost or restored)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        name = latest_blob_name(record.prefix or self._prefix, record.job_id)
        data = _json_bytes(latest.document)
        metadata = {"monitorrev": str(latest.rev), "monitorseq": str(record.seq), HUB_METADATA: hub}
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
                if _foreign(properties.metadata, hub):
                    raise _FolderTaken(container) from None
                theirs = _int((properties.metadata or {}).get("monitorrev"))
                if theirs >= latest.rev:
                    done.latest_behind = theirs
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
            job, hub=hub, timeline=self._timeline(container, prefix, record, deadline), kind=kind,
            import_errors=summary, import_errors_note=note, generated_at=self._clock(), input_lines=input_lines,
        )
        built: dict[str, Any] = report.to_json()
        document = built
        check_deadline(deadline)
        metadata = {HUB_METADATA: hub, STATE_METADATA: lineage}
        first_written = True
        try:
            container.upload_blob(json_name, _json_bytes(document), overwrite=False, metadata=metadata,
                                  content_settings=ContentSettings(content_type=JSON_CONTENT), **call_options(deadline))
        except ResourceExistsError:
            # Written by an earlier or overlapping tick: the Markdown follows what is stored.
            check_deadline(deadline)
            stored, stored_metadata = read_bounded_blob(container, json_name, max_bytes=MAX_REPORT_BYTES,
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
        # here, never read back from the job's container, which whoever created the job can write.
        self._copies.put(hub, record.job_id, built, **call_options(deadline))
        done.report_written = True
        if not first_written:
            return
        # Logged once, by the tick whose confirm records the report as written (shared/poller/core.py).
        done.report_fields = {"status": document.get("status"), "hint": report.hint.key, "blob": json_name,
                              "importErrorLines": summary.total_lines if summary is not None else None}

    @staticmethod
    def _timeline(container: ContainerClient, prefix: str, record: JobRecord, deadline: Deadline
                  ) -> list[TimelineEntry]:
        """The job's timeline as its folder holds it (one listing): right even after the state was lost."""
        folder = latest_blob_name(prefix, record.job_id).rsplit("/", 1)[0]
        check_deadline(deadline)
        entries = []
        for blob in list_folder(container, f"{folder}/snapshots/", deadline=deadline):
            match = SNAPSHOT_NAME.search(blob.name)
            if match is None:
                continue
            progress = match["progress"]
            entries.append(TimelineEntry(
                seq=int(match["seq"]), status=match["status"],
                progress=None if progress == NO_PROGRESS else int(progress),
                polled_at_utc=(blob.metadata or {}).get(POLLED_METADATA) or utc_iso(blob.last_modified),
                blob=blob.name,
            ))
        return sorted(entries, key=lambda entry: entry.seq)

    def _recovery(self, hub: str, record: JobRecord, container: ContainerClient, deadline: Deadline) -> Recovery:
        """What the job's folder holds, when a write found it taken: the highest snapshot, latest.json's
        revision, or another hub's job in it (then this job moves to `{prefix}/{hub}`)."""
        from azure.core.exceptions import ResourceNotFoundError

        prefix = record.prefix or self._prefix
        folder = latest_blob_name(prefix, record.job_id).rsplit("/", 1)[0]
        check_deadline(deadline)
        blobs = list_folder(container, f"{folder}/snapshots/", deadline=deadline)
        latest_rev, latest_foreign = 0, False
        check_deadline(deadline)
        try:
            properties = container.get_blob_client(f"{folder}/{LATEST_BLOB}").get_blob_properties(
                **call_options(deadline))
            latest_rev = _int((properties.metadata or {}).get("monitorrev"))
            latest_foreign = _foreign(properties.metadata, hub)
        except ResourceNotFoundError:
            pass
        if latest_foreign or any(_foreign(b.metadata, hub) for b in blobs):
            other = f"{self._prefix}/{hub}"
            if prefix != other:
                log_event(logger, PollerEvent.HUB_ANOMALY, level=logging.WARNING, hub=hub, jobId=record.job_id,
                          anomaly="jobIdOfAnotherHub", folder=folder, movedTo=f"{other}/{record.job_id}")
                return Recovery(prefix=other)
        numbered = sorted((int(m["seq"]), m["status"], m["progress"], b.name) for b in blobs
                          if (m := SNAPSHOT_NAME.search(b.name)) is not None)
        if not numbered:
            return Recovery(latest_rev=latest_rev)
        seq, status, progress, name = numbered[-1]
        check_deadline(deadline)
        stored, _metadata = read_bounded_blob(container, name, max_bytes=MAX_REPORT_BYTES, deadline=deadline)
        try:
            document = json.loads(stored)
        except ValueError:
            document = None
        return Recovery(max_seq=seq, last_pair=(status, None if progress == NO_PROGRESS else int(progress)),
                        last_blob=name, last_document=document if isinstance(document, dict) else None,
                        latest_rev=latest_rev,
                        pairs=frozenset((s, None if p == NO_PROGRESS else int(p)) for _q, s, p, _n in numbered))

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
            chunks = blob.download_blob(**call_options(count_deadline)).chunks()
            return count_lines(_within(count_deadline, chunks))
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
            downloader = blob.download_blob(offset=0, length=self._import_log_max_bytes, **call_options(log_deadline))
            size = blob_size(downloader.properties)
            modified = downloader.properties.last_modified
            foreign = log_not_this_jobs(modified, job)
            if foreign is not None:
                # Import jobs often share one output container: the log there may be another job's.
                started = parse_utc(job.get("startTimeUtc"))
                return None, f"{log_name} {foreign}, so this report cannot list its lines", (
                    started is not None and modified is not None and modified < started)
            summary = summarize_chunks(downloader.chunks(), should_stop=lambda: log_deadline.remaining() <= 0)
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
        if size > self._import_log_max_bytes:
            return summary, (f"{log_name} is {size} bytes: truncated, the summary covers its first "
                             f"{self._import_log_max_bytes} bytes"), False
        return summary, None, False


class _FolderTaken(JobMonitorError):
    """A write found the job's folder holding numbers this state does not know (see JobWriter._recovery)."""

    def __init__(self, container: ContainerClient) -> None:
        super().__init__("the job's folder holds snapshots this state does not know")
        self.container = container


def _foreign(metadata: Mapping[str, str] | None, hub: str) -> bool:
    """Written by another hub's job (blobs from before the metadata existed count as ours)."""
    owner = (metadata or {}).get(HUB_METADATA)
    return owner is not None and owner.lower() != hub.lower()


def _other_claim(metadata: Mapping[str, str] | None, pending: PendingSnapshot) -> bool:
    """A snapshot of this name written by another claim: its observation was polled at another time (blobs from
    before the metadata existed count as this claim's)."""
    polled = (metadata or {}).get(POLLED_METADATA)
    return polled is not None and polled != str(pending.document.get("polledAtUtc", ""))


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _within(deadline: Deadline, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, until the deadline passes (then TickBudgetExhausted)."""
    for chunk in chunks:
        check_deadline(deadline)
        yield chunk


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


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False).encode()
