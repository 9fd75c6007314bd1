"""What the poller has seen and written, per hub, in AzureWebJobsStorage, updated with ETags.

One blob per hub (`{state_container}/hubs/{hub}.json`) holds a record per job. A tick reads it once,
plans from it and the hub's job list, and commits the plan *before* writing any job blob (claim),
then writes the claimed blobs and commits again to mark them done (confirm):

    claim:   record.seq += 1, the snapshot's name and document go to `pending`, latest.json's next
             revision to `latest`, a report to `report = pending`       (ETag-conditional: one winner)
    write:   snapshot (create-if-none), latest.json (revision-checked), report (create-if-none)
    confirm: drop what was written from `pending`                       (ETag-conditional, re-applied)

Because the claim is conditional, two overlapping ticks can never give one seq to two different
(status, progress) pairs; because every write is deterministic and conditional, a tick that dies
between any two steps leaves work in `pending` that the next tick finishes without duplicating it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.jobs import JobStatus
from shared.snapshots import (
    blob_safe_job_id,
    job_progress,
    job_status,
    latest_document,
    parse_utc,
    snapshot_blob_name,
    snapshot_document,
    utc_iso,
)

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

STATE_VERSION = 1
# A job's pending snapshots are capped: if its storage stays broken while it keeps moving, the oldest
# intermediate snapshots are given up (the newest one and the report always stay).
MAX_PENDING_SNAPSHOTS = 50
# After this many failed attempts to write a job's files, the poller stops trying (logged once).
MAX_WRITE_FAILURES = 100
# importErrors.log that cannot be read this many times running: the report is written without it.
IMPORT_LOG_ATTEMPTS = 3
# IoT Hub keeps a job in its list for 30 days after it ends. A job missing from a list is forgotten only
# once its last observed change is older than that (plus a margin) and nothing is pending for it: a job
# missing from one list (an empty or partial answer) keeps its record, so its seq continues if it returns.
FORGET_AFTER = datetime.timedelta(days=31)


class ReportState(str, Enum):
    NONE = "none"  # not (yet) a failed or cancelled job
    PENDING = "pending"
    WRITTEN = "written"
    NOT_NEEDED = "notNeeded"  # completed, or ended before the backfill window


class PollerEvent(str, Enum):
    """The poller's log events. The values are what the README's Kusto queries look for: keep them."""

    JOB_CHANGED = "poller.job_changed"
    REPORT_WRITTEN = "poller.report_written"
    JOB_STALLED = "poller.job_stalled"
    JOB_SKIPPED = "poller.job_skipped"
    BACKFILLED = "poller.backfilled"
    WRITE_FAILED = "poller.write_failed"
    SAS_REFUSED = "poller.sas_refused"
    HUB_FAILED = "poller.hub_failed"
    HUB_TIMED_OUT = "poller.hub_timed_out"
    TICK = "poller.tick"


@dataclass(kw_only=True)
class PendingSnapshot:
    seq: int
    blob: str
    document: dict[str, Any]


@dataclass(kw_only=True)
class PendingLatest:
    rev: int
    document: dict[str, Any]


@dataclass(kw_only=True)
class JobRecord:
    job_id: str
    seq: int = 0
    status: JobStatus | None = None
    progress: int | None = None
    changed_at: str | None = None  # when this (status, progress) was first observed
    timeline: list[dict[str, Any]] = field(default_factory=list)
    pending: list[PendingSnapshot] = field(default_factory=list)
    latest: PendingLatest | None = None
    latest_rev: int = 0  # the newest revision claimed for latest.json
    latest_etag: str | None = None  # ETag of latest.json as this poller last wrote it
    stalled: bool = False
    stalled_since: str | None = None
    report: ReportState = ReportState.NONE
    skipped: str | None = None
    backfilled: bool = False
    write_failures: int = 0
    absent_since: str | None = None  # first list that did not name the job (None: in the last list)

    @property
    def has_work(self) -> bool:
        return bool(self.pending) or self.latest is not None or self.report == ReportState.PENDING

    def stored_document(self) -> dict[str, Any] | None:
        """The newest redacted job document the state holds for pending work (None if none)."""
        if self.latest is not None:
            return self.latest.document
        return self.pending[-1].document if self.pending else None

    def to_json(self) -> dict[str, Any]:
        # Compact: empty or default fields are left out (a hub keeps up to 30 days of jobs). Built by
        # hand: dataclasses.asdict deep-copies and dominated the cost of saving a hub of 500 jobs.
        data: dict[str, Any] = {"job_id": self.job_id}
        for name, default in _RECORD_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                data[name] = value.value if isinstance(value, Enum) else value
        if self.pending:
            data["pending"] = [asdict(p) for p in self.pending]
        if self.latest is not None:
            data["latest"] = asdict(self.latest)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        values = dict(data)
        values["pending"] = [PendingSnapshot(**p) for p in values.get("pending", [])]
        latest = values.get("latest")
        values["latest"] = PendingLatest(**latest) if isinstance(latest, Mapping) else None
        if values.get("status") is not None:
            values["status"] = JobStatus.parse(values["status"])
        if "report" in values:
            values["report"] = ReportState(values["report"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


_RECORD_DEFAULTS: dict[str, Any] = {
    name: value for name, value in vars(JobRecord(job_id="")).items() if name not in ("job_id", "pending", "latest")
}


@dataclass(kw_only=True)
class HubState:
    hub: str
    created_at: str
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    def view(self, *, stall_after_seconds: float) -> HubView | None:
        """What a later tick may compare a job list with to skip reading the state (None: there is work)."""
        if any(record.has_work and record.skipped is None for record in self.jobs.values()):
            return None
        return HubView.of(self, stall_after_seconds=stall_after_seconds)

    def to_bytes(self) -> bytes:
        payload = {
            "version": STATE_VERSION,
            "hub": self.hub,
            "createdAtUtc": self.created_at,
            "jobs": {job_id: record.to_json() for job_id, record in sorted(self.jobs.items())},
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> HubState:
        payload = json.loads(data)
        return cls(
            hub=str(payload["hub"]),
            created_at=str(payload["createdAtUtc"]),
            jobs={k: JobRecord.from_json(v) for k, v in payload.get("jobs", {}).items()},
        )


@dataclass(frozen=True, kw_only=True)
class HubView:
    """(status, progress) of every watched job, and when the next stall check falls due.

    A job list equal to the view, before `stall_due`, would plan nothing: the tick can skip reading and
    writing state. A view is only kept when nothing is pending, and any other tick's claim implies a list
    that differs from what it read, so a stale view can only lead to an unneeded read, never to lost work.
    """

    jobs: dict[str, tuple[JobStatus | None, int | None]]
    skipped: frozenset[str]
    stall_due: datetime.datetime | None

    @classmethod
    def of(cls, state: HubState, *, stall_after_seconds: float) -> HubView:
        due: datetime.datetime | None = None
        if stall_after_seconds > 0:
            for record in state.jobs.values():
                changed = parse_utc(record.changed_at)
                active = record.status is not None and not record.status.is_terminal
                if active and not record.stalled and record.skipped is None and changed is not None:
                    when = changed + datetime.timedelta(seconds=stall_after_seconds)
                    due = when if due is None or when < due else due
        return cls(
            # A job absent from the last list is left out: should it come back, the list differs from the view.
            jobs={k: (r.status, r.progress) for k, r in state.jobs.items()
                  if r.skipped is None and r.absent_since is None},
            skipped=frozenset(k for k, r in state.jobs.items() if r.skipped is not None),
            stall_due=due,
        )

    def matches(self, jobs: Iterable[Mapping[str, Any]], *, now: datetime.datetime) -> bool:
        if self.stall_due is not None and now >= self.stall_due:
            return False
        seen: dict[str, tuple[JobStatus | None, int | None]] = {}
        for job in jobs:
            job_id = blob_safe_job_id(job.get("jobId"))
            if job_id is not None and job_id not in self.skipped:
                seen[job_id] = (job_status(job), job_progress(job))
        return seen == self.jobs


@dataclass(frozen=True, kw_only=True)
class PlanEvent:
    """A log line to emit once the plan is committed (so that only the winning tick says it)."""

    event: PollerEvent
    fields: dict[str, Any]
    warning: bool = False


@dataclass(frozen=True, kw_only=True)
class PlanSettings:
    prefix: str
    stall_after_seconds: float
    backfill_seconds: float


def plan(
    state: HubState,
    jobs: Iterable[Mapping[str, Any]],
    *,
    first_run: bool,
    listed_at: datetime.datetime,
    settings: PlanSettings,
    reject: Callable[[Mapping[str, Any]], str | None],
) -> list[PlanEvent]:
    """Fold one job list into `state` (in place); return the events to log if the result is committed.

    `reject(job)` gives a reason when the job's storage must not be touched (host not on the allowlist).
    """
    events: list[PlanEvent] = []
    listed_iso = utc_iso(listed_at)
    backfilled = 0
    for job in jobs:
        job_id = blob_safe_job_id(job.get("jobId"))
        if job_id is None:
            continue
        record = state.jobs.get(job_id)
        status, progress = job_status(job), job_progress(job)
        if record is None:
            record = JobRecord(job_id=job_id)
            if first_run and status.is_terminal and _ended_before(job, listed_at, settings.backfill_seconds):
                record.status, record.progress, record.changed_at = status, progress, listed_iso
                record.backfilled, record.report = True, ReportState.NOT_NEEDED
                state.jobs[job_id] = record
                backfilled += 1
                continue
            reason = reject(job)
            if reason is not None:
                record.skipped = reason
                state.jobs[job_id] = record
                events.append(PlanEvent(event=PollerEvent.JOB_SKIPPED, fields={"jobId": job_id, "reason": reason},
                                        warning=True))
                continue
            state.jobs[job_id] = record
        if record.skipped is not None:
            continue
        changed_at = parse_utc(record.changed_at)
        if (status, progress) != (record.status, record.progress):
            if changed_at is not None and listed_at <= changed_at:
                continue  # an overlapping tick already recorded a newer observation
            events.append(_change(record, job, status=status, progress=progress, hub=state.hub,
                                  listed_at=listed_at, settings=settings))
        elif (
            not status.is_terminal
            and not record.stalled
            and settings.stall_after_seconds > 0
            and changed_at is not None
            and (listed_at - changed_at).total_seconds() >= settings.stall_after_seconds
        ):
            record.stalled, record.stalled_since = True, record.changed_at
            record.latest_rev += 1
            snapshot = snapshot_document(job, hub=state.hub, polled_at=listed_at)
            record.latest = PendingLatest(rev=record.latest_rev, document=latest_document(
                snapshot, seq=record.seq,
                snapshot_blob=snapshot_blob_name(settings.prefix, job_id, seq=record.seq, status=status,
                                                 progress=progress),
                stalled=True, stalled_since=record.stalled_since, stall_after_seconds=settings.stall_after_seconds,
            ))
            events.append(PlanEvent(event=PollerEvent.JOB_STALLED, warning=True, fields={
                "jobId": job_id, "status": status.value, "progress": progress,
                "stalledSinceUtc": record.stalled_since, "stallAfterSeconds": settings.stall_after_seconds,
            }))
    if backfilled:
        events.append(PlanEvent(event=PollerEvent.BACKFILLED, fields={
            "jobs": backfilled, "backfillSeconds": settings.backfill_seconds,
        }))
    return events


def _ended_before(job: Mapping[str, Any], now: datetime.datetime, window_seconds: float) -> bool:
    ended = parse_utc(job.get("endTimeUtc")) or parse_utc(job.get("startTimeUtc"))
    # No time at all: treat as old, so a first run never floods reports it cannot date.
    return ended is None or (now - ended).total_seconds() > window_seconds


def _change(
    record: JobRecord,
    job: Mapping[str, Any],
    *,
    status: JobStatus,
    progress: int | None,
    hub: str,
    listed_at: datetime.datetime,
    settings: PlanSettings,
) -> PlanEvent:
    previous = (record.status.value if record.status is not None else None, record.progress)
    record.seq += 1
    record.status, record.progress, record.changed_at = status, progress, utc_iso(listed_at)
    record.stalled, record.stalled_since = False, None
    blob = snapshot_blob_name(settings.prefix, record.job_id, seq=record.seq, status=status, progress=progress)
    snapshot = snapshot_document(job, hub=hub, polled_at=listed_at)
    record.pending.append(PendingSnapshot(seq=record.seq, blob=blob, document=snapshot))
    if len(record.pending) > MAX_PENDING_SNAPSHOTS:
        del record.pending[0]
    record.timeline.append(
        {"seq": record.seq, "status": status.value, "progress": progress, "polledAtUtc": record.changed_at,
         "blob": blob}
    )
    record.latest_rev += 1
    record.latest = PendingLatest(rev=record.latest_rev, document=latest_document(
        snapshot, seq=record.seq, snapshot_blob=blob, stalled=False, stalled_since=None,
        stall_after_seconds=settings.stall_after_seconds,
    ))
    if status in (JobStatus.FAILED, JobStatus.CANCELLED) and record.report == ReportState.NONE:
        record.report = ReportState.PENDING
    elif status is JobStatus.COMPLETED and record.report == ReportState.NONE:
        record.report = ReportState.NOT_NEEDED
    return PlanEvent(event=PollerEvent.JOB_CHANGED, fields={
        "jobId": record.job_id, "type": job.get("type"), "seq": record.seq, "status": status.value,
        "progress": progress, "previousStatus": previous[0], "previousProgress": previous[1], "blob": blob,
    })


@dataclass(kw_only=True)
class Done:
    """What one tick wrote for a job, to be folded into the state at confirm time."""

    snapshots: set[int] = field(default_factory=set)
    latest_rev: int | None = None
    latest_etag: str | None = None
    report_written: bool = False
    failed: bool = False
    skip: str | None = None  # stop trying: the job's storage may not be written (the reason)


def confirm(
    state: HubState, done: Mapping[str, Done], *, listed_ids: set[str], now: datetime.datetime
) -> bool:
    """Fold what was written into `state` (in place); True if anything changed."""
    changed = False
    for job_id, outcome in done.items():
        record = state.jobs.get(job_id)
        if record is None:
            continue
        before = record.to_json()
        record.pending = [p for p in record.pending if p.seq not in outcome.snapshots]
        if outcome.latest_rev is not None:
            if record.latest is not None and record.latest.rev <= outcome.latest_rev:
                record.latest = None
            record.latest_etag = outcome.latest_etag
        if outcome.report_written and record.report == ReportState.PENDING:
            record.report = ReportState.WRITTEN
        if outcome.skip is not None and record.skipped is None:
            record.skipped = outcome.skip
            record.pending, record.latest = [], None
            if record.report == ReportState.PENDING:
                record.report = ReportState.NOT_NEEDED
        if outcome.failed:
            record.write_failures += 1
            if record.skipped is None and record.write_failures >= MAX_WRITE_FAILURES:
                record.skipped = f"gave up after {record.write_failures} failed writes"
                record.pending, record.latest = [], None
        elif outcome.snapshots or outcome.latest_rev is not None or outcome.report_written:
            record.write_failures = 0
        changed = changed or record.to_json() != before
    # Compaction: a finished job needs only (seq, status, progress) to never write twice.
    for job_id, record in list(state.jobs.items()):
        finished = record.status is not None and record.status.is_terminal
        if finished and not record.has_work and record.timeline:
            record.timeline = []
            changed = True
        if job_id in listed_ids:
            if record.absent_since is not None:
                record.absent_since = None
                changed = True
            continue
        if record.absent_since is None:
            record.absent_since = utc_iso(now)
            changed = True
        last_seen = parse_utc(record.changed_at) or parse_utc(record.absent_since)
        if not record.has_work and last_seen is not None and now - last_seen > FORGET_AFTER:
            # Gone from the hub's 30-day history: forget it.
            del state.jobs[job_id]
            changed = True
    return changed


class StateConflict(Exception):
    """Someone else updated the hub's state blob since it was read."""


