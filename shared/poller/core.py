"""The poller's pure core: fold a job list into a hub's state (plan), and tell whether a list changes anything
at all (the hub view); folding what was written back (confirm) is shared/poller/confirm.py. No I/O: tests/unit
exercises both directly.

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

Nothing here orders observations by any instance's wall clock (clocks disagree between instances):
an observation is taken only if it moves the job forward (a later status, or more progress in the same
one); a finished job never goes back (an answer saying so is a hub anomaly, logged, not recorded); a job
listed twice in one answer counts once. Log lines of claimed changes wait in the state and are logged by
the tick whose confirm takes them out, so each is logged once, when that confirm lands.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.clock import parse_utc, utc_iso
from shared.jobs import JobStatus, job_end, job_progress, job_status
from shared.poller.documents import (
    blob_safe_job_id,
    latest_document,
    snapshot_blob_name,
    snapshot_document,
)
from shared.poller.events import PollerEvent
from shared.poller.state import (
    MAX_PENDING_SNAPSHOTS,
    HubState,
    JobRecord,
    PendingLatest,
    PendingSnapshot,
    ReportState,
)

# How far along a status is: an observation is taken only if it does not go back.
STATUS_RANK: dict[JobStatus, int] = {
    JobStatus.UNKNOWN: 0, JobStatus.QUEUED: 0, JobStatus.SCHEDULED: 0, JobStatus.ENQUEUED: 1,
    JobStatus.RUNNING: 2, JobStatus.COMPLETED: 3, JobStatus.FAILED: 3, JobStatus.CANCELLED: 3,
}


class Anomaly(str, Enum):
    """Hub answers the plan does not record as they are (each logged once per job and kind)."""

    LISTED_TWICE = "listedTwice"  # the same jobId twice in one list: counted once, the furthest along
    REOPENED = "reopened"  # a finished job listed as active again: not recorded


def hub_view(state: HubState, *, stall_after_seconds: float) -> HubView | None:
    """What a later tick may compare a job list with to skip reading the state (None: there is work)."""
    if state.events or any(record.needs_writing for record in state.jobs.values()):
        return None
    return HubView.of(state, stall_after_seconds=stall_after_seconds)


def target_key(job: Mapping[str, Any]) -> str:
    """A digest of the fields that decide where a job's files go: a refused job is looked at again when
    they change (its output URI appears, or moves)."""
    fields = f"{job.get('outputBlobContainerUri')!r}|{job.get('storageAuthenticationType')!r}"
    return hashlib.sha256(fields.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class HubView:
    """(status, progress) of every watched job, and when the next stall check falls due.

    A job list equal to the view, before `stall_due`, would plan nothing: the tick can skip reading and
    writing state. A view is only kept when nothing is pending, and any other tick's claim implies a list
    that differs from what it read, so a stale view can only lead to an unneeded read, never to lost work.
    Jobs whose target is refused are compared by their target fields, so a change there is looked at.
    """

    jobs: dict[str, tuple[JobStatus | None, int | None]]
    refused: dict[str, str]
    skipped: frozenset[str]
    stall_due: datetime.datetime | None

    @classmethod
    def of(cls, state: HubState, *, stall_after_seconds: float) -> HubView:
        due: datetime.datetime | None = None
        if stall_after_seconds > 0:
            for record in state.jobs.values():
                changed = parse_utc(record.changed_at)
                active = record.status is not None and not record.status.is_terminal
                if active and not record.stalled and record.skipped is None and record.refused is None and (
                        changed is not None):
                    when = changed + datetime.timedelta(seconds=stall_after_seconds)
                    due = when if due is None or when < due else due
        watched = {k: r for k, r in state.jobs.items() if r.skipped is None and r.absent_since is None}
        return cls(
            # A job absent from the last list is left out: should it come back, the list differs from the view.
            jobs={k: (r.status, r.progress) for k, r in watched.items() if r.refused is None},
            refused={k: r.refused_key or "" for k, r in watched.items() if r.refused is not None},
            skipped=frozenset(k for k, r in state.jobs.items() if r.skipped is not None),
            stall_due=due,
        )

    def matches(self, jobs: Iterable[Mapping[str, Any]], *, now: datetime.datetime) -> bool:
        if self.stall_due is not None and now >= self.stall_due:
            return False
        seen: dict[str, tuple[JobStatus | None, int | None]] = {}
        refused: dict[str, str] = {}
        for job in jobs:
            job_id = blob_safe_job_id(job.get("jobId"))
            if job_id is None or job_id in self.skipped:
                continue
            if job_id in self.refused:
                refused[job_id] = target_key(job)
            else:
                seen[job_id] = (job_status(job), job_progress(job))
        return seen == self.jobs and refused == self.refused


@dataclass(frozen=True, kw_only=True)
class PlanSettings:
    prefix: str
    stall_after_seconds: float
    backfill_seconds: float


def _ahead(status: JobStatus, progress: int | None, than: tuple[JobStatus, int | None]) -> bool:
    """Is (status, progress) further along than `than`? Finished beats active; more progress beats less."""
    rank, other_rank = STATUS_RANK[status], STATUS_RANK[than[0]]
    if rank != other_rank:
        return rank > other_rank
    return (progress if progress is not None else -1) > (than[1] if than[1] is not None else -1)


def collapse_duplicates(jobs: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], set[str]]:
    """One entry per blob-safe jobId (the furthest along, if the hub listed one twice), and the ids listed
    more than once."""
    chosen: dict[str, Mapping[str, Any]] = {}
    twice: set[str] = set()
    for job in jobs:
        job_id = blob_safe_job_id(job.get("jobId"))
        if job_id is None:
            continue
        seen = chosen.get(job_id)
        if seen is not None:
            twice.add(job_id)
            if not _ahead(job_status(job), job_progress(job), (job_status(seen), job_progress(seen))):
                continue
        chosen[job_id] = job
    return list(chosen.values()), twice


def _event(state: HubState, event: PollerEvent, *, warning: bool = False, **fields: Any) -> None:
    """A log line, claimed with the state: logged by the tick whose confirm takes it out."""
    state.events.append({"event": event.value, "warning": warning, "fields": fields})


def plan(
    state: HubState,
    jobs: Iterable[Mapping[str, Any]],
    *,
    first_run: bool,
    listed_at: datetime.datetime,
    settings: PlanSettings,
    reject: Callable[[Mapping[str, Any]], str | None],
) -> int:
    """Fold one job list into `state` (in place); the number of jobs whose record changed.

    `reject(job)` gives a reason when the job's storage must not be touched (host not on the allowlist, no
    output URI); it is asked on every plan, so a job whose URI appears, or moves, is looked at again.
    """
    # Times are stored to the millisecond: compare at that precision, or a just-stored time is "later".
    listed_at = parse_utc(utc_iso(listed_at)) or listed_at
    listed_iso = utc_iso(listed_at)
    backfilled = 0
    touched: set[str] = set()  # each job counted once, however many things changed in its record
    unique, twice = collapse_duplicates(jobs)
    for job in unique:
        job_id = str(blob_safe_job_id(job.get("jobId")))
        status, progress = job_status(job), job_progress(job)
        record = state.jobs.get(job_id)
        if record is None:
            record = JobRecord(job_id=job_id)
            state.jobs[job_id] = record
            touched.add(job_id)
            if first_run and status.is_terminal and _ended_before(job, listed_at, settings.backfill_seconds):
                record.status, record.progress, record.changed_at = status, progress, listed_iso
                record.backfilled, record.report = True, ReportState.NOT_NEEDED
                backfilled += 1
                continue
        if record.skipped is not None:
            continue  # given up for good
        before = record.to_json()
        if job_id in twice:
            _anomaly(state, record, Anomaly.LISTED_TWICE, status=status, progress=progress)
        if _refused(state, record, job, reject):
            if record.to_json() != before:
                touched.add(job_id)
            continue
        if record.status is not None and record.status.is_terminal and not status.is_terminal:
            _anomaly(state, record, Anomaly.REOPENED, status=status, progress=progress)
        elif record.status is None or (
            (status, progress) != (record.status, record.progress)
            and (_ahead(status, progress, (record.status, record.progress))
                 or (status.is_terminal and record.status.is_terminal))
        ):
            _change(state, record, job, status=status, progress=progress, listed_at=listed_at, settings=settings)
        elif (status, progress) == (record.status, record.progress):
            _stall_check(state, record, job, listed_at=listed_at, settings=settings)
        # else: behind what is recorded (a list older than the last claim): nothing to take from it
        if record.to_json() != before:
            touched.add(job_id)
    if backfilled:
        _event(state, PollerEvent.BACKFILLED, jobs=backfilled, backfillSeconds=settings.backfill_seconds)
    return len(touched)


def _refused(state: HubState, record: JobRecord, job: Mapping[str, Any],
             reject: Callable[[Mapping[str, Any]], str | None]) -> bool:
    """Is the job's target refused? A new refusal is logged once; a job that was never observed is not
    claimed while refused (nothing could be written), and is looked at again when its target fields change."""
    reason = reject(job)
    if reason is None:
        record.refused = record.refused_key = None
        return False
    if reason != record.refused:
        _event(state, PollerEvent.JOB_SKIPPED, warning=True, jobId=record.job_id, reason=reason)
    record.refused, record.refused_key = reason, target_key(job)
    return True


def _anomaly(state: HubState, record: JobRecord, kind: Anomaly, *, status: JobStatus, progress: int | None) -> None:
    if record.anomaly != kind.value:
        record.anomaly = kind.value
        _event(state, PollerEvent.HUB_ANOMALY, warning=True, jobId=record.job_id, anomaly=kind.value,
               status=status.value, progress=progress,
               recordedStatus=record.status.value if record.status is not None else None,
               recordedProgress=record.progress)


def _stall_check(state: HubState, record: JobRecord, job: Mapping[str, Any], *, listed_at: datetime.datetime,
                 settings: PlanSettings) -> None:
    changed_at = parse_utc(record.changed_at)
    status = record.status
    if (
        status is None or status.is_terminal or record.stalled or settings.stall_after_seconds <= 0
        or changed_at is None or (listed_at - changed_at).total_seconds() < settings.stall_after_seconds
    ):
        return
    record.stalled, record.stalled_since = True, record.changed_at
    record.latest_rev += 1
    snapshot = snapshot_document(job, hub=state.hub, polled_at=listed_at)
    prefix = record.prefix or settings.prefix
    record.latest = PendingLatest(rev=record.latest_rev, document=latest_document(
        snapshot, seq=record.seq,
        snapshot_blob=snapshot_blob_name(prefix, record.job_id, seq=record.seq, status=status,
                                         progress=record.progress),
        stalled=True, stalled_since=record.stalled_since, stall_after_seconds=settings.stall_after_seconds,
    ))
    _event(state, PollerEvent.JOB_STALLED, warning=True, jobId=record.job_id, status=status.value,
           progress=record.progress, stalledSinceUtc=record.stalled_since,
           stallAfterSeconds=settings.stall_after_seconds)


def _ended_before(job: Mapping[str, Any], now: datetime.datetime, window_seconds: float) -> bool:
    ended = job_end(job) or parse_utc(job.get("startTimeUtc"))  # a sentinel end is no end
    # No time at all: treat as old, so a first run never floods reports it cannot date.
    return ended is None or (now - ended).total_seconds() > window_seconds


def _change(
    state: HubState,
    record: JobRecord,
    job: Mapping[str, Any],
    *,
    status: JobStatus,
    progress: int | None,
    listed_at: datetime.datetime,
    settings: PlanSettings,
) -> None:
    previous = (record.status.value if record.status is not None else None, record.progress)
    record.seq += 1
    record.status, record.progress, record.changed_at = status, progress, utc_iso(listed_at)
    record.stalled, record.stalled_since = False, None
    blob = snapshot_blob_name(record.prefix or settings.prefix, record.job_id, seq=record.seq, status=status,
                              progress=progress)
    snapshot = snapshot_document(job, hub=state.hub, polled_at=listed_at)
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
    record.report = _report_after(record.report, status, job_type=job.get("type"))
    _event(state, PollerEvent.JOB_CHANGED, jobId=record.job_id, type=job.get("type"), seq=record.seq,
           status=status.value, progress=progress, previousStatus=previous[0], previousProgress=previous[1],
           blob=blob)


def _report_after(report: ReportState, status: JobStatus, *, job_type: object) -> ReportState:
    """Failed and cancelled jobs get a failure report; a completed import gets its errors log looked at (the
    writer writes an import report if it has lines, else settles it as not needed); a completed export
    needs none. A report already written stays written."""
    if report is ReportState.WRITTEN or not status.is_terminal:
        return report
    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return ReportState.PENDING
    is_import = isinstance(job_type, str) and job_type.lower() == "import"
    if report is ReportState.NONE:
        return ReportState.PENDING if is_import else ReportState.NOT_NEEDED
    return report
