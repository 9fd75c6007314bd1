"""Confirm: fold what one tick wrote back into the hub's state (shared/poller/core.py plans it), and recover
a job whose folder held numbers the state did not know. Pure, like the plan: tests/unit exercises it directly.

A write outcome drops what was written from `pending` and records the report; a job whose writes keep failing
is given up after MAX_WRITE_FAILURES (logged once); a job absent from the list is forgotten only when nothing is
pending for it and its last change is older than the hub's history. A collision with the folder (the state was
lost or restored, or another hub's job has the id) renumbers the pending snapshots after the folder's highest
seq, so that no number is given twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.clock import parse_utc, utc_iso
from shared.jobs import JobStatus, job_progress, job_status
from shared.poller.core import PlanSettings
from shared.poller.documents import LATEST_FIELDS, latest_document, snapshot_blob_name
from shared.poller.events import PollerEvent
from shared.poller.state import (
    FORGET_AFTER,
    MAX_WRITE_FAILURES,
    HubState,
    JobRecord,
    PendingLatest,
    ReportState,
)
from shared.reports.delivery import is_refusal


@dataclass(frozen=True, kw_only=True)
class Recovery:
    """What a job's folder already holds, found when a write collided with it: the state was lost or
    restored from an older copy (its numbers restarted), or another hub's job with the same id is there."""

    max_seq: int = 0  # the highest snapshot seq in the folder
    last_pair: tuple[str, int | None] | None = None  # that snapshot's (status, progress)
    last_blob: str | None = None
    last_document: dict[str, Any] | None = None  # that snapshot's document (latest.json is built from it)
    latest_rev: int = 0  # latest.json's revision (its metadata)
    pairs: frozenset[tuple[str, int | None]] = frozenset()  # every (status, progress) it has a snapshot of
    prefix: str | None = None  # move the job to this prefix: another hub's job holds the folder


@dataclass(kw_only=True)
class WriteOutcome:
    """What one tick wrote for a job (or failed to), to be folded into the state at confirm time."""

    snapshots: set[int] = field(default_factory=set)
    latest_rev: int | None = None
    latest_etag: str | None = None
    latest_behind: int | None = None  # latest.json holds this newer revision than the one written
    report_written: bool = False
    report_not_needed: bool = False  # a completed import whose errors log is empty or missing
    report_fields: dict[str, Any] = field(default_factory=dict)  # for the report_written log line
    delivery: dict[str, Any] | None = None  # the report's delivery beside the job after this attempt
    report_tried: bool = False  # the report step ran (it records the job's container's refusals itself)
    recovery: Recovery | None = None
    failed: bool = False
    error: str | None = None  # why the write failed (storage's code, redacted), for the give-up's note
    skip: str | None = None  # stop trying: the job's storage may not be written (the reason)


@dataclass(frozen=True, kw_only=True)
class Confirmed:
    changed: bool
    events: list[dict[str, Any]]  # log lines to emit once this confirm's save lands