class StateStore:
    """Hub state blobs in the state container; ETag-conditional saves."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self._container_ready = False

    @staticmethod
    def blob_name(hub: str) -> str:
        return f"hubs/{hub.lower()}.json"

    def load(self, hub: str, *, now: datetime.datetime, **options: Any) -> tuple[HubState, str | None]:
        """The hub's state and its ETag; a fresh state and None on the first run. `options` go to the
        storage call (per-call timeouts)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._container.download_blob(self.blob_name(hub), **options)
            data = downloader.readall()
        except ResourceNotFoundError:
            return HubState(hub=hub, created_at=utc_iso(now)), None
        etag = downloader.properties.etag
        return HubState.from_bytes(data), etag

    def save(self, state: HubState, etag: str | None, **options: Any) -> str:
        """Write the state if nobody changed it since `etag` (None: only if it does not exist yet)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        data = state.to_bytes()
        name = self.blob_name(state.hub)
        for _ in range(2):
            try:
                blob = self._container.get_blob_client(name)
                if etag is None:
                    result = blob.upload_blob(data, overwrite=False, **options)
                else:
                    result = blob.upload_blob(
                        data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified, **options
                    )
                return str(result["etag"])
            except (ResourceModifiedError, ResourceExistsError):
                raise StateConflict(state.hub) from None
            except ResourceNotFoundError:
                if self._container_ready:
                    raise
                self.ensure_container(**options)
        raise StateConflict(state.hub)

    def ensure_container(self, **options: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self._container.create_container(**options)
        self._container_ready = True
