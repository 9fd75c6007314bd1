"""The poller's pure core, directly: plan, confirm and the hub view, with no stand-in and no I/O."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from shared.clock import utc_iso
from shared.jobs import JobStatus
from shared.poller.core import HubView, PlanSettings, WriteOutcome, confirm, hub_view, plan
from shared.poller.events import PollerEvent
from shared.poller.state import FORGET_AFTER, MAX_WRITE_FAILURES, HubState, JobRecord, ReportState

T0 = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
SETTINGS = PlanSettings(prefix="jobmonitor", stall_after_seconds=3600, backfill_seconds=86400)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def job(job_id: str, status: str, progress: int | None = None, **props: Any) -> dict[str, Any]:
    document = {"jobId": job_id, "type": "export", "status": status,
                "outputBlobContainerUri": "https://a.blob.core.windows.net/c", **props}
    if progress is not None:
        document["progress"] = progress
    return document


def plan_at(state: HubState, jobs: list[Mapping[str, Any]], minutes: float, *, first_run: bool = False,
            reject: str | None = None) -> list[PollerEvent]:
    events = plan(state, jobs, first_run=first_run, listed_at=at(minutes), settings=SETTINGS,
                  reject=lambda _job: reject)
    return [event.event for event in events]


def fresh() -> HubState:
    return HubState(hub="devhub", created_at=utc_iso(T0))


def written(record: JobRecord, *, report: bool = False) -> WriteOutcome:
    """Everything `record` has pending, written."""
    return WriteOutcome(snapshots={p.seq for p in record.pending},
                        latest_rev=record.latest.rev if record.latest else None, latest_etag='"e"',
                        report_written=report)


def test_a_new_active_job_gets_seq_1_a_snapshot_and_a_latest_revision() -> None:
    state = fresh()
    assert plan_at(state, [job("j", "running", 10)], 0) == [PollerEvent.JOB_CHANGED]
    record = state.jobs["j"]
    assert (record.seq, record.status, record.progress, record.latest_rev) == (1, JobStatus.RUNNING, 10, 1)
    assert [p.blob for p in record.pending] == ["jobmonitor/j/snapshots/00001-running-10.json"]
    assert record.latest is not None and record.latest.document["snapshotSeq"] == 1
    assert record.report is ReportState.NONE


def test_an_unchanged_job_plans_nothing() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    before = state.jobs["j"].to_json()
    assert plan_at(state, [job("j", "running", 10)], 1) == []
    assert state.jobs["j"].to_json() == before


def test_each_change_takes_the_next_seq_and_failed_or_cancelled_jobs_get_a_report() -> None:
    for final, report in (("failed", ReportState.PENDING), ("cancelled", ReportState.PENDING),
                          ("completed", ReportState.NOT_NEEDED)):
        state = fresh()
        plan_at(state, [job("j", "running", 10)], 0)
        plan_at(state, [job("j", "running", 50)], 1)
        plan_at(state, [job("j", final, 50)], 2)
        record = state.jobs["j"]
        assert [p.seq for p in record.pending] == [1, 2, 3]
        assert [entry["status"] for entry in record.timeline] == ["running", "running", final]
        assert record.report is report, final


def test_an_observation_older_than_the_recorded_one_is_ignored() -> None:
    """A tick that listed before another tick claimed (a late or overlapping tick) must not undo the newer
    observation: same job, earlier list time, other status."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "completed", 100)], 5)
    assert plan_at(state, [job("j", "running", 60)], 4) == []
    record = state.jobs["j"]
    assert (record.seq, record.status, record.progress) == (2, JobStatus.COMPLETED, 100)


def test_the_first_run_records_old_finished_jobs_as_seen_and_watches_recent_ones() -> None:
    state = fresh()
    old = job("old", "failed", 20, endTimeUtc=utc_iso(at(-60 * 25)))
    recent = job("recent", "failed", 20, endTimeUtc=utc_iso(at(-60)))
    undated = job("undated", "failed", 20)
    assert plan_at(state, [old, recent, undated, job("active", "running", 1)], 0, first_run=True).count(
        PollerEvent.JOB_CHANGED) == 2
    assert state.jobs["old"].backfilled and not state.jobs["old"].has_work
    assert state.jobs["undated"].backfilled
    assert state.jobs["recent"].report is ReportState.PENDING
    assert state.jobs["active"].seq == 1


def test_a_rejected_job_is_skipped_once_and_never_planned() -> None:
    state = fresh()
    assert plan_at(state, [job("j", "running", 10)], 0, reject="host not allowed") == [PollerEvent.JOB_SKIPPED]
    assert state.jobs["j"].skipped == "host not allowed" and not state.jobs["j"].has_work
    assert plan_at(state, [job("j", "failed", 10)], 1, reject="host not allowed") == []


