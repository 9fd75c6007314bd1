"""The poller's pure core, directly: plan, confirm and the hub view, with no stand-in and no I/O."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import pytest

from shared.clock import utc_iso
from shared.errors import StateTooNew, StateUnreadable
from shared.jobs import JobStatus
from shared.poller.confirm import Confirmed, Recovery, WriteOutcome, confirm
from shared.poller.core import HubView, PlanSettings, hub_view, plan
from shared.poller.events import PollerEvent
from shared.poller.state import FORGET_AFTER, MAX_WRITE_FAILURES, STATE_VERSION, HubState, JobRecord, ReportState

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
    """Plan, and the events the plan claimed (they wait in the state for the confirm)."""
    before = len(state.events)
    plan(state, jobs, first_run=first_run, listed_at=at(minutes), settings=SETTINGS, reject=lambda _job: reject)
    return [PollerEvent(event["event"]) for event in state.events[before:]]


def confirm_at(state: HubState, done: Mapping[str, WriteOutcome], *, listed_ids: set[str],
               now: datetime.datetime) -> Confirmed:
    return confirm(state, done, listed_ids=listed_ids, now=now, settings=SETTINGS, confirm_id="tick")


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


def test_an_observation_behind_the_recorded_one_is_never_taken() -> None:
    """No wall clock orders observations (instances' clocks disagree): a list that shows the job behind what
    is recorded (a tick that listed before another one claimed) changes nothing. Less progress is dropped
    silently; a finished job shown active again is a hub anomaly, logged once, not recorded."""
    state = fresh()
    plan_at(state, [job("j", "running", 50)], 0)
    assert plan_at(state, [job("j", "running", 40)], 1) == []
    assert plan_at(state, [job("j", "enqueued", 0)], 1) == []
    assert (state.jobs["j"].seq, state.jobs["j"].progress) == (1, 50)
    plan_at(state, [job("j", "completed", 100)], 2)
    assert plan_at(state, [job("j", "running", 60)], 3) == [PollerEvent.HUB_ANOMALY]
    assert plan_at(state, [job("j", "running", 70)], 4) == []  # once per kind
    record = state.jobs["j"]
    assert (record.seq, record.status, record.progress) == (2, JobStatus.COMPLETED, 100)


def test_observations_are_taken_whatever_the_listing_clock_says() -> None:
    """A list timed before the recorded change (a slow clock on another instance) still moves the job."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 10)
    assert plan_at(state, [job("j", "running", 20)], 0) == [PollerEvent.JOB_CHANGED]
    assert state.jobs["j"].seq == 2


def test_a_finished_job_that_ends_again_otherwise_gets_its_report() -> None:
    """completed -> running -> failed: the reopening is an anomaly, the failure is recorded and reported."""
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    assert state.jobs["j"].report is ReportState.NOT_NEEDED
    plan_at(state, [job("j", "running", 10)], 1)
    assert plan_at(state, [job("j", "failed", 10)], 2) == [PollerEvent.JOB_CHANGED]
    assert (state.jobs["j"].status, state.jobs["j"].report) == (JobStatus.FAILED, ReportState.PENDING)


def test_a_job_listed_twice_counts_once_at_its_furthest() -> None:
    state = fresh()
    events = plan_at(state, [job("j", "running", 10), job("j", "running", 30), job("j", "running", 20)], 0)
    assert sorted(events) == sorted([PollerEvent.HUB_ANOMALY, PollerEvent.JOB_CHANGED])
    assert (state.jobs["j"].seq, state.jobs["j"].progress) == (1, 30)
    assert plan_at(state, [job("j", "running", 30), job("j", "running", 30)], 1) == []


def test_a_completed_import_has_its_errors_log_looked_at_and_an_export_does_not() -> None:
    state = fresh()
    plan_at(state, [job("i", "completed", 100, type="import"), job("e", "completed", 100)], 0)
    assert (state.jobs["i"].report, state.jobs["e"].report) == (ReportState.PENDING, ReportState.NOT_NEEDED)
    confirm_at(state, {"i": WriteOutcome(report_not_needed=True)}, listed_ids={"i", "e"}, now=at(0))
    assert state.jobs["i"].report is ReportState.NOT_NEEDED


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


def test_a_refused_job_is_logged_once_not_claimed_and_taken_once_its_target_is_accepted() -> None:
    state = fresh()
    assert plan_at(state, [job("j", "running", 10)], 0, reject="host not allowed") == [PollerEvent.JOB_SKIPPED]
    record = state.jobs["j"]
    assert record.refused == "host not allowed" and not record.has_work and record.seq == 0
    assert plan_at(state, [job("j", "failed", 10)], 1, reject="host not allowed") == []
    view = hub_view(state, stall_after_seconds=0)
    assert view is None  # the skip line still waits for its confirm
    confirm_at(state, {}, listed_ids={"j"}, now=at(1))
    view = hub_view(state, stall_after_seconds=0)
    assert view is not None and view.matches([job("j", "failed", 10)], now=at(2))
    moved = job("j", "failed", 10, outputBlobContainerUri="https://b.blob.core.windows.net/c")
    assert not view.matches([moved], now=at(2))  # its target fields changed: looked at again
    assert plan_at(state, [moved], 2) == [PollerEvent.JOB_CHANGED]
    assert state.jobs["j"].refused is None and state.jobs["j"].report is ReportState.PENDING


def test_a_job_that_stops_moving_is_flagged_stalled_once() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    assert plan_at(state, [job("j", "running", 10)], 59) == []
    assert plan_at(state, [job("j", "running", 10)], 61) == [PollerEvent.JOB_STALLED]
    record = state.jobs["j"]
    assert record.stalled and record.latest is not None and record.latest.document["stalled"] is True
    assert record.latest.rev == 2 and record.seq == 1  # a new latest.json revision, not a new snapshot
    confirm_at(state, {"j": written(record)}, listed_ids={"j"}, now=at(61))
    assert plan_at(state, [job("j", "running", 10)], 200) == []
    plan_at(state, [job("j", "running", 11)], 201)
    assert not state.jobs["j"].stalled


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_a_finished_job_is_never_flagged_stalled(final: str) -> None:
    state = fresh()
    plan_at(state, [job("j", final, 40)], 0)
    record = state.jobs["j"]
    confirm_at(state, {"j": written(record, report=True)}, listed_ids={"j"}, now=at(0))
    view = hub_view(state, stall_after_seconds=SETTINGS.stall_after_seconds)
    assert view is not None and view.stall_due is None
    assert plan_at(state, [job("j", final, 40)], 24 * 60) == []
    assert not record.stalled and not record.has_work


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_the_first_run_backfills_a_job_that_finished_long_ago_whatever_its_end(final: str) -> None:
    state = fresh()
    assert plan_at(state, [job("j", final, 40, endTimeUtc=utc_iso(at(-60 * 25)))], 0, first_run=True) == [
        PollerEvent.BACKFILLED]
    record = state.jobs["j"]
    assert record.backfilled and record.seq == 0 and not record.has_work
    assert record.report is ReportState.NOT_NEEDED


def test_confirm_drops_what_was_written_and_keeps_what_was_not() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "failed", 10)], 1)
    record = state.jobs["j"]
    assert confirm_at(state, {"j": WriteOutcome(snapshots={1})}, listed_ids={"j"}, now=at(1)).changed
    assert [p.seq for p in record.pending] == [2]
    assert record.latest is not None and record.report is ReportState.PENDING
    confirm_at(state, {"j": written(record, report=True)}, listed_ids={"j"}, now=at(1))
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
    confirm_at(state, {"j": WriteOutcome(snapshots={1}, latest_rev=1, latest_etag='"e1"')}, listed_ids={"j"},
            now=at(1))
    assert record.latest is not None and record.latest.rev == 2


