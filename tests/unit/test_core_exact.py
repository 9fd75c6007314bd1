"""The poller's plan, exactly: the log lines it claims (every field), how many records it reports changed, the
boundaries of its orderings (progress missing, equal ranks) and of the stall check, and when the hub view falls
due. test_core.py checks the behaviours; these pin the values a behaviour test would let drift.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.clock import utc_iso
from shared.jobs import JobStatus
from shared.poller.core import HubView, PlanSettings, collapse_duplicates, hub_view, plan, target_key
from shared.poller.state import MAX_PENDING_SNAPSHOTS, HubState, JobRecord, ReportState
from tests.unit.test_core import SETTINGS, T0, at, fresh, job, written

STALL_SECONDS = SETTINGS.stall_after_seconds


def plan_events(state: HubState, jobs: list[dict[str, Any]], minutes: float, *, first_run: bool = False,
                reject: str | None = None, settings: PlanSettings = SETTINGS) -> tuple[int, list[dict[str, Any]]]:
    """Plan; how many records it says changed (the tick reads only whether any did), and the log lines it
    claimed."""
    before = len(state.events)
    touched = plan(state, jobs, first_run=first_run, listed_at=at(minutes), settings=settings,
                   reject=lambda _job: reject)
    return touched, state.events[before:]


def seen(state: HubState, job_id: str) -> tuple[int, int | None]:
    """The record's (seq, progress)."""
    return state.jobs[job_id].seq, state.jobs[job_id].progress


def test_a_change_claims_a_job_changed_line_with_every_field() -> None:
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0)
    touched, events = plan_events(state, [job("j", "running", 40)], 5)
    assert touched == 1
    assert events == [{"event": "poller.job_changed", "warning": False, "fields": {
        "jobId": "j", "type": "export", "seq": 2, "status": "running", "progress": 40,
        "previousStatus": "running", "previousProgress": 10,
        "blob": "jobmonitor/j/snapshots/00002-running-40.json"}}]


def test_a_job_listed_twice_claims_one_warning_with_what_was_listed_and_what_is_recorded() -> None:
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0)
    touched, events = plan_events(state, [job("j", "running", 30), job("j", "running", 20)], 5)
    assert touched == 1
    assert events[0] == {"event": "poller.hub_anomaly", "warning": True, "fields": {
        "jobId": "j", "anomaly": "listedTwice", "status": "running", "progress": 30,
        "recordedStatus": "running", "recordedProgress": 10}}
    assert state.jobs["j"].progress == 30
    # The same anomaly again is not logged again.
    assert plan_events(state, [job("j", "running", 30), job("j", "running", 30)], 6) == (0, [])


def test_a_reopened_job_claims_one_warning_and_keeps_its_finished_status() -> None:
    state = fresh()
    plan_events(state, [job("j", "failed", 100)], 0)
    touched, events = plan_events(state, [job("j", "running", 50)], 5)
    assert touched == 1
    assert events == [{"event": "poller.hub_anomaly", "warning": True, "fields": {
        "jobId": "j", "anomaly": "reopened", "status": "running", "progress": 50,
        "recordedStatus": "failed", "recordedProgress": 100}}]
    assert (state.jobs["j"].status, state.jobs["j"].progress) == (JobStatus.FAILED, 100)


def test_a_refused_target_claims_one_warning_with_the_reason_and_counts_once() -> None:
    state = fresh()
    touched, events = plan_events(state, [job("j", "running", 10)], 0, reject="host not allowed")
    assert touched > 0
    assert events == [{"event": "poller.job_skipped", "warning": True,
                       "fields": {"jobId": "j", "reason": "host not allowed"}}]
    assert plan_events(state, [job("j", "running", 10)], 1, reject="host not allowed") == (0, [])
    touched, events = plan_events(state, [job("j", "running", 10)], 2, reject="another reason")
    assert touched == 1 and events[0]["fields"]["reason"] == "another reason"


def test_the_first_run_counts_new_records_and_claims_one_backfill_line() -> None:
    state = fresh()
    old = job("old", "completed", 100, endTimeUtc=utc_iso(T0 - datetime.timedelta(days=3)))
    older = job("older", "failed", 100, endTimeUtc=utc_iso(T0 - datetime.timedelta(days=9)))
    touched, events = plan_events(state, [old, older, job("new", "running", 5)], 0, first_run=True)
    assert touched >= 3
    assert events[-1] == {"event": "poller.backfilled", "warning": False,
                          "fields": {"jobs": 2, "backfillSeconds": SETTINGS.backfill_seconds}}
    assert [e["event"] for e in events] == ["poller.job_changed", "poller.backfilled"]


