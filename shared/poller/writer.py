"""Writing one job's files: its pending snapshots, latest.json and report (shared/poller/report_writer.py), each
exactly once.

Names are deterministic (the seq comes from the state) and every write is conditional: snapshots and
reports are created with If-None-Match (an earlier, interrupted or overlapping tick may have written them
already), latest.json only ever moves forward (its metadata carries the revision). What was written is
returned as a WriteOutcome for the tick to confirm in the state (shared/poller/confirm.py). A write that finds
the folder holding numbers the state does not know reads what it holds (`_recovery`) for the confirm.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline
from shared.errors import JobMonitorError, StateConflict, TargetRejected, TickBudgetExhausted
from shared.logs import log_event
from shared.poller.confirm import Recovery, WriteOutcome
from shared.poller.documents import (
    HUB_METADATA,
    JSON_CONTENT,
    LATEST_BLOB,
    MAX_RECORD_DOCUMENT_BYTES,
    POLLED_METADATA,
    job_folder,
    json_bytes,
    latest_blob_name,
    our_snapshot,
    parse_json_object,
    parse_snapshot_name,
)
from shared.poller.events import PollerEvent
from shared.poller.report_writer import ReportWriter
from shared.poller.state import JobRecord, PendingLatest, PendingSnapshot, ReportState
from shared.poller.storage import (
    BlobClients,
    call_options,
    check_deadline,
    list_folder,
    list_refused,
    read_bounded_blob,
    sas_refused,
    storage_error_code,
    storage_error_hint,
    storage_error_text,
)
from shared.poller.targets import Access, JobTargets

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

logger = logging.getLogger("jobmonitor.poller")

SAME_SEQ_LIMIT = 100  # blobs numbered like one snapshot: one, or a folder that is not this state's


class JobWriter:
    """Writes jobs' files into their containers; process-wide, shared by the hubs' threads."""

    def __init__(
        self, *, blobs: BlobClients, reports: ReportWriter, prefix: str, sibling_container: str | None,
    ) -> None:
        self._blobs = blobs
        self._reports = reports
        self._prefix = prefix
        self._sibling_container = sibling_container
        self._siblings_ready: set[tuple[str, str]] = set()
        # (hub, jobId) whose SAS storage refused: written with the managed identity from then on.
        self._sas_refused: set[tuple[str, str]] = set()
        self._sas_lock = threading.Lock()

    def write(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline, *,
        lineage: str = "", listed: Sequence[Mapping[str, Any]] = (),
    ) -> WriteOutcome:
        """Write what `record` has pending. `lineage` names the state the claims come from (its creation
        time): a report already written under another state (before the state was lost) is not logged
        again. `listed`: the hub's jobs in this tick's list, for the report."""
        done = WriteOutcome()
        if not self._reports.delivery_due(record):
            return done  # its report's delivery beside the job was refused: left alone until its next attempt
        key = (hub, record.job_id)
        if key in self._sas_refused:
            targets = targets.with_identity() or targets
        try:
            try:
                self._write_job_blobs(hub, record, job, targets, deadline, done, lineage, listed)
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
                    # The report still gets its copy, which says why it is not beside the job.
                    self._reports.write_refused(hub, record, job, targets, deadline, done, exc, final=True,
                                                listed=listed)
                    return done
                # An expired SAS is often why the job failed: its report must not depend on that SAS.
                with self._sas_lock:
                    self._sas_refused.add(key)
                log_event(logger, PollerEvent.SAS_REFUSED, hub=hub, jobId=record.job_id,
                          container=targets.monitor.describe(), message=storage_error_text(exc))
                self._write_job_blobs(hub, record, job, fallback, deadline, done, lineage, listed)
        except TickBudgetExhausted:
            pass  # left pending; the next tick finishes it
        except _FolderTaken as taken:
            # What this tick "wrote" into a folder that is not (only) this job's does not count.
            done.snapshots.clear()
            done.latest_rev = done.latest_etag = None
            # Recovery reads what whoever writes the job's container put there: whatever it raises (a refused
            # listing, a flooded folder, a body that does not parse) is this job's failure, never the hub's.
            try:
                done.recovery = self._recovery(hub, record, taken.container, deadline)
            except TickBudgetExhausted:
                pass  # left pending; the next tick recovers it
            except Exception as exc:
                self._failed(done, exc, hub, record, targets)
        except Exception as exc:
            self._failed(done, exc, hub, record, targets)
            if not done.report_tried:
                # The job's container refused us: the report's copy is written anyway, saying why.
                self._reports.write_refused(hub, record, job, targets, deadline, done, exc, listed=listed)
        return done

    def write_note(self, hub: str, record: JobRecord, job: Mapping[str, Any], deadline: Deadline) -> WriteOutcome:
        """The report owed by a job given up after failed writes, saying why (shared/poller/report_writer.py)."""
        done = WriteOutcome()
        try:
            self._reports.write_note(hub, record, job, deadline, done)
        except TickBudgetExhausted:
            pass  # left pending; the next tick finishes it
        except Exception as exc:
            self._failed(done, exc, hub, record, None)
        return done

    @staticmethod
    def _failed(done: WriteOutcome, exc: Exception, hub: str, record: JobRecord, targets: JobTargets | None) -> None:
        """One job's write failed: retried next tick, and the poller gives up after a number of them."""
        done.failed, done.error = True, storage_error_text(exc)
        # A 403 says which refusal it is (firewall, SAS, role) and what to do about it.
        hint = storage_error_hint(exc, targets.monitor) if targets is not None else None
        log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub, jobId=record.job_id,
                  container=targets.monitor.describe() if targets is not None else None, error=type(exc).__name__,
                  message=storage_error_text(exc),
                  code=storage_error_code(exc), hint=hint.key if hint else None,
                  advice=hint.text if hint else None, failures=record.write_failures + 1)

    def _write_job_blobs(
        self, hub: str, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        done: WriteOutcome, lineage: str, listed: Sequence[Mapping[str, Any]],
    ) -> None:
        container = self._blobs.container(targets.monitor)
        if self._sibling_container is not None and targets.monitor.target.container == self._sibling_container:
            check_deadline(deadline)
            self._ensure_sibling(container, targets, deadline)
        for pending in sorted(record.pending, key=lambda p: p.seq):
            check_deadline(deadline)
            self._write_snapshot(container, hub, record, pending, deadline, targets.monitor)
            done.snapshots.add(pending.seq)
        if record.latest is not None:
            check_deadline(deadline)
            done.latest_etag = self._write_latest(container, hub, record, record.latest, deadline, done)
            done.latest_rev = record.latest.rev
        if record.report == ReportState.PENDING:
            check_deadline(deadline)
            self._reports.write(hub, record, job, targets, container, deadline, done, lineage, listed)

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
        self, container: ContainerClient, hub: str, record: JobRecord, pending: PendingSnapshot, deadline: Deadline,
        access: Access,
    ) -> None:
        """Create the snapshot unless its seq is taken. The seq alone says whether a snapshot exists: a blob
        with this seq and another (status, progress), or another hub's, means the folder holds numbers this
        state does not know (the state was lost or restored, or another hub's job has the id). So does a blob
        of this very name polled at another time: the same observation, claimed under another state, whose
        document (not this claim's) latest.json must then follow."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError
        from azure.storage.blob import ContentSettings

        try:
            # Only snapshots count: whatever else is named like one (`00004-x.json`) is not this state's to number.
            taken = [b for b in list_folder(container, pending.blob.rsplit("/", 1)[0] + f"/{pending.seq:05d}-",
                                            deadline=deadline, limit=SAME_SEQ_LIMIT) if parse_snapshot_name(b.name)]
        except HttpResponseError as exc:
            if not list_refused(exc, access):
                raise
            # A SAS without List: the create-if-none below still never writes a name twice; what is lost is
            # seeing another number's snapshot of this seq (a state lost or restored, docs/poller.md).
            taken = []
        if any(b.name != pending.blob or _foreign(b.metadata, hub) or _other_claim(b.metadata, pending)
               for b in taken):
            raise _FolderTaken(container)
        if taken:
            return  # written by an earlier, interrupted or overlapping tick: same seq, same name
        check_deadline(deadline)
        try:
            container.upload_blob(
                pending.blob, json_bytes(pending.document), overwrite=False,
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
        data = json_bytes(latest.document)
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

    def _recovery(self, hub: str, record: JobRecord, container: ContainerClient, deadline: Deadline) -> Recovery:
        """What the job's folder holds, when a write found it taken: the highest snapshot, latest.json's
        revision, or another hub's job in it (then this job moves to `{prefix}/{hub}`). latest.json is looked
        at first: another hub's there moves the job without a listing (which a SAS without List refuses)."""
        from azure.core.exceptions import ResourceNotFoundError

        prefix = record.prefix or self._prefix
        folder = job_folder(prefix, record.job_id)
        latest_rev, latest_foreign = 0, False
        check_deadline(deadline)
        try:
            properties = container.get_blob_client(f"{folder}/{LATEST_BLOB}").get_blob_properties(
                **call_options(deadline))
            latest_rev = _int((properties.metadata or {}).get("monitorrev"))
            latest_foreign = _foreign(properties.metadata, hub)
        except ResourceNotFoundError:
            pass
        other = f"{self._prefix}/{hub}"
        if latest_foreign and prefix != other:
            return self._moved(hub, record, folder, other)
        # A refused listing (a SAS without List) cannot be recovered from: the job's failure, counted toward
        # giving up, logged with the hint that names the missing permission.
        check_deadline(deadline)
        blobs = list_folder(container, f"{folder}/snapshots/", deadline=deadline)
        if prefix != other and any(_foreign(b.metadata, hub) for b in blobs):
            return self._moved(hub, record, folder, other)
        numbered = sorted((*parsed, b.name) for b in blobs if (parsed := parse_snapshot_name(b.name)) is not None)
        if not numbered:
            return Recovery(latest_rev=latest_rev)
        seq, status, progress, name = numbered[-1]
        check_deadline(deadline)
        try:
            # latest.json (kept in the state until written) may be built from it: only a document of ours.
            stored, _metadata = read_bounded_blob(container, name, max_bytes=MAX_RECORD_DOCUMENT_BYTES,
                                                  deadline=deadline)
            document = our_snapshot(parse_json_object(stored), job_id=record.job_id, pair=(status, progress))
        except TargetRejected:
            document = None  # larger than any document of ours
        return Recovery(max_seq=seq, last_pair=(status, progress), last_blob=name, last_document=document,
                        latest_rev=latest_rev, pairs=frozenset((s, p) for _q, s, p, _n in numbered))

    @staticmethod
    def _moved(hub: str, record: JobRecord, folder: str, other: str) -> Recovery:
        """Another hub's job holds the folder: this job moves to `{prefix}/{hub}`."""
        log_event(logger, PollerEvent.HUB_ANOMALY, level=logging.WARNING, hub=hub, jobId=record.job_id,
                  anomaly="jobIdOfAnotherHub", folder=folder, movedTo=f"{other}/{record.job_id}")
        return Recovery(prefix=other)


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