def test_repeated_write_failures_give_the_job_up_and_a_skip_stops_it_at_once() -> None:
    state = fresh()
    plan_at(state, [job("a", "failed", 1), job("b", "failed", 1)], 0)
    for attempt in range(1, MAX_WRITE_FAILURES + 1):
        confirm_at(state, {"a": WriteOutcome(failed=True)}, listed_ids={"a", "b"}, now=at(attempt))
        assert (state.jobs["a"].skipped is not None) == (attempt == MAX_WRITE_FAILURES)
    # Nothing but the report it owes, which says why (written from the newest document the claim stored).
    given_up = state.jobs["a"]
    assert not given_up.pending and given_up.latest is None and given_up.report is ReportState.PENDING
    assert given_up.note_document is not None and given_up.note_document["jobId"] == "a"
    assert given_up.needs_writing and given_up.write_failures == 0
    # That report failing as often too: nothing more is owed.
    for _attempt in range(MAX_WRITE_FAILURES):
        confirm_at(state, {"a": WriteOutcome(failed=True)}, listed_ids={"a", "b"}, now=at(0))
    assert not given_up.has_work and given_up.note_document is None
    assert given_up.skipped == f"gave up after {MAX_WRITE_FAILURES} failed writes"
    skip = WriteOutcome(failed=True, skip="storage refused the SAS")
    confirm_at(state, {"b": skip}, listed_ids={"a", "b"}, now=at(0))
    assert state.jobs["b"].skipped == "storage refused the SAS" and not state.jobs["b"].has_work