def confirm(
    state: HubState, done: Mapping[str, WriteOutcome], *, listed_ids: set[str], now: datetime.datetime,
    settings: PlanSettings, confirm_id: str,
) -> Confirmed:
    """Fold what was written into `state` (in place). The state's claimed log lines, and those of the
    transitions made here, are returned: the tick logs them once this confirm's save lands."""
    changed = bool(state.events)
    events, state.events = state.events, []
    for job_id, outcome in done.items():
        record = state.jobs.get(job_id)
        if record is None:
            continue
        before = record.to_json()
        if outcome.recovery is not None:
            renamed = _recover(record, outcome.recovery, settings=settings)
            events = [kept for e in events if (kept := _renumbered(e, job_id, renamed)) is not None]
        record.pending = [p for p in record.pending if p.seq not in outcome.snapshots]
        if outcome.latest_rev is not None:
            if record.latest is not None and record.latest.rev <= outcome.latest_rev:
                document = record.latest.document
                record.latest = None
                if outcome.latest_behind is not None and record.latest_rev < outcome.latest_behind:
                    # latest.json is ahead of every revision this state ever claimed: the state was lost or
                    # restored. Claim above it, so that the newest observation is written after all.
                    record.latest_rev = outcome.latest_behind + 1
                    record.latest = PendingLatest(rev=record.latest_rev, document=document)
            record.latest_etag = outcome.latest_etag
        # Each attempt of the delivery beside the job is logged once (an overlapping tick's is not newer).
        fresh = outcome.delivery is not None and _attempts(outcome.delivery) > _attempts(record.delivery)
        if outcome.report_fields and (fresh or (outcome.delivery is None and outcome.report_written
                                                and record.report is ReportState.PENDING)):
            # None: written (and logged) earlier, or under an earlier, lost state.
            delivered = {"delivery": outcome.delivery.get("state")} if outcome.delivery is not None else {}
            events.append({"event": PollerEvent.REPORT_WRITTEN.value, "warning": False,
                           "fields": {"jobId": job_id, **outcome.report_fields, **delivered}})
        if fresh and outcome.delivery is not None:
            if is_refusal(outcome.delivery):
                events.append({"event": PollerEvent.REPORT_NOT_DELIVERED.value, "warning": True,
                               "fields": {"jobId": job_id, **outcome.delivery}})
            record.delivery = outcome.delivery
        if outcome.report_written and record.report is ReportState.PENDING:
            record.report, record.note_document = ReportState.WRITTEN, None
        elif outcome.report_not_needed and record.report is ReportState.PENDING:
            record.report = ReportState.NOT_NEEDED
        if outcome.skip is not None:
            events += _give_up(record, outcome.skip)
        if outcome.failed or outcome.recovery is not None:
            # A folder that needs recovering on every write (something planted there that recovery cannot
            # number past) is a write that never lands: it counts toward giving up like any failed one.
            record.write_failures += 1
            if record.write_failures >= MAX_WRITE_FAILURES:
                last = f"; the last: {outcome.error}" if outcome.error else ""
                events += _give_up(record, f"gave up after {record.write_failures} failed writes{last}",
                                   with_note=True)
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
    if changed:
        state.confirm_id = confirm_id
    return Confirmed(changed=changed, events=events)


def _renumbered(event: dict[str, Any], job_id: str, renamed: dict[int, tuple[int, str] | None]
                ) -> dict[str, Any] | None:
    """A claimed job_changed line after its snapshot was renumbered (or dropped: already in the folder)."""
    fields = event.get("fields", {})
    if event.get("event") != PollerEvent.JOB_CHANGED.value or fields.get("jobId") != job_id:
        return event
    if fields.get("seq") not in renamed:
        return event
    new = renamed[fields["seq"]]
    if new is None:
        return None
    return {**event, "fields": {**fields, "seq": new[0], "blob": new[1]}}


