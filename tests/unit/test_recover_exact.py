"""The poller's recovery, exactly: what a confirm does with a write that found the job's folder holding numbers the
state did not know (the state was lost or restored, or another hub's job holds the folder). Each shape pins the
whole result: the pending snapshots (seq, blob, document), the timeline, latest.json's claim (revision and every
field of its document), record.seq, the ETag forgotten, and the claimed job_changed lines renumbered.
test_core.py and test_confirm_exact.py check the main cases; these pin the values they would let drift."""

from __future__ import annotations

from typing import Any

from shared.clock import utc_iso
from shared.poller.confirm import Recovery, WriteOutcome
from shared.poller.state import JobRecord, PendingLatest
from tests.unit.test_core import SETTINGS, T0, at, confirm_at, fresh, job, plan_at

FOLDER = "jobmonitor/j/snapshots"
HUB_FOLDER = "jobmonitor/devhub/j/snapshots"  # where a job moves when another hub's job holds its folder


def snapshot(status: str, progress: int | None, minutes: float) -> dict[str, Any]:
    """The snapshot document plan_at(..., minutes) takes of job("j", status, progress)."""
    document: dict[str, Any] = {"jobId": "j", "type": "export", "status": status,
                                "outputBlobContainerUri": "https://a.blob.core.windows.net/c"}
    if progress is not None:
        document["progress"] = progress
    return {**document, "polledAtUtc": utc_iso(at(minutes)), "hub": "devhub"}


def latest(document: dict[str, Any], *, seq: int, blob: str) -> dict[str, Any]:
    """latest.json's document for a job that is not stalled: the snapshot, which one it is, and `stalled`."""
    return {**document, "snapshotSeq": seq, "snapshotBlob": blob, "stalled": False}


def entry(seq: int, status: str, progress: int | None, minutes: float, blob: str) -> dict[str, Any]:
    return {"seq": seq, "status": status, "progress": progress, "polledAtUtc": utc_iso(at(minutes)), "blob": blob}


def latest_json_written(record: JobRecord, etag: str) -> None:
    """latest.json was written before, with this ETag (the recovery must forget it)."""
    record.latest_etag = etag


def changed(seq: int, progress: int, previous: int | None, blob: str) -> dict[str, Any]:
    """The job_changed line of job j moving to running at `progress`."""
    return {"event": "poller.job_changed", "warning": False, "fields": {
        "jobId": "j", "type": "export", "seq": seq, "status": "running", "progress": progress,
        "previousStatus": None if previous is None else "running", "previousProgress": previous, "blob": blob}}


def test_claims_stored_out_of_order_are_renumbered_in_seq_order_after_the_folders_highest() -> None:
    """The state was lost: the folder holds 1-2 (queued, running 5) of the lost numbering; this record claimed
    running 10, 20, 30 as 1-3 anew (kept here out of order), and wrote none of them."""
    state = fresh()
    for minutes, progress in enumerate((10, 20, 30)):
        plan_at(state, [job("j", "running", progress)], minutes)
    record = state.jobs["j"]
    record.pending = [record.pending[2], record.pending[0], record.pending[1]]
    latest_json_written(record, '"written by the lost state"')
    recovery = Recovery(max_seq=2, last_pair=("running", 5), last_blob=f"{FOLDER}/00002-running-5.json",
                        last_document=snapshot("running", 5, -10), latest_rev=2,
                        pairs=frozenset({("queued", None), ("running", 5)}))
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(2))
    assert [(p.seq, p.blob, p.document) for p in record.pending] == [
        (3, f"{FOLDER}/00003-running-10.json", snapshot("running", 10, 0)),
        (4, f"{FOLDER}/00004-running-20.json", snapshot("running", 20, 1)),
        (5, f"{FOLDER}/00005-running-30.json", snapshot("running", 30, 2)),
    ]
    assert record.timeline == [
        entry(3, "running", 10, 0, f"{FOLDER}/00003-running-10.json"),
        entry(4, "running", 20, 1, f"{FOLDER}/00004-running-20.json"),
        entry(5, "running", 30, 2, f"{FOLDER}/00005-running-30.json"),
    ]
    # latest.json: the newest claim, above both this record's revision (3) and the folder's (2).
    assert (record.seq, record.latest_rev, record.latest_etag) == (5, 4, None)
    assert record.latest == PendingLatest(rev=4, document=latest(
        snapshot("running", 30, 2), seq=5, blob=f"{FOLDER}/00005-running-30.json"))
    assert result.events == [
        changed(3, 10, None, f"{FOLDER}/00003-running-10.json"),
        changed(4, 20, 10, f"{FOLDER}/00004-running-20.json"),
        changed(5, 30, 20, f"{FOLDER}/00005-running-30.json"),
    ]


