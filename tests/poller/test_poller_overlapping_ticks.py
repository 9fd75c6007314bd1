"""Exactly once when two ticks overlap, at the exact points where they can: one tick is paused before a storage
request and another whole tick runs in the gap (tests/support/interleave.py), every run. The first writes of
each blob are counted on the wire."""

from __future__ import annotations

from devstack.storagefront import Denial
from shared.poller.tick import Poller
from tests.fixtures.storagefront import FrontedStorage
from tests.support.interleave import PauseBefore, Wire
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    new_container,
    read_json,
    service,
)

HUB = "devhub"
STATE_BLOB = f"/hubs/{HUB}.json"


def show(env: PollerEnv, job_id: str, status: str, progress: int, uri: str) -> None:
    """The hub lists the job as this, from now on."""
    control = env.hubsim.control(HUB)
    control.forget_jobs()
    job: dict[str, object] = {"jobId": job_id, "type": "export", "status": status, "progress": progress,
                              "outputBlobContainerUri": uri, "startTimeUtc": ago(minutes=10)}
    if status in ("completed", "failed", "cancelled"):
        job |= {"endTimeUtc": ago(minutes=0), "failureReason": "ErrorCode:ServerError;the export stopped"}
    control.seed_jobs([job])


def snapshots(env: PollerEnv, container: str, job_id: str) -> list[str]:
    return [n.rsplit("/", 1)[1] for n in blob_names(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/")]


def test_a_tick_whose_claim_lost_to_a_newer_list_never_records_its_older_one(env: PollerEnv) -> None:
    """Tick A lists the job at 10 % and plans; before its claim lands, tick B lists it at 20 % and claims. A's
    claim conflicts, A plans again on the fresh state with its own (older) list: 10 % is behind what is
    recorded, so nothing is taken from it (a guard no soak run had reached)."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    show(env, "raced", "running", 5, uri)
    assert env.poller().tick().hubs[HUB].ok
    show(env, "raced", "running", 10, uri)

    def tick_b() -> None:
        show(env, "raced", "running", 20, uri)
        assert env.poller().tick().hubs[HUB].changes == 1

    tick_a = Poller(env.settings(), blobs=Wire().clients(pause=PauseBefore("PUT", STATE_BLOB, tick_b)))
    outcome = tick_a.tick().hubs[HUB]
    assert (outcome.ok, outcome.claim_conflicts, outcome.changes) == (True, 1, 0)
    assert snapshots(env, container, "raced") == ["00001-running-5.json", "00002-running-20.json"]
    latest = read_json(env.azurite, container, f"{PREFIX}/raced/latest.json")
    assert (latest["progress"], latest["snapshotSeq"]) == (20, 2)
    assert "latest" not in env.state()["jobs"]["raced"]  # nothing left pending


def test_a_confirm_never_drops_a_newer_latest_revision_another_tick_claimed(
    env: PollerEnv, storage_front: FrontedStorage
) -> None:
    """Tick A wrote latest.json revision 2 (10 %); before its confirm lands, tick B claims revision 3 (20 %)
    and cannot write it (the job's storage refuses B). A's confirm conflicts and is folded into the fresh
    state: it may take out its own revision, never B's, or latest.json would stay at 10 % for good."""
    front = storage_front.info
    container = new_container(front)
    uri = container_sas_uri(front, container)
    show(env, "confirmed", "running", 5, uri)
    assert env.poller().tick().hubs[HUB].ok
    show(env, "confirmed", "running", 10, uri)

    def tick_b() -> None:
        show(env, "confirmed", "running", 20, uri)
        storage_front.control.deny(container, Denial.FIREWALL)
        outcome = env.poller().tick().hubs[HUB]
        storage_front.control.allow(container)
        assert (outcome.ok, outcome.write_failures) == (True, 1)

    # A's second save of the state is its confirm (its first, the claim).
    tick_a = Poller(env.settings(), blobs=Wire().clients(pause=PauseBefore("PUT", STATE_BLOB, tick_b, occurrence=2)))
    assert tick_a.tick().hubs[HUB].claim_conflicts == 1
    assert env.state()["jobs"]["confirmed"]["latest"]["rev"] == 3  # B's claim, still pending
    assert env.poller().tick().hubs[HUB].ok  # any later tick writes what B claimed
    latest = read_json(front, container, f"{PREFIX}/confirmed/latest.json")
    assert (latest["progress"], latest["snapshotSeq"]) == (20, 3)
    assert service(front).get_blob_client(container, f"{PREFIX}/confirmed/latest.json").get_blob_properties(
    ).metadata["monitorrev"] == "3"


def test_two_ticks_writing_one_claim_create_each_blob_once(env: PollerEnv) -> None:
    """Tick A claims a failed job; just before A creates its snapshot, tick B writes everything the claim
    holds (snapshot, latest.json, both report files). A's creates then find each blob there (If-None-Match)
    and latest.json at the same revision: on the wire, every blob of the job was PUT exactly once."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    assert env.poller().tick().hubs[HUB].ok  # not a first run: the job is reported whatever its end time
    show(env, "twice", "failed", 30, uri)
    wire = Wire()
    tick_b = Poller(env.settings(), blobs=wire.clients())

    def run_b() -> None:
        outcome = tick_b.tick().hubs[HUB]
        assert (outcome.snapshots_written, outcome.latest_written, outcome.reports_written) == (1, 1, 1)

    tick_a = Poller(env.settings(), blobs=wire.clients(
        pause=PauseBefore("PUT", "/snapshots/00001-failed-30.json", run_b)))
    outcome = tick_a.tick().hubs[HUB]
    assert (outcome.ok, outcome.write_failures) == (True, 0)
    assert wire.puts_under(container, f"{PREFIX}/") == {
        f"{PREFIX}/twice/failure-report.json": 1,
        f"{PREFIX}/twice/failure-report.md": 1,
        f"{PREFIX}/twice/latest.json": 1,
        f"{PREFIX}/twice/snapshots/00001-failed-30.json": 1,
    }
    assert env.state()["jobs"]["twice"]["report"] == "written"


def test_latest_json_never_goes_back_to_an_older_revision(env: PollerEnv) -> None:
    """Tick A is about to write latest.json revision 2 (10 %) when tick B claims and writes revision 3 (20 %).
    A's write is conditional on the ETag it knew and, on conflict, compares revisions: it leaves 3 in place."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    show(env, "forward", "running", 5, uri)
    assert env.poller().tick().hubs[HUB].ok
    show(env, "forward", "running", 10, uri)

    def tick_b() -> None:
        show(env, "forward", "running", 20, uri)
        assert env.poller().tick().hubs[HUB].latest_written == 1

    tick_a = Poller(env.settings(), blobs=Wire().clients(
        pause=PauseBefore("PUT", f"{PREFIX}/forward/latest.json", tick_b)))
    assert tick_a.tick().hubs[HUB].ok
    latest = read_json(env.azurite, container, f"{PREFIX}/forward/latest.json")
    assert (latest["progress"], latest["snapshotSeq"]) == (20, 3)
    assert snapshots(env, container, "forward") == [
        "00001-running-5.json", "00002-running-10.json", "00003-running-20.json"]