def test_a_job_given_up_after_failed_writes_owes_a_report_that_says_why_once() -> None:
    state = fresh()
    plan_at(state, [job("a", "failed", 1)], 0)
    for attempt in range(1, MAX_WRITE_FAILURES + 1):
        error = "HTTP 403 AuthorizationPermissionMismatch" if attempt == MAX_WRITE_FAILURES else "HTTP 500"
        confirm_at(state, {"a": WriteOutcome(failed=True, error=error)}, listed_ids={"a"}, now=at(attempt))
    record = state.jobs["a"]
    assert record.skipped == (f"gave up after {MAX_WRITE_FAILURES} failed writes; "
                              "the last: HTTP 403 AuthorizationPermissionMismatch")
    assert record.stored_document() == record.note_document
    done = confirm_at(state, {"a": WriteOutcome(report_written=True, report_fields={"status": "failed"})},
                      listed_ids={"a"}, now=at(0))
    assert record.report is ReportState.WRITTEN and record.note_document is None and not record.needs_writing
    assert [e["event"] for e in done.events] == ["poller.report_written"]


def test_an_absent_job_is_forgotten_only_when_idle_and_past_the_hubs_history() -> None:
    state = fresh()
    plan_at(state, [job("idle", "completed", 100), job("busy", "failed", 1)], 0)
    confirm_at(state, {"idle": written(state.jobs["idle"])}, listed_ids={"idle", "busy"}, now=at(0))
    # Both leave the list; only "idle" has nothing pending.
    confirm_at(state, {}, listed_ids=set(), now=at(1))
    assert state.jobs["idle"].absent_since == utc_iso(at(1))
    later = T0 + FORGET_AFTER + datetime.timedelta(days=1)
    confirm_at(state, {}, listed_ids=set(), now=later)
    assert "idle" not in state.jobs
    assert "busy" in state.jobs  # still has work: never forgotten
    # Back in a list: the absence is cleared and its seq continues.
    confirm_at(state, {}, listed_ids={"busy"}, now=later)
    assert state.jobs["busy"].absent_since is None


def test_the_hub_view_spares_a_steady_tick_every_state_read() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10), job("k", "completed", 100)], 0)
    assert hub_view(state, stall_after_seconds=3600) is None  # work pending: the state must be read
    confirm_at(state, {k: written(r) for k, r in state.jobs.items()}, listed_ids={"j", "k"}, now=at(0))
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


def test_a_collision_renumbers_the_claims_above_what_the_folder_holds() -> None:
    """The state was lost: this record restarted at seq 1 while the folder holds 1-3 (running 10..30)."""
    state = fresh()
    plan_at(state, [job("j", "running", 30)], 0)
    plan_at(state, [job("j", "failed", 30)], 1)
    record = state.jobs["j"]
    assert [p.seq for p in record.pending] == [1, 2]
    recovery = Recovery(max_seq=3, last_pair=("running", 30), last_blob="jobmonitor/j/snapshots/00003-running-30.json",
                        latest_rev=5)
    confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(1))
    # running-30 is the folder's newest snapshot already: dropped; failed-30 follows it as seq 4.
    assert [(p.seq, p.blob) for p in record.pending] == [(4, "jobmonitor/j/snapshots/00004-failed-30.json")]
    assert record.seq == 4
    assert record.latest is not None and record.latest.rev == 6
    assert (record.latest.document["snapshotSeq"], record.latest.document["snapshotBlob"]) == (
        4, "jobmonitor/j/snapshots/00004-failed-30.json")
    assert [entry["seq"] for entry in record.timeline if entry["status"] == "failed"] == [4]


def test_a_folder_held_by_another_hubs_job_moves_this_job_to_a_hub_folder() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    confirm_at(state, {"j": WriteOutcome(recovery=Recovery(prefix="jobmonitor/devhub"))}, listed_ids={"j"}, now=at(0))
    record = state.jobs["j"]
    assert record.prefix == "jobmonitor/devhub"
    assert [p.blob for p in record.pending] == ["jobmonitor/devhub/j/snapshots/00001-running-10.json"]
    assert record.latest is not None and record.latest.document["snapshotBlob"] == record.pending[0].blob
    plan_at(state, [job("j", "running", 20)], 1)
    assert record.pending[-1].blob == "jobmonitor/devhub/j/snapshots/00002-running-20.json"