def test_a_skipped_job_is_not_looked_at_even_when_listed_later() -> None:
    state = fresh()
    plan_events(state, [job("a", "running", 1), job("z", "running", 1)], 0)
    record = state.jobs["a"]
    record.skipped = "given up"
    before = record.to_json()
    touched, events = plan_events(state, [job("a", "failed", 9), job("z", "running", 2)], 1)
    assert (touched, record.to_json() == before) == (1, True)
    assert [e["fields"]["jobId"] for e in events] == ["z"]


def test_a_stall_is_flagged_at_the_threshold_and_not_a_moment_before() -> None:
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    record.pending, record.latest = [], None  # written
    just_before = STALL_SECONDS / 60 - 0.001 / 60
    assert plan_events(state, [job("j", "running", 10)], just_before) == (0, [])
    touched, events = plan_events(state, [job("j", "running", 10)], STALL_SECONDS / 60)
    assert touched == 1
    assert events == [{"event": "poller.job_stalled", "warning": True, "fields": {
        "jobId": "j", "status": "running", "progress": 10, "stalledSinceUtc": utc_iso(T0),
        "stallAfterSeconds": STALL_SECONDS}}]
    assert record.latest is not None
    latest = record.latest.document
    assert (latest["stalled"], latest["stalledSinceUtc"], latest["stallAfterSeconds"]) == (
        True, utc_iso(T0), STALL_SECONDS)
    assert (latest["snapshotSeq"], latest["snapshotBlob"]) == (1, "jobmonitor/j/snapshots/00001-running-10.json")
    assert latest["hub"] == "devhub"
    assert (record.latest.rev, record.latest_rev) == (2, 2)


def test_a_stalled_job_under_another_prefix_points_latest_at_its_own_folder() -> None:
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    record.prefix = "jobmonitor/hubs/devhub"
    plan_events(state, [job("j", "running", 10)], STALL_SECONDS / 60)
    assert record.latest is not None
    assert record.latest.document["snapshotBlob"] == "jobmonitor/hubs/devhub/j/snapshots/00001-running-10.json"


def test_no_stall_check_when_it_is_turned_off() -> None:
    off = PlanSettings(prefix="jobmonitor", stall_after_seconds=0, backfill_seconds=86400)
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0, settings=off)
    assert plan_events(state, [job("j", "running", 10)], 60 * 24 * 30, settings=off) == (0, [])
    assert hub_view(HubState(hub="h", created_at=""), stall_after_seconds=0) == HubView(
        jobs={}, refused={}, skipped=frozenset(), stall_due=None)


def test_progress_where_there_was_none_is_ahead_and_none_where_there_was_some_is_not() -> None:
    state = fresh()
    plan_events(state, [job("j", "running")], 0)
    assert seen(state, "j") == (1, None)
    plan_events(state, [job("j", "running", 0)], 1)
    assert seen(state, "j") == (2, 0)
    assert plan_events(state, [job("j", "running")], 2) == (0, [])
    assert seen(state, "j") == (2, 0)


def test_a_later_status_is_ahead_whatever_the_progress_and_an_equal_rank_is_not() -> None:
    state = fresh()
    plan_events(state, [job("j", "enqueued", 50)], 0)
    plan_events(state, [job("j", "running", 0)], 1)
    assert (state.jobs["j"].status, state.jobs["j"].seq) == (JobStatus.RUNNING, 2)
    # queued and scheduled rank alike: neither moves the other back or forward.
    state = fresh()
    plan_events(state, [job("q", "scheduled", 5)], 0)
    assert plan_events(state, [job("q", "queued", 5)], 1) == (0, [])


def test_a_finished_job_listed_finished_otherwise_is_taken_but_not_one_listed_active() -> None:
    state = fresh()
    plan_events(state, [job("j", "completed", 100)], 0)
    touched, events = plan_events(state, [job("j", "failed", 100)], 1)
    assert (touched, state.jobs["j"].status) == (1, JobStatus.FAILED)
    assert events[0]["fields"]["previousStatus"] == "completed"


