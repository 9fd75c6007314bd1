"""Exactly once when the state itself goes wrong: lost, restored from an older copy, its container deleted,
corrupt, or written by a later version. Against the devstack simulator and Azurite (no mocks)."""

from __future__ import annotations

import datetime
import json
import logging

import pytest

from shared.poller.documents import LATEST_FIELDS
from shared.poller.state import STATE_VERSION
from shared.poller.tick import Poller
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
    service,
)

HUB = "devhub"


class Script:
    """One job on the simulator, moved by hand between ticks."""

    def __init__(self, env: PollerEnv, job_id: str, container: str) -> None:
        self.env, self.job_id, self.container = env, job_id, container
        self.uri = container_sas_uri(env.azurite, container)

    def show(self, status: str, progress: int) -> None:
        control = self.env.hubsim.control(HUB)
        control.forget_jobs()
        job = {"jobId": self.job_id, "type": "export", "status": status, "progress": progress,
               "outputBlobContainerUri": self.uri, "startTimeUtc": ago(minutes=30)}
        if status in ("completed", "failed", "cancelled"):
            job["endTimeUtc"] = ago(minutes=1)
        if status == "failed":
            job["failureReason"] = "ErrorCode:ServerError;the hub failed"
        control.seed_jobs([job])

    def snapshots(self) -> list[str]:
        return [n.rsplit("/", 1)[1] for n in blob_names(self.env.azurite, self.container,
                                                        f"{PREFIX}/{self.job_id}/snapshots/")]

    def latest(self) -> dict[str, object]:
        return read_json(self.env.azurite, self.container, f"{PREFIX}/{self.job_id}/latest.json")


def state_blob(env: PollerEnv) -> str:
    return f"hubs/{HUB}.json"


def state_client(env: PollerEnv):
    return service(env.azurite).get_container_client(env.state_container)


@pytest.fixture
def script(env: PollerEnv) -> Script:
    return Script(env, "recovering", new_container(env.azurite))


def test_a_lost_state_continues_the_numbering_and_latest_json(env: PollerEnv, script: Script) -> None:
    """The state blob lost: the poller used to start again at 1 (00001-failed-30 beside 00001-running-10) and
    latest.json, whose revision it could no longer beat, stayed `running` for ever."""
    poller = env.poller()
    for status, progress in (("running", 10), ("running", 30)):
        script.show(status, progress)
        poller.tick()
    state_client(env).delete_blob(state_blob(env))
    script.show("running", 30)  # unchanged: no new snapshot
    for _ in range(2):
        assert poller.tick().hubs[HUB].ok
    assert script.snapshots() == ["00001-running-10.json", "00002-running-30.json"]
    script.show("failed", 30)
    for _ in range(3):
        assert poller.tick().hubs[HUB].ok
    assert script.snapshots() == ["00001-running-10.json", "00002-running-30.json", "00003-failed-30.json"]
    latest = script.latest()
    assert (latest["status"], latest["snapshotSeq"]) == ("failed", 3)
    assert f"{PREFIX}/recovering/failure-report.json" in blob_names(env.azurite, script.container, PREFIX)
    assert env.state()["jobs"]["recovering"]["seq"] == 3


def test_latest_json_rewritten_after_a_lost_claim_repeats_the_snapshot_in_the_folder(
    env: PollerEnv, script: Script
) -> None:
    """A tick wrote a snapshot and died before latest.json, and its claim was lost with the state. The next
    tick observes the same (status, progress) at another time and finds the snapshot already there: latest.json
    must repeat that snapshot, not the new observation (the soak saw polledAtUtc differ between the two)."""
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    snapshot = read_json(env.azurite, script.container, f"{PREFIX}/recovering/snapshots/00001-running-10.json")
    service(env.azurite).get_container_client(script.container).delete_blob(f"{PREFIX}/recovering/latest.json")
    state_client(env).delete_blob(state_blob(env))
    script.show("running", 10)
    other = env.poller()  # another instance: nothing of the first tick in its memory
    for _ in range(2):  # the first finds the folder's snapshot (recovery), the next writes latest.json
        assert other.tick().hubs[HUB].ok
    assert script.snapshots() == ["00001-running-10.json"]
    latest = script.latest()
    first = f"{PREFIX}/recovering/snapshots/00001-running-10.json"
    assert (latest["snapshotSeq"], latest["snapshotBlob"]) == (1, first)
    assert {k: v for k, v in latest.items() if k not in LATEST_FIELDS} == snapshot


