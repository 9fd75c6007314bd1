"""The poller's confirm, exactly: whether it says it changed the state (the tick saves only then), the
report_written line it hands out, that giving a job up keeps the other lines of the same confirm, when the
write-failure count resets, the boundaries of forgetting and of latest.json's revision, and how a recovery
renumbers or drops the claimed job_changed lines. test_core.py checks the behaviours; these pin the values."""

from __future__ import annotations

import datetime

from shared.clock import utc_iso
from shared.poller.confirm import Recovery, WriteOutcome
from shared.poller.state import FORGET_AFTER, MAX_WRITE_FAILURES, ReportState
from tests.unit.test_core import T0, at, confirm_at, fresh, job, plan_at, written


def test_a_confirm_with_nothing_to_fold_changes_nothing() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    before = state.to_bytes()
    result = confirm_at(state, {}, listed_ids={"j"}, now=at(1))
    assert (result.changed, result.events, state.to_bytes()) == (False, [], before)
    # An outcome for a job the state does not hold is ignored, and does not stop the others being folded.
    plan_at(state, [job("j", "completed", 100), job("k", "running", 5)], 2)
    state.events.clear()
    result = confirm_at(state, {"gone": WriteOutcome(snapshots={1}), "k": written(state.jobs["k"])},
                        listed_ids={"j", "k"}, now=at(2))
    assert result.changed and not state.jobs["k"].has_work


def test_claimed_lines_alone_make_a_confirm_a_change() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    state.events.append({"event": "poller.job_changed", "warning": False, "fields": {"jobId": "x"}})
    result = confirm_at(state, {}, listed_ids={"j"}, now=at(1))
    assert result.changed and [e["fields"]["jobId"] for e in result.events] == ["x"]


def test_a_job_leaving_the_list_coming_back_and_being_forgotten_are_each_a_change() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    assert confirm_at(state, {}, listed_ids=set(), now=at(1)).changed  # absent from now on
    assert not confirm_at(state, {}, listed_ids=set(), now=at(2)).changed
    assert confirm_at(state, {}, listed_ids={"j"}, now=at(3)).changed  # back
    confirm_at(state, {}, listed_ids=set(), now=at(4))
    assert confirm_at(state, {}, listed_ids=set(), now=T0 + FORGET_AFTER + datetime.timedelta(days=1)).changed
    assert "j" not in state.jobs


def test_a_job_is_forgotten_only_once_strictly_past_the_hubs_history() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    confirm_at(state, {}, listed_ids=set(), now=at(0))
    confirm_at(state, {}, listed_ids=set(), now=T0 + FORGET_AFTER)
    assert "j" in state.jobs
    confirm_at(state, {}, listed_ids=set(), now=T0 + FORGET_AFTER + datetime.timedelta(milliseconds=1))
    assert "j" not in state.jobs


def test_a_job_never_seen_changing_is_forgotten_from_when_it_went_absent() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    state.jobs["j"].changed_at = None
    confirm_at(state, {}, listed_ids=set(), now=at(10))
    confirm_at(state, {}, listed_ids=set(), now=at(10) + FORGET_AFTER)
    assert "j" in state.jobs
    confirm_at(state, {}, listed_ids=set(), now=at(11) + FORGET_AFTER)
    assert "j" not in state.jobs


def test_a_written_report_hands_out_one_report_written_line_with_its_fields() -> None:
    state = fresh()
    plan_at(state, [job("j", "failed", 10)], 0)
    state.events.clear()
    outcome = WriteOutcome(snapshots={1}, report_written=True, report_fields={"kind": "failure", "hint": "x"})
    result = confirm_at(state, {"j": outcome}, listed_ids={"j"}, now=at(0))
    assert result.events == [{"event": "poller.report_written", "warning": False,
                              "fields": {"jobId": "j", "kind": "failure", "hint": "x"}}]
    assert state.jobs["j"].report is ReportState.WRITTEN


def test_giving_a_job_up_keeps_the_other_lines_of_the_confirm() -> None:
    state = fresh()
    plan_at(state, [job("a", "failed", 1), job("b", "running", 1)], 0)
    skipped = confirm_at(state, {"a": WriteOutcome(skip="storage refused the SAS")}, listed_ids={"a", "b"},
                         now=at(0))
    assert [(e["event"], e["fields"]["jobId"]) for e in skipped.events] == [
        ("poller.job_changed", "a"), ("poller.job_changed", "b"), ("poller.job_skipped", "a")]
    assert skipped.events[-1] == {"event": "poller.job_skipped", "warning": True,
                                  "fields": {"jobId": "a", "reason": "storage refused the SAS"}}
    assert state.jobs["a"].report is ReportState.NOT_NEEDED  # its failure report can no longer be written
    state.jobs["b"].write_failures = MAX_WRITE_FAILURES - 1
    plan_at(state, [job("a", "failed", 1), job("b", "running", 2)], 1)
    failed = confirm_at(state, {"b": WriteOutcome(failed=True)}, listed_ids={"a", "b"}, now=at(1))
    assert [(e["event"], e["fields"]["jobId"]) for e in failed.events] == [
        ("poller.job_changed", "b"), ("poller.job_skipped", "b")]
    assert failed.events[-1]["fields"]["reason"] == f"gave up after {MAX_WRITE_FAILURES} failed writes"


