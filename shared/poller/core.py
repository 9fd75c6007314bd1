"""The poller's pure core: fold a job list into a hub's state (plan), fold what was written back (confirm),
and tell whether a list changes anything at all (the hub view). No I/O: tests/unit exercises it directly.

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

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.clock import parse_utc, utc_iso
from shared.jobs import JobStatus, job_progress, job_status
from shared.poller.documents import blob_safe_job_id, latest_document, snapshot_blob_name, snapshot_document
from shared.poller.events import PollerEvent
from shared.poller.state import (
    FORGET_AFTER,
    MAX_PENDING_SNAPSHOTS,
    MAX_WRITE_FAILURES,
    HubState,
    JobRecord,
    PendingLatest,
    PendingSnapshot,
    ReportState,
)


def hub_view(state: HubState, *, stall_after_seconds: float) -> HubView | None:
    """What a later tick may compare a job list with to skip reading the state (None: there is work)."""
    if any(record.has_work and record.skipped is None for record in state.jobs.values()):
        return None
    return HubView.of(state, stall_after_seconds=stall_after_seconds)


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
class WriteOutcome:
    """What one tick wrote for a job (or failed to), to be folded into the state at confirm time."""

    snapshots: set[int] = field(default_factory=set)
    latest_rev: int | None = None
    latest_etag: str | None = None
    report_written: bool = False
    failed: bool = False
    skip: str | None = None  # stop trying: the job's storage may not be written (the reason)


def confirm(
    state: HubState, done: Mapping[str, WriteOutcome], *, listed_ids: set[str], now: datetime.datetime
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
        if outcome.skip is not None:
            _give_up(record, outcome.skip)
        if outcome.failed:
            record.write_failures += 1
            if record.write_failures >= MAX_WRITE_FAILURES:
                _give_up(record, f"gave up after {record.write_failures} failed writes")
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


def _give_up(record: JobRecord, reason: str) -> None:
    """Stop working on a job: nothing of it is pending any more (logged once, by the tick)."""
    if record.skipped is not None:
        return
    record.skipped = reason
    record.pending, record.latest = [], None
    if record.report == ReportState.PENDING:
        record.report = ReportState.NOT_NEEDED