def test_duplicates_collapse_to_the_furthest_along_in_list_order() -> None:
    jobs = [job("a", "running", 5), job("b", "running", 1), job("a", "running", 7), job("a", "running", 6),
            {"jobId": "../x"}, job("c", "queued")]
    unique, twice = collapse_duplicates(jobs)
    assert [(j["jobId"], j.get("progress")) for j in unique] == [("a", 7), ("b", 1), ("c", None)]
    assert twice == {"a"}


def test_the_target_key_changes_with_the_output_uri_and_the_authentication_type() -> None:
    base = job("j", "running")
    keys = {target_key(base), target_key({**base, "outputBlobContainerUri": "https://b.blob.core.windows.net/c"}),
            target_key({**base, "storageAuthenticationType": "identityBased"})}
    assert len(keys) == 3 and all(len(key) == 16 for key in keys)
    assert target_key(base) == target_key({**base, "status": "failed", "progress": 3})


def test_the_hub_view_falls_due_at_the_earliest_stall_of_a_watched_active_job() -> None:
    state = fresh()
    plan_events(state, [job("a", "running", 1)], 0)
    plan_events(state, [job("b", "running", 1), job("a", "running", 1)], 10)
    plan_events(state, [job("done", "completed", 100), job("a", "running", 1), job("b", "running", 1)], 20)
    for record in state.jobs.values():
        record.pending, record.latest = [], None
    state.events.clear()
    view = hub_view(state, stall_after_seconds=STALL_SECONDS)
    assert view is not None and view.stall_due == at(STALL_SECONDS / 60)
    listing = [job("a", "running", 1), job("b", "running", 1), job("done", "completed", 100)]
    assert view.matches(listing, now=at(STALL_SECONDS / 60) - datetime.timedelta(milliseconds=1))
    assert not view.matches(listing, now=at(STALL_SECONDS / 60))
    # A job already flagged, given up or refused does not make the view fall due.
    state.jobs["a"].stalled = True
    assert HubView.of(state, stall_after_seconds=STALL_SECONDS).stall_due == at(10 + STALL_SECONDS / 60)
    state.jobs["b"].skipped = "given up"
    assert HubView.of(state, stall_after_seconds=STALL_SECONDS).stall_due is None


def test_the_hub_view_ignores_skipped_and_unsafe_ids_and_compares_refused_targets() -> None:
    state = fresh()
    plan_events(state, [job("a", "running", 1)], 0)
    state.jobs["gone"] = JobRecord(job_id="gone", skipped="given up")
    state.jobs["r"] = JobRecord(job_id="r", refused="host not allowed", refused_key=target_key(job("r", "queued")))
    state.jobs["a"].pending, state.jobs["a"].latest = [], None
    state.events.clear()
    view = hub_view(state, stall_after_seconds=0)
    assert view is not None
    listing = [job("gone", "failed", 3), {"jobId": "../x"}, job("a", "running", 1), job("r", "running", 9)]
    assert view.matches(listing, now=T0)
    moved = job("r", "running", 9, outputBlobContainerUri="https://b.blob.core.windows.net/c")
    assert not view.matches([job("a", "running", 1), moved], now=T0)
    assert not view.matches([job("a", "running", 2), job("r", "queued")], now=T0)


def test_a_skipped_job_with_work_left_does_not_keep_the_hub_view_away() -> None:
    state = fresh()
    plan_events(state, [job("a", "running", 1)], 0)
    state.events.clear()
    assert hub_view(state, stall_after_seconds=0) is None  # a's snapshot is still to be written
    state.jobs["a"].skipped = "given up"
    assert hub_view(state, stall_after_seconds=0) is not None
    assert written(state.jobs["a"]).snapshots == {1}


def test_pending_snapshots_are_bounded_and_the_oldest_goes_first() -> None:
    state = fresh()
    for progress in range(MAX_PENDING_SNAPSHOTS + 5):
        plan_events(state, [job("j", "running", progress)], progress)
    record = state.jobs["j"]
    assert len(record.pending) == MAX_PENDING_SNAPSHOTS
    assert [p.seq for p in record.pending] == list(range(6, MAX_PENDING_SNAPSHOTS + 6))