def test_a_claim_already_in_the_folder_is_dropped_and_its_timeline_entry_takes_the_folders_seq_and_blob() -> None:
    """The folder holds 1-3 up to running 30; this record claimed running 30 and failed 30 as 1-2."""
    state = fresh()
    plan_at(state, [job("j", "running", 30)], 0)
    plan_at(state, [job("j", "failed", 30)], 1)
    record = state.jobs["j"]
    recovery = Recovery(max_seq=3, last_pair=("running", 30), last_blob=f"{FOLDER}/00003-running-30.json",
                        latest_rev=5, pairs=frozenset({("running", 10), ("running", 20), ("running", 30)}))
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(1))
    assert record.timeline == [
        entry(3, "running", 30, 0, f"{FOLDER}/00003-running-30.json"),
        entry(4, "failed", 30, 1, f"{FOLDER}/00004-failed-30.json"),
    ]
    assert [(p.seq, p.blob, p.document) for p in record.pending] == [
        (4, f"{FOLDER}/00004-failed-30.json", snapshot("failed", 30, 1))]
    assert (record.seq, record.latest_rev, record.latest_etag) == (4, 6, None)
    assert record.latest == PendingLatest(rev=6, document=latest(
        snapshot("failed", 30, 1), seq=4, blob=f"{FOLDER}/00004-failed-30.json"))
    assert [e["fields"]["seq"] for e in result.events] == [4]


def test_when_every_claim_is_in_the_folder_latest_json_is_claimed_again_from_the_folders_newest_snapshot() -> None:
    """The lost state polled running 30 at minute 2 and wrote it as seq 3, with latest.json at revision 4; this
    record polled the same observation at minute 5 and claimed it as seq 1 and revision 1."""
    state = fresh()
    plan_at(state, [job("j", "running", 30)], 5)
    record = state.jobs["j"]
    latest_json_written(record, '"e"')
    folder_document = snapshot("running", 30, 2)
    recovery = Recovery(max_seq=3, last_pair=("running", 30), last_blob=f"{FOLDER}/00003-running-30.json",
                        last_document=folder_document, latest_rev=4,
                        pairs=frozenset({("running", 10), ("running", 30)}))
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(5))
    assert (record.pending, record.seq, record.latest_rev, record.latest_etag) == ([], 3, 5, None)
    assert record.latest == PendingLatest(rev=5, document=latest(
        folder_document, seq=3, blob=f"{FOLDER}/00003-running-30.json"))
    assert record.timeline == [entry(3, "running", 30, 5, f"{FOLDER}/00003-running-30.json")]
    assert result.events == []  # its line was of the observation the folder holds


def test_without_the_folders_blob_or_document_a_dropped_claim_keeps_its_name_and_latest_json_names_none() -> None:
    """A recovery that knows the folder's highest seq and pairs but not its newest blob nor document: the
    dropped claim's timeline entry keeps its own blob, and latest.json is rebuilt from the record's own claim,
    naming no snapshot blob."""
    state = fresh()
    plan_at(state, [job("j", "running", 30)], 0)
    record = state.jobs["j"]
    recovery = Recovery(max_seq=3, last_pair=("running", 30), latest_rev=4)
    confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(0))
    assert record.timeline == [entry(3, "running", 30, 0, f"{FOLDER}/00001-running-30.json")]
    assert (record.pending, record.seq, record.latest_rev) == ([], 3, 5)
    assert record.latest == PendingLatest(rev=5, document=latest(snapshot("running", 30, 0), seq=3, blob=""))


def test_a_stalled_records_claims_renumbered_keep_the_stall_in_latest_json() -> None:
    """Running 10 was claimed, never written, and flagged stalled an hour later (latest.json revision 2); the
    folder holds 1-2 (queued, enqueued) of a lost numbering."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "running", 10)], 60)
    record = state.jobs["j"]
    assert record.stalled and record.latest is not None and record.latest.rev == 2
    recovery = Recovery(max_seq=2, last_pair=("enqueued", None), last_blob=f"{FOLDER}/00002-enqueued-na.json",
                        latest_rev=1, pairs=frozenset({("queued", None), ("enqueued", None)}))
    result = confirm_at(state, {"j": WriteOutcome(recovery=recovery)}, listed_ids={"j"}, now=at(60))
    assert [(p.seq, p.blob) for p in record.pending] == [(3, f"{FOLDER}/00003-running-10.json")]
    assert (record.seq, record.latest_rev) == (3, 3)
    assert record.latest == PendingLatest(rev=3, document={
        **snapshot("running", 10, 0), "snapshotSeq": 3, "snapshotBlob": f"{FOLDER}/00003-running-10.json",
        "stalled": True, "stalledSinceUtc": utc_iso(T0), "stallAfterSeconds": SETTINGS.stall_after_seconds})
    assert result.events == [
        changed(3, 10, None, f"{FOLDER}/00003-running-10.json"),
        {"event": "poller.job_stalled", "warning": True, "fields": {
            "jobId": "j", "status": "running", "progress": 10, "stalledSinceUtc": utc_iso(T0),
            "stallAfterSeconds": SETTINGS.stall_after_seconds}},
    ]


def test_a_move_to_a_hub_folder_renames_every_claim_in_seq_order_and_latest_json_follows() -> None:
    """Another hub's job holds jobmonitor/j: the claims keep their numbers under jobmonitor/devhub."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    plan_at(state, [job("j", "running", 20)], 1)
    record = state.jobs["j"]
    record.pending.reverse()
    latest_json_written(record, '"e"')
    result = confirm_at(state, {"j": WriteOutcome(recovery=Recovery(prefix="jobmonitor/devhub"))}, listed_ids={"j"},
                        now=at(1))
    assert record.prefix == "jobmonitor/devhub"
    assert sorted((p.seq, p.blob, p.document["progress"]) for p in record.pending) == [
        (1, f"{HUB_FOLDER}/00001-running-10.json", 10), (2, f"{HUB_FOLDER}/00002-running-20.json", 20)]
    assert record.timeline == [
        entry(1, "running", 10, 0, f"{HUB_FOLDER}/00001-running-10.json"),
        entry(2, "running", 20, 1, f"{HUB_FOLDER}/00002-running-20.json"),
    ]
    assert (record.seq, record.latest_rev, record.latest_etag) == (2, 2, None)
    assert record.latest == PendingLatest(rev=2, document=latest(
        snapshot("running", 20, 1), seq=2, blob=f"{HUB_FOLDER}/00002-running-20.json"))
    assert result.events == [
        changed(1, 10, None, f"{HUB_FOLDER}/00001-running-10.json"),
        changed(2, 20, 10, f"{HUB_FOLDER}/00002-running-20.json"),
    ]