def _recover(record: JobRecord, recovery: Recovery, *, settings: PlanSettings) -> dict[int, tuple[int, str] | None]:
    """Claim again above what the folder holds: pending snapshots renumbered after its highest seq (the first
    dropped if it is the observation already there), latest.json above its revision; or move the job to
    another prefix when another hub's job holds its folder (the next write looks there in turn). Returns the
    old seqs with their new (seq, blob), or None for a dropped one."""
    if recovery.prefix is not None and recovery.prefix != record.prefix:
        record.prefix = recovery.prefix
        record.latest_etag = None
        return dict(_rename(record, start=min((p.seq for p in record.pending), default=record.seq + 1),
                            settings=settings))
    # An observation the folder has a snapshot of already (observations only move forward, so a pair never
    # comes twice) is not written again; the others follow the folder's highest seq.
    dropped: dict[int, tuple[int, str] | None] = {
        p.seq: None for p in record.pending
        if _pair(p.document) in recovery.pairs or _pair(p.document) == recovery.last_pair}
    pending = sorted((p for p in record.pending if p.seq not in dropped), key=lambda p: p.seq)
    record.pending = pending
    renamed: dict[int, tuple[int, str] | None] = {**dropped, **_rename(record, start=recovery.max_seq + 1,
                                                                       settings=settings)}
    for entry in record.timeline:  # the dropped observation's timeline entry is the folder's snapshot
        if entry.get("seq") in dropped:
            entry["seq"], entry["blob"] = recovery.max_seq, recovery.last_blob or entry.get("blob")
    if record.latest is not None or pending:
        # latest.json is the newest snapshot: the last one claimed, or (all claims were there already) the
        # folder's own newest one.
        record.latest_rev = max(record.latest_rev, recovery.latest_rev) + 1
        if pending:
            snapshot, last_seq, last_blob = pending[-1].document, pending[-1].seq, pending[-1].blob
        else:
            snapshot = recovery.last_document or (record.latest.document if record.latest is not None else {})
            last_seq, last_blob = recovery.max_seq, recovery.last_blob or ""
        snapshot = {k: v for k, v in snapshot.items() if k not in LATEST_FIELDS}
        record.latest = PendingLatest(rev=record.latest_rev, document=latest_document(
            snapshot, seq=last_seq, snapshot_blob=last_blob, stalled=record.stalled,
            stalled_since=record.stalled_since, stall_after_seconds=settings.stall_after_seconds))
    record.seq = max(recovery.max_seq, pending[-1].seq if pending else 0)
    record.latest_etag = None
    return renamed


def _rename(record: JobRecord, *, start: int, settings: PlanSettings) -> dict[int, tuple[int, str]]:
    """Number the pending snapshots from `start` on, under the record's prefix (names, timeline, latest)."""
    prefix = record.prefix or settings.prefix
    renamed: dict[int, tuple[int, str]] = {}
    for offset, pending in enumerate(sorted(record.pending, key=lambda p: p.seq)):
        seq = start + offset
        status = JobStatus.parse(pending.document.get("status"))
        blob = snapshot_blob_name(prefix, record.job_id, seq=seq, status=status,
                                  progress=job_progress(pending.document))
        renamed[pending.seq] = (seq, blob)
        pending.seq, pending.blob = seq, blob
    for entry in record.timeline:
        if entry.get("seq") in renamed:
            entry["seq"], entry["blob"] = renamed[entry["seq"]]
    if record.latest is not None and record.latest.document.get("snapshotSeq") in renamed:
        seq, blob = renamed[record.latest.document["snapshotSeq"]]
        record.latest.document = {**record.latest.document, "snapshotSeq": seq, "snapshotBlob": blob}
    if record.pending:
        record.seq = max(record.seq, record.pending[-1].seq)
    return renamed


def _pair(document: Mapping[str, Any]) -> tuple[str, int | None]:
    return job_status(document).value, job_progress(document)


def _attempts(delivery: Mapping[str, Any] | None) -> int:
    attempts = (delivery or {}).get("attempts")
    return attempts if isinstance(attempts, int) else 0


def _give_up(record: JobRecord, reason: str, *, with_note: bool = False) -> list[dict[str, Any]]:
    """Stop working on a job: nothing of it is pending any more; one log line. `with_note`: a report it owes is
    still written, once more, as the app's own copy saying why (the job's container is what kept failing);
    a job given up on already (that report failing too) owes nothing more."""
    if record.skipped is not None:
        record.report, record.note_document, record.write_failures = ReportState.NOT_NEEDED, None, 0
        return []
    document = record.stored_document()
    record.skipped = reason
    record.pending, record.latest = [], None
    if record.report is ReportState.PENDING:
        if with_note:
            record.note_document, record.write_failures = document, 0
        else:
            record.report = ReportState.NOT_NEEDED
    return [{"event": PollerEvent.JOB_SKIPPED.value, "warning": True,
             "fields": {"jobId": record.job_id, "reason": reason}}]