def test_latest_json_ahead_of_every_claimed_revision_is_claimed_above() -> None:
    """A restored state wrote revision 2 of latest.json where revision 7 already was: latest.json kept 7 (it
    only moves forward), so the confirm claims 8 with the newest document, which the next tick writes."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "running", 20)], 1)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(snapshots={1, 2}, latest_rev=2, latest_etag='"7"', latest_behind=7)},
               listed_ids={"j"}, now=at(1))
    assert record.latest is not None and record.latest.rev == 8 and record.latest.document["progress"] == 20
    assert record.latest_etag == '"7"'


def test_claimed_log_lines_are_handed_out_once_by_the_confirm_that_takes_them() -> None:
    state = fresh()
    plan_at(state, [job("j", "failed", 10)], 0)
    outcome = WriteOutcome(snapshots={1}, latest_rev=1, latest_etag='"e"', report_written=True,
                           report_fields={"hint": "unknown"})
    first = confirm_at(state, {"j": outcome}, listed_ids={"j"}, now=at(0))
    assert [e["event"] for e in first.events] == ["poller.job_changed", "poller.report_written"]
    assert state.events == [] and state.confirm_id == "tick"
    again = confirm_at(state, {"j": outcome}, listed_ids={"j"}, now=at(0))
    assert again.events == [] and not again.changed


def test_a_state_keeps_what_a_later_version_wrote_and_refuses_a_later_version() -> None:
    data = {"version": STATE_VERSION, "hub": "devhub", "createdAtUtc": "x", "future": {"a": 1},
            "jobs": {"j": {"job_id": "j", "seq": 2, "status": "running", "newField": [1, 2]}}}
    state = HubState.from_bytes(json.dumps(data).encode())
    again = json.loads(state.to_bytes())
    assert again["future"] == {"a": 1} and again["jobs"]["j"]["newField"] == [1, 2]
    with pytest.raises(StateTooNew):
        HubState.from_bytes(json.dumps({**data, "version": STATE_VERSION + 1}).encode())
    for corrupt in (b"{not json", b"[]", json.dumps({"version": 1}).encode(), b'{"version": "x"}'):
        with pytest.raises(StateUnreadable):
            HubState.from_bytes(corrupt)


def test_plan_counts_each_job_whose_record_changed_once() -> None:
    state = fresh()
    jobs = [job("a", "running", 10), job("b", "running", 20), job("c", "failed", 5)]
    assert plan(state, jobs, first_run=False, listed_at=at(0), settings=SETTINGS, reject=lambda _job: None) == 3
    assert plan(state, jobs, first_run=False, listed_at=at(1), settings=SETTINGS, reject=lambda _job: None) == 0
    moved = [job("a", "running", 50), job("b", "running", 60), jobs[2]]
    assert plan(state, moved, first_run=False, listed_at=at(2), settings=SETTINGS, reject=lambda _job: None) == 2
    # Two jobs whose storage becomes refused: each counts once.
    refused = plan(state, moved, first_run=False, listed_at=at(3), settings=SETTINGS,
                   reject=lambda listed: "off the allowlist" if listed["jobId"] in ("a", "b") else None)
    assert refused == 2
    # A first run's old finished jobs are recorded as seen (backfilled): each counts once as well.
    first = fresh()
    old = [{**job(f"old-{n}", "completed", 100), "endTimeUtc": "2020-01-01T00:00:00Z"} for n in range(3)]
    assert plan(first, old, first_run=True, listed_at=at(0), settings=SETTINGS, reject=lambda _job: None) == 3


@pytest.mark.parametrize("sentinel", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z"])
def test_the_first_run_dates_a_job_by_its_start_when_its_end_is_a_sentinel(sentinel: str) -> None:
    # DateTime.MinValue would make a job that failed a minute ago look 2,000 years old: backfilled, never reported.
    state = fresh()
    plan_at(state, [job("j", "failed", 20, startTimeUtc=utc_iso(at(-60)), endTimeUtc=sentinel)], 0, first_run=True)
    assert not state.jobs["j"].backfilled and state.jobs["j"].report is ReportState.PENDING
