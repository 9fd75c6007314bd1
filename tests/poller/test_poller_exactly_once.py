"""Exactly once: repeated ticks, storage that fails and recovers, interrupted work, overlapping ticks."""

from __future__ import annotations

import collections
import json
import threading
import time

from devstack import processes
from shared.poller.storage import BlobClients
from shared.poller.tick import Poller
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    assert_timeline,
    blob_names,
    container_sas_uri,
    create_job,
    new_container,
    read_json,
    service,
    snapshots,
    start_failing_import,
    upload_text,
    wait_terminal,
)


def monitor_blobs(env: PollerEnv, container: str) -> list[str]:
    return blob_names(env.azurite, container, f"{PREFIX}/")


def test_no_duplicates_over_many_ticks(env: PollerEnv) -> None:
    storage_requests: list[str] = []
    poller = Poller(env.settings(), blobs=BlobClients(
        storage_client_id=None, request_hook=lambda request: storage_requests.append(request.http_request.method)))
    export_container = new_container(env.azurite)
    export_id = create_job(env.hubsim, "devhub", {"type": "export", "outputBlobContainerUri": container_sas_uri(
        env.azurite, export_container)})
    for _ in range(40):
        poller.tick()
        time.sleep(0.005)
    wait_terminal(env.hubsim, "devhub", export_id)
    import_id, import_container = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", import_id)
    poller.tick()
    before = {c: monitor_blobs(env, c) for c in (export_container, import_container)}
    state_blob = service(env.azurite).get_blob_client(env.state_container, "hubs/devhub.json")
    state_etag = state_blob.get_blob_properties().etag
    control = env.hubsim.control("devhub")
    counters_before = control.counters()
    poller.tick()  # the first steady tick confirms nothing is pending
    storage_requests.clear()
    for _ in range(24):
        poller.tick()
    assert {c: monitor_blobs(env, c) for c in (export_container, import_container)} == before
    assert_timeline(snapshots(env, export_container, export_id))
    # A steady tick costs one list call and no storage request at all (the state is not even read).
    assert storage_requests == []
    counters = control.counters()
    assert counters["list"] - counters_before["list"] == 25
    assert counters["total"] - counters_before["total"] == 25  # no per-job GETs
    assert state_blob.get_blob_properties().etag == state_etag


def test_job_storage_failing_then_recovering_writes_each_blob_once(env: PollerEnv) -> None:
    """The job's output container disappears after the job ends (the poller's writes fail), then returns."""
    poller = env.poller()
    poller.tick()
    healthy_id, healthy = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", healthy_id)
    broken_id, broken = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", broken_id)
    log = service(env.azurite).get_container_client(broken).download_blob("importErrors.log").readall()
    service(env.azurite).delete_container(broken)
    result = poller.tick()
    assert result.hubs["devhub"].ok
    assert result.hubs["devhub"].write_failures == 1
    # The healthy job was written in the same tick; the broken one is claimed in the state, not written.
    assert f"{PREFIX}/{healthy_id}/failure-report.md" in monitor_blobs(env, healthy)
    record = env.state()["jobs"][broken_id]
    assert [p["seq"] for p in record["pending"]] == [1]
    assert record["report"] == "pending"
    # A crashed tick may even have written the snapshot before dying: the next one must not mind.
    service(env.azurite).create_container(broken)
    upload_text(env.azurite, broken, "importErrors.log", log.decode())
    pending_blob = record["pending"][0]["blob"]
    upload_text(env.azurite, broken, pending_blob, json.dumps(record["pending"][0]["document"]))
    for _ in range(3):
        poller.tick()
    for job_id, container in ((healthy_id, healthy), (broken_id, broken)):
        names = monitor_blobs(env, container)
        assert names == sorted([
            *snapshots(env, container, job_id),
            f"{PREFIX}/{job_id}/failure-report.json",
            f"{PREFIX}/{job_id}/failure-report.md",
            f"{PREFIX}/{job_id}/latest.json",
        ])
        assert len(snapshots(env, container, job_id)) == 1
    report = read_json(env.azurite, broken, f"{PREFIX}/{broken_id}/failure-report.json")
    assert report["importErrors"]["totalLines"] == 4
    record = env.state()["jobs"][broken_id]
    assert record.get("pending", []) == []
    assert record["report"] == "written"


def test_state_storage_unreachable_then_restored(env: PollerEnv) -> None:
    """AzureWebJobsStorage pointing at a port nobody listens on: the hub's tick fails, then catches up."""
    refused = f"http://127.0.0.1:{processes.free_port()}/devstoreaccount1"
    broken_state = env.azurite.connection_string.replace(env.azurite.account_url, refused)
    job_id, container = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", job_id)
    result = Poller(env.settings(AzureWebJobsStorage=broken_state)).tick()
    assert not result.hubs["devhub"].ok
    assert monitor_blobs(env, container) == []  # nothing is written before the claim is stored
    poller = env.poller()
    poller.tick()
    poller.tick()
    assert len(snapshots(env, container, job_id)) == 1
    assert f"{PREFIX}/{job_id}/failure-report.json" in monitor_blobs(env, container)


def test_two_ticks_at_once_never_duplicate(env: PollerEnv) -> None:
    """Two pollers (as two hosts would be) ticking concurrently while jobs move."""
    control = env.hubsim.control("devhub")
    control.set_timing(enqueued_ms=20, running_ms=400, progress_steps=8)
    pollers = [env.poller(), env.poller()]
    container = new_container(env.azurite)
    job_id = create_job(env.hubsim, "devhub", {"type": "export", "outputBlobContainerUri": container_sas_uri(
        env.azurite, container)})
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(poller: Poller) -> None:
        try:
            while not stop.is_set():
                poller.tick()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in pollers for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_terminal(env.hubsim, "devhub", job_id)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    pollers[0].tick()
    pairs = assert_timeline(snapshots(env, container, job_id))
    assert pairs[-1] == ("completed", "100")
    assert max(collections.Counter(pairs).values()) == 1  # no (status, progress) recorded twice
    latest = read_json(env.azurite, container, f"{PREFIX}/{job_id}/latest.json")
    assert latest["snapshotSeq"] == len(pairs)
    assert latest["status"] == "completed"