def test_any_successful_write_resets_the_failure_count_and_none_does_not() -> None:
    for outcome in (WriteOutcome(snapshots={1}), WriteOutcome(latest_rev=1, latest_etag='"e"'),
                    WriteOutcome(report_written=True)):
        state = fresh()
        plan_at(state, [job("j", "failed", 1)], 0)
        state.jobs["j"].write_failures = 2
        confirm_at(state, {"j": outcome}, listed_ids={"j"}, now=at(0))
        assert state.jobs["j"].write_failures == 0, outcome
    state = fresh()
    plan_at(state, [job("j", "failed", 1)], 0)
    state.jobs["j"].write_failures = 1
    confirm_at(state, {"j": WriteOutcome(report_not_needed=True)}, listed_ids={"j"}, now=at(0))
    assert state.jobs["j"].write_failures == 1


def test_latest_json_at_the_claimed_revision_is_done_not_claimed_again() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "running", 20)], 1)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(snapshots={1, 2}, latest_rev=2, latest_etag='"2"', latest_behind=2)},
               listed_ids={"j"}, now=at(1))
    assert record.latest is None and record.latest_rev == 2


def test_a_recovery_renumbers_this_jobs_claimed_line_and_drops_the_one_already_in_the_folder() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 30), job("other", "running", 1)], 0)
    plan_at(state, [job("j", "failed", 30), job("other", "running", 1)], 1)
    recovery = Recovery(max_seq=3, last_pair=("running", 30), last_blob="jobmonitor/j/snapshots/00003-running-30.json",
                        latest_rev=5)
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j", "other"}, now=at(1))
    lines = [(e["event"], e["fields"]["jobId"], e["fields"]["seq"], e["fields"]["blob"]) for e in result.events]
    assert lines == [
        ("poller.job_changed", "other", 1, "jobmonitor/other/snapshots/00001-running-1.json"),
        ("poller.job_changed", "j", 4, "jobmonitor/j/snapshots/00004-failed-30.json"),
    ]


def test_a_recovery_that_finds_everything_already_written_claims_nothing_more() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 30)], 0)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(latest_rev=1, latest_etag='"e"')}, listed_ids={"j"}, now=at(0))
    assert record.latest is None and [p.seq for p in record.pending] == [1]
    recovery = Recovery(max_seq=3, last_pair=("running", 30), last_blob="jobmonitor/j/snapshots/00003-running-30.json",
                        latest_rev=4)
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(1))
    assert (record.pending, record.latest, record.seq, record.latest_rev) == ([], None, 3, 1)
    assert result.events == []  # the claimed line was of the observation already in the folder


def test_a_job_given_up_twice_is_logged_once() -> None:
    state = fresh()
    plan_at(state, [job("j", "failed", 1)], 0)
    first = confirm_at(state, {"j": WriteOutcome(skip="refused")}, listed_ids={"j"}, now=at(0))
    again = confirm_at(state, {"j": WriteOutcome(skip="refused again")}, listed_ids={"j"}, now=at(1))
    assert [e["event"] for e in first.events].count("poller.job_skipped") == 1
    assert again.events == [] and state.jobs["j"].skipped == "refused"


def test_every_job_is_looked_at_for_absence_whatever_its_place() -> None:
    state = fresh()
    plan_at(state, [job("a", "completed", 100), job("b", "completed", 100)], 0)
    confirm_at(state, {k: written(r) for k, r in state.jobs.items()}, listed_ids={"a", "b"}, now=at(0))
    confirm_at(state, {}, listed_ids={"a"}, now=at(1))
    assert (state.jobs["a"].absent_since, state.jobs["b"].absent_since) == (None, utc_iso(at(1)))


def test_a_job_is_forgotten_from_its_last_change_not_from_when_it_went_absent() -> None:
    state = fresh()
    plan_at(state, [job("j", "completed", 100)], 0)
    confirm_at(state, {"j": written(state.jobs["j"])}, listed_ids={"j"}, now=at(0))
    confirm_at(state, {}, listed_ids=set(), now=T0 + datetime.timedelta(days=10))  # absent only from day 10
    confirm_at(state, {}, listed_ids=set(), now=T0 + FORGET_AFTER + datetime.timedelta(minutes=1))
    assert "j" not in state.jobs