def test_a_move_with_nothing_claimed_renames_nothing_and_keeps_latest_json_as_claimed() -> None:
    """Snapshot 1 was written to jobmonitor/j; latest.json then found another hub's job there."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(snapshots={1})}, listed_ids={"j"}, now=at(0))
    latest_json_written(record, '"e"')
    result = confirm_at(state, {"j": WriteOutcome(recovery=Recovery(prefix="jobmonitor/devhub"))}, listed_ids={"j"},
                        now=at(0))
    assert (record.prefix, record.pending, record.seq, record.latest_rev, record.latest_etag) == (
        "jobmonitor/devhub", [], 1, 1, None)
    # The snapshot it names stays where it was written.
    assert record.latest == PendingLatest(rev=1, document=latest(
        snapshot("running", 10, 0), seq=1, blob=f"{FOLDER}/00001-running-10.json"))
    assert record.timeline == [entry(1, "running", 10, 0, f"{FOLDER}/00001-running-10.json")]
    assert result.events == []


def test_a_moved_jobs_recovery_keeps_its_folder_and_a_folder_without_snapshots_restarts_its_seq() -> None:
    """After the move above, the hub folder holds a latest.json of revision 7 and no snapshot: latest.json is
    claimed above it from the record's own claim (naming no snapshot), the job stays in the hub folder, and
    the next claim is numbered from that folder's (empty) snapshots."""
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(snapshots={1})}, listed_ids={"j"}, now=at(0))
    confirm_at(state, {"j": WriteOutcome(recovery=Recovery(prefix="jobmonitor/devhub"))}, listed_ids={"j"},
               now=at(0))
    latest_json_written(record, '"e"')
    confirm_at(state, {"j": WriteOutcome(recovery=Recovery(latest_rev=7))}, listed_ids={"j"}, now=at(1))
    assert (record.prefix, record.pending, record.seq, record.latest_rev, record.latest_etag) == (
        "jobmonitor/devhub", [], 0, 8, None)
    assert record.latest == PendingLatest(rev=8, document=latest(snapshot("running", 10, 0), seq=0, blob=""))
    plan_at(state, [job("j", "running", 20)], 2)
    assert [(p.seq, p.blob) for p in record.pending] == [(1, f"{HUB_FOLDER}/00001-running-20.json")]


def test_a_folder_that_needs_recovering_on_every_write_gives_the_job_up_like_failed_writes() -> None:
    """Something planted in the job's folder that recovery cannot number past (a latest.json of another hub in the
    hub folder) makes every write collide: each recovery counts as a failed write, so the job is given up after
    MAX_WRITE_FAILURES (one log line) instead of being recovered on every tick for ever."""
    from shared.poller.state import MAX_WRITE_FAILURES

    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    for attempt in range(1, MAX_WRITE_FAILURES + 1):
        confirmed = confirm_at(state, {"j": WriteOutcome(recovery=Recovery(latest_rev=attempt))}, listed_ids={"j"},
                               now=at(attempt))
        assert record.write_failures == attempt and (record.skipped is not None) == (attempt == MAX_WRITE_FAILURES)
    assert [e["event"] for e in confirmed.events][-1] == "poller.job_skipped"
    assert not record.has_work


def test_one_recovery_then_a_landed_write_starts_the_count_again() -> None:
    state = fresh()
    plan_at(state, [job("j", "running", 10)], 0)
    record = state.jobs["j"]
    confirm_at(state, {"j": WriteOutcome(recovery=Recovery(max_seq=3))}, listed_ids={"j"}, now=at(1))
    assert record.write_failures == 1 and [p.seq for p in record.pending] == [4]
    confirm_at(state, {"j": WriteOutcome(snapshots={4})}, listed_ids={"j"}, now=at(2))
    assert record.write_failures == 0