def test_a_job_that_stops_moving_is_flagged_stalled_once() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    confirm(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    assert plan_at(state, [job("j", "running", 10)], 59) == []
    assert plan_at(state, [job("j", "running", 10)], 61) == [PollerEvent.JOB_STALLED]
    record = state.jobs["j"]
    assert record.stalled and record.latest is not None and record.latest.document["stalled"] is True
    assert record.latest.rev == 2 and record.seq == 1  # a new latest.json revision, not a new snapshot
    confirm(state, {"j": written(record)}, listed_ids={"j"}, now=at(61))
    assert plan_at(state, [job("j", "running", 10)], 200) == []
    plan_at(state, [job("j", "running", 11)], 201)
    assert not state.jobs["j"].stalled


def test_confirm_drops_what_was_written_and_keeps_what_was_not() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "failed", 10)], 1)
    record = state.jobs["j"]
    assert confirm(state, {"j": WriteOutcome(snapshots={1})}, listed_ids={"j"}, now=at(1))
    assert [p.seq for p in record.pending] == [2]
    assert record.latest is not None and record.report is ReportState.PENDING
    confirm(state, {"j": written(record, report=True)}, listed_ids={"j"}, now=at(1))
    assert not record.has_work and state.jobs["j"].report is ReportState.WRITTEN
    assert record.timeline == []  # a finished job is compacted to (seq, status, progress)


def test_confirm_keeps_a_newer_latest_revision_claimed_by_another_tick() -> None:
    """This tick wrote revision 1; meanwhile another tick claimed revision 2. Confirming revision 1 must
    leave revision 2 pending, or latest.json would stay at the older document for ever."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "running", 20)], 1)  # the other tick's claim: revision 2
    record = state.jobs["j"]
    assert record.latest is not None and record.latest.rev == 2
    confirm(state, {"j": WriteOutcome(snapshots={1}, latest_rev=1, latest_etag='"e1"')}, listed_ids={"j"},
            now=at(1))
    assert record.latest is not None and record.latest.rev == 2


def test_repeated_write_failures_give_the_job_up_and_a_skip_stops_it_at_once() -> None:
    state = fresh()
    plan_at(state, [job("a", "failed", 1), job("b", "failed", 1)], 0)
    for attempt in range(1, MAX_WRITE_FAILURES + 1):
        confirm(state, {"a": WriteOutcome(failed=True)}, listed_ids={"a", "b"}, now=at(attempt))
        assert (state.jobs["a"].skipped is not None) == (attempt == MAX_WRITE_FAILURES)
    assert not state.jobs["a"].has_work
    confirm(state, {"b": WriteOutcome(failed=True, skip="storage refused the SAS")}, listed_ids={"a", "b"}, now=at(0))
    assert state.jobs["b"].skipped == "storage refused the SAS" and not state.jobs["b"].has_work


def test_an_absent_job_is_forgotten_only_when_idle_and_past_the_hubs_history() -> None:
    state = fresh()
    plan_at(state, [job("idle", "completed", 100), job("busy", "failed", 1)], 0)
    confirm(state, {"idle": written(state.jobs["idle"])}, listed_ids={"idle", "busy"}, now=at(0))
    # Both leave the list; only "idle" has nothing pending.
    confirm(state, {}, listed_ids=set(), now=at(1))
    assert state.jobs["idle"].absent_since == utc_iso(at(1))
    later = T0 + FORGET_AFTER + datetime.timedelta(days=1)
    confirm(state, {}, listed_ids=set(), now=later)
    assert "idle" not in state.jobs
    assert "busy" in state.jobs  # still has work: never forgotten
    # Back in a list: the absence is cleared and its seq continues.
    confirm(state, {}, listed_ids={"busy"}, now=later)
    assert state.jobs["busy"].absent_since is None


def test_the_hub_view_spares_a_steady_tick_every_state_read() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10), job("k", "completed", 100)], 0)
    assert hub_view(state, stall_after_seconds=3600) is None  # work pending: the state must be read
    confirm(state, {k: written(r) for k, r in state.jobs.items()}, listed_ids={"j", "k"}, now=at(0))
    view = hub_view(state, stall_after_seconds=3600)
    assert isinstance(view, HubView)
    steady = [job("j", "running", 10), job("k", "completed", 100)]
    assert view.matches(steady, now=at(1))
    assert not view.matches([job("j", "running", 11), job("k", "completed", 100)], now=at(1))
    assert not view.matches([*steady, job("new", "running", 0)], now=at(1))
    assert not view.matches(steady[:1], now=at(1))  # a job gone from the list changes the state
    assert not view.matches(steady, now=at(61))  # the stall check falls due


def test_records_round_trip_through_their_json_with_enums_as_strings() -> None:
    record = JobRecord(job_id="j", status=JobStatus.FAILED, report=ReportState.PENDING, seq=3)
    data = record.to_json()
    assert (data["status"], data["report"], data["seq"]) == ("failed", "pending", 3)
    back = JobRecord.from_json(data)
    assert (back.status, back.report, back.seq) == (JobStatus.FAILED, ReportState.PENDING, 3)