def test_a_completed_import_awaiting_its_report_keeps_waiting_when_it_moves_on() -> None:
    state = fresh()
    plan_events(state, [job("j", "completed", 90, type="import")], 0)
    assert state.jobs["j"].report is ReportState.PENDING
    plan_events(state, [job("j", "completed", 100, type="import")], 1)
    assert (state.jobs["j"].progress, state.jobs["j"].report) == (100, ReportState.PENDING)


def test_a_change_records_exactly_this_timeline_entry_snapshot_and_latest_document() -> None:
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    blob = "jobmonitor/j/snapshots/00001-running-10.json"
    assert record.timeline == [
        {"seq": 1, "status": "running", "progress": 10, "polledAtUtc": utc_iso(T0), "blob": blob}]
    snapshot = record.pending[0].document
    assert (snapshot["hub"], snapshot["jobId"], snapshot["status"], snapshot["progress"]) == (
        "devhub", "j", "running", 10)
    assert record.latest is not None
    latest = record.latest.document
    assert (latest["snapshotSeq"], latest["snapshotBlob"], latest["stalled"]) == (1, blob, False)
    assert "stalledSinceUtc" not in latest and latest["hub"] == "devhub"
    assert {k: v for k, v in latest.items() if k not in ("snapshotSeq", "snapshotBlob", "stalled")} == snapshot


def test_a_first_run_dates_a_finished_job_by_its_start_when_it_has_no_end() -> None:
    window = SETTINGS.backfill_seconds
    started_long_ago = job("a", "failed", 100, startTimeUtc=utc_iso(T0 - datetime.timedelta(seconds=window + 1)))
    started_lately = job("b", "failed", 100, startTimeUtc=utc_iso(T0 - datetime.timedelta(seconds=window - 60)))
    on_the_edge = job("c", "failed", 100, endTimeUtc=utc_iso(T0 - datetime.timedelta(seconds=window)))
    state = fresh()
    plan_events(state, [started_long_ago, started_lately, on_the_edge], 0, first_run=True)
    assert state.jobs["a"].backfilled and state.jobs["a"].report is ReportState.NOT_NEEDED
    assert not state.jobs["b"].backfilled and state.jobs["b"].report is ReportState.PENDING
    assert not state.jobs["c"].backfilled  # ended exactly one window ago: still reported


def test_a_refused_job_does_not_stop_the_others_and_an_unchanged_refusal_hides_no_change() -> None:
    def no_output(candidate: Any) -> str | None:
        return None if candidate.get("outputBlobContainerUri") else "no output container"

    state = fresh()
    refused = job("r", "running", 1, outputBlobContainerUri=None)
    plan(state, [refused], first_run=False, listed_at=at(0), settings=SETTINGS, reject=no_output)
    touched = plan(state, [refused, job("a", "running", 1)], first_run=False, listed_at=at(1), settings=SETTINGS,
                   reject=no_output)
    assert touched > 0 and state.jobs["a"].seq == 1 and state.jobs["r"].seq == 0
    assert state.jobs["r"].refused == "no output container"
    touched = plan(state, [job("b", "running", 1), refused], first_run=False, listed_at=at(2), settings=SETTINGS,
                   reject=no_output)
    assert touched > 0  # b is new, whatever r (refused as before) adds


def test_a_backfilled_job_is_dated_by_the_listing() -> None:
    state = fresh()
    old = job("old", "completed", 100, endTimeUtc=utc_iso(T0 - datetime.timedelta(days=3)))
    plan_events(state, [old], 0, first_run=True)
    assert state.jobs["old"].changed_at == utc_iso(T0)


def test_a_stall_threshold_under_a_second_is_honoured() -> None:
    quick = PlanSettings(prefix="jobmonitor", stall_after_seconds=0.5, backfill_seconds=86400)
    state = fresh()
    plan_events(state, [job("j", "running", 10)], 0, settings=quick)
    state.jobs["j"].pending, state.jobs["j"].latest = [], None
    state.events.clear()
    view = hub_view(state, stall_after_seconds=0.5)
    assert view is not None and view.stall_due == T0 + datetime.timedelta(seconds=0.5)
    _, events = plan_events(state, [job("j", "running", 10)], 0.5 / 60, settings=quick)
    assert [e["event"] for e in events] == ["poller.job_stalled"]