def test_a_state_restored_from_an_older_copy_never_numbers_twice(env: PollerEnv, script: Script) -> None:
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    old_copy = state_client(env).download_blob(state_blob(env)).readall()
    for progress in (20, 30):
        script.show("running", progress)
        poller.tick()
    state_client(env).upload_blob(state_blob(env), old_copy, overwrite=True)  # restored from a backup
    script.show("completed", 100)
    for _ in range(3):
        assert poller.tick().hubs[HUB].ok
    assert script.snapshots() == ["00001-running-10.json", "00002-running-20.json", "00003-running-30.json",
                                  "00004-completed-100.json"]
    latest = script.latest()
    assert (latest["status"], latest["snapshotSeq"]) == ("completed", 4)


def test_a_restored_state_that_observes_a_written_change_again_keeps_latest_json_its_snapshot(
    env: PollerEnv, script: Script
) -> None:
    """Found by the soak: a state restored from an older copy claims the job's next change again, under the
    same name as the snapshot already written (same seq, same status and progress, another poll time), while
    latest.json holds a later revision (a stall flag) than the restored state ever claimed. The snapshot
    was kept but latest.json was rewritten above that revision from the new claim: it named 00002 with
    another polledAtUtc than 00002's. A snapshot of this name polled at another time is now a folder
    collision, and latest.json follows the folder's snapshot."""
    now = [datetime.datetime.now(datetime.UTC)]
    settings = env.settings(MONITOR_STALL_AFTER_MINUTES="60")

    def tick() -> None:
        assert Poller(settings, clock=lambda: now[0]).tick().hubs[HUB].ok

    script.show("running", 10)
    tick()
    old_copy = state_client(env).download_blob(state_blob(env)).readall()
    now[0] += datetime.timedelta(minutes=61)
    tick()  # flagged stalled: latest.json revision 2
    script.show("failed", 95)
    now[0] += datetime.timedelta(minutes=1)
    tick()  # 00002-failed-95, latest.json revision 3
    written = read_json(env.azurite, script.container, f"{PREFIX}/recovering/snapshots/00002-failed-95.json")
    state_client(env).upload_blob(state_blob(env), old_copy, overwrite=True)  # restored: seq 1, revision 1
    for _ in range(3):
        now[0] += datetime.timedelta(minutes=1)
        tick()
    assert script.snapshots() == ["00001-running-10.json", "00002-failed-95.json"]
    assert read_json(env.azurite, script.container, f"{PREFIX}/recovering/snapshots/00002-failed-95.json") == written
    latest = script.latest()
    assert (latest["snapshotSeq"], latest["polledAtUtc"], latest["status"]) == (2, written["polledAtUtc"], "failed")
    assert {k: v for k, v in latest.items() if k not in LATEST_FIELDS} == written
    assert "latest" not in env.state()["jobs"]["recovering"]


def test_the_state_container_deleted_while_running_is_created_again(env: PollerEnv, script: Script) -> None:
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    service(env.azurite).delete_container(env.state_container)
    script.show("running", 50)
    results = [poller.tick().hubs[HUB].ok for _ in range(3)]
    assert results[-1] and results[-2], results
    assert script.snapshots() == ["00001-running-10.json", "00002-running-50.json"]
    assert env.state()["jobs"]["recovering"]["seq"] == 2


@pytest.mark.parametrize("corrupt", [b'{"version": 2, "hub": "devhub", "jobs": [tru', b""], ids=["cut", "empty"])
def test_a_corrupt_state_is_moved_aside_rebuilt_and_said_once(
    env: PollerEnv, script: Script, caplog: pytest.LogCaptureFixture, corrupt: bytes
) -> None:
    """An empty state blob too: storage refuses a ranged read of an empty blob (416), which must not fail the hub."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    state_client(env).upload_blob(state_blob(env), corrupt, overwrite=True)
    script.show("running", 60)
    for _ in range(3):
        assert poller.tick().hubs[HUB].ok
    recovered = events(caplog, "poller.state_recovered")
    assert len(recovered) == 1
    aside = recovered[0]["movedTo"]
    assert state_client(env).download_blob(aside).readall() == corrupt
    assert script.snapshots() == ["00001-running-10.json", "00002-running-60.json"]
    assert env.state()["version"] == STATE_VERSION


def test_a_state_larger_than_the_bound_is_unreadable_moved_aside_and_rebuilt(
    env: PollerEnv, script: Script, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state is read with a length limit (lowered here so that a normal state is over it): past it, the
    state is unreadable, moved aside and rebuilt from the job's folder, and the job goes on numbering."""
    from shared.poller import store

    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    monkeypatch.setattr(store, "MAX_STATE_BYTES", 64)
    script.show("running", 60)
    assert poller.tick().hubs[HUB].ok
    monkeypatch.undo()  # the rebuilt state is over 64 bytes too: back to the real bound
    for _ in range(2):
        assert poller.tick().hubs[HUB].ok
    assert len(events(caplog, "poller.state_recovered")) == 1
    assert script.snapshots() == ["00001-running-10.json", "00002-running-60.json"]


def test_a_state_of_a_later_version_is_neither_planned_on_nor_rewritten(
    env: PollerEnv, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    later = {**env.state(), "version": STATE_VERSION + 1, "somethingNew": {"kept": True}}
    data = json.dumps(later).encode()
    state_client(env).upload_blob(state_blob(env), data, overwrite=True)
    script.show("running", 70)
    result = poller.tick()
    assert not result.hubs[HUB].ok and "StateTooNew" in (result.hubs[HUB].error or "")
    assert state_client(env).download_blob(state_blob(env)).readall() == data
    assert script.snapshots() == ["00001-running-10.json"]


def test_fields_a_later_version_added_survive_a_rewrite(env: PollerEnv, script: Script) -> None:
    poller = env.poller()
    script.show("running", 10)
    poller.tick()
    state = env.state()
    state["somethingNew"] = {"kept": True}
    state["jobs"]["recovering"]["newPerJob"] = [1, 2, 3]
    state_client(env).upload_blob(state_blob(env), json.dumps(state).encode(), overwrite=True)
    script.show("running", 20)
    poller.tick()
    again = env.state()
    assert again["jobs"]["recovering"]["seq"] == 2
    assert again["somethingNew"] == {"kept": True} and again["jobs"]["recovering"]["newPerJob"] == [1, 2, 3]


def test_a_new_poller_on_a_lost_state_with_an_unchanged_job_writes_nothing_twice(env: PollerEnv,
                                                                                  script: Script) -> None:
    """A fresh process (no hub view) and no state, the job exactly as last written: no new snapshot (the
    poller used to write 00001-running-40.json beside 00002-running-40.json)."""
    first = env.poller()
    for progress in (10, 40):
        script.show("running", progress)
        first.tick()
    state_client(env).delete_blob(state_blob(env))
    fresh = Poller(env.settings())
    for _ in range(2):
        assert fresh.tick().hubs[HUB].ok
    assert script.snapshots() == ["00001-running-10.json", "00002-running-40.json"]


def test_twenty_hubs_first_saves_race_to_create_the_missing_state_container(env: PollerEnv) -> None:
    """On a first run every hub's thread finds the state container missing and creates it: the ones that lose
    the race must still save (a 404 re-raised by the loser failed a hub's whole tick)."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.poller.state import HubState
    from shared.poller.store import StateStore

    container = service(env.azurite).get_container_client(new_container(env.azurite, create=False))
    store = StateStore(container)
    hubs = [f"hub{n:02d}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        etags = list(pool.map(lambda hub: store.save(HubState(hub=hub, created_at=ago(minutes=0)), None), hubs))
    assert all(etags)
    assert sorted(b.name for b in container.list_blobs()) == [f"hubs/{hub}.json" for hub in hubs]
