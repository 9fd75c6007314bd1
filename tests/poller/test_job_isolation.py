"""A job's failure is the job's own (issue 21): whatever one job's folder or fields hold, the hub's other jobs get
their snapshots and reports in the same tick, and the job's own failures end in giving up, never in a retry for
ever. Each test plants the attack (or the accident) beside a healthy failed job of the same hub."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    allow_identity,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
    service,
    upload_text,
)


def _job(job_id: str, uri: str, **props: Any) -> dict[str, Any]:
    return {"jobId": job_id, "type": "export", "status": "running", "progress": 10, "outputBlobContainerUri": uri,
            **props}


def _healthy(env: PollerEnv) -> tuple[dict[str, Any], str]:
    """A failed job in a container of its own: it must get its snapshot and report whatever the other job holds."""
    container = new_container(env.azurite)
    job = _job("healthy", container_sas_uri(env.azurite, container), status="failed", progress=40,
               failureReason="ErrorCode:BlobContainerValidationError;could not write")
    return job, container


def _assert_healthy_done(env: PollerEnv, container: str) -> None:
    assert blob_names(env.azurite, container, f"{PREFIX}/healthy/") == [
        f"{PREFIX}/healthy/failure-report.json", f"{PREFIX}/healthy/failure-report.md",
        f"{PREFIX}/healthy/latest.json", f"{PREFIX}/healthy/snapshots/00001-failed-40.json"]
    assert env.report_copy("healthy")["jobId"] == "healthy"
    assert env.state()["jobs"]["healthy"]["report"] == "written"


def test_another_hubs_latest_json_behind_a_sas_without_list_fails_neither_the_hub_nor_the_job(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A planted latest.json that says it is another hub's made the write recover the folder, whose listing a SAS
    without List refuses: every tick ended `hub_failed 403` and no job of the hub got anything. latest.json is
    looked at before the listing now: the job moves to its hub's folder, and the other job is written."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    service(env.azurite).get_container_client(container).upload_blob(
        f"{PREFIX}/nolist/latest.json", b"{}", metadata={"monitorhub": "someoneelseshub", "monitorrev": "7"})
    nolist = _job("nolist", container_sas_uri(env.azurite, container, list_=False))
    healthy, healthy_container = _healthy(env)
    env.hubsim.control("devhub").seed_jobs([nolist, healthy])
    poller = env.poller()
    first = poller.tick().hubs["devhub"]
    assert first.ok and events(caplog, "poller.hub_failed") == []
    _assert_healthy_done(env, healthy_container)
    assert poller.tick().hubs["devhub"].ok
    assert blob_names(env.azurite, container, f"{PREFIX}/devhub/nolist/") == [
        f"{PREFIX}/devhub/nolist/latest.json", f"{PREFIX}/devhub/nolist/snapshots/00001-running-10.json"]


def test_a_refused_recovery_listing_is_the_jobs_failure_given_up_with_a_report_note(
    env: PollerEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No attacker: a failed job whose SAS has no List, after the state was lost, finds its own snapshot taken
    and cannot list the folder to number past it. That is its own failure (the other job of the hub is written
    in the same tick), counted toward giving up, which ends in the job's report saying why (here after 3)."""
    from shared.poller import confirm

    monkeypatch.setattr(confirm, "MAX_WRITE_FAILURES", 3)
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    lost = _job("lost", container_sas_uri(env.azurite, container, list_=False), status="failed", progress=40,
                failureReason="ErrorCode:BlobContainerValidationError;x", startTimeUtc=ago(minutes=3),
                endTimeUtc=ago(minutes=1))
    control = env.hubsim.control("devhub")
    control.seed_jobs([lost])
    assert env.poller().tick().hubs["devhub"].ok
    blobs = service(env.azurite).get_container_client(container)
    for name in (f"{PREFIX}/lost/failure-report.json", f"{PREFIX}/lost/failure-report.md"):
        blobs.delete_blob(name)
    service(env.azurite).get_container_client(env.state_container).delete_blob("hubs/devhub.json")
    healthy, healthy_container = _healthy(env)
    control.seed_jobs([lost, healthy])
    poller = env.poller()
    ticks = [poller.tick().hubs["devhub"] for _ in range(5)]
    assert all(t.ok for t in ticks) and events(caplog, "poller.hub_failed") == []
    _assert_healthy_done(env, healthy_container)
    failed = events(caplog, "poller.write_failed")
    assert [e["jobId"] for e in failed] == ["lost"] * 3
    assert failed[0]["code"] == "AuthorizationPermissionMismatch"
    record = env.state()["jobs"]["lost"]
    assert record["skipped"] == "gave up after 3 failed writes; the last: HTTP 403 AuthorizationPermissionMismatch"
    assert not record.get("pending") and record["report"] == "written"
    note = env.report_copy("lost")["monitorNote"]
    assert "gave up after 3 failed writes" in note and "AuthorizationPermissionMismatch" in note
    assert [e["jobId"] for e in events(caplog, "poller.job_skipped")] == ["lost"]
    # The note is the app's own copy (served by the report route): the job's container is what kept failing.
    assert blob_names(env.azurite, container, f"{PREFIX}/lost/failure-report") == []
    assert [e["jobId"] for e in events(caplog, "poller.report_written")][-1] == "lost"


def test_snapshot_named_blobs_nested_too_deep_to_parse_fail_neither_the_hub_nor_the_job(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Snapshot-named blobs holding `[` nested 100,000 deep ended every tick `hub_failed RecursionError` (recovery
    parsed the folder's newest one and caught only ValueError). Such a body is no document of ours: the job
    numbers past it, and the other job is written in the same tick."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    for name in ("00001-running-99.json", "00002-running-98.json"):
        upload_text(env.azurite, container, f"{PREFIX}/deep/snapshots/{name}", "[" * 100_000)
    deep = _job("deep", container_sas_uri(env.azurite, container))
    healthy, healthy_container = _healthy(env)
    env.hubsim.control("devhub").seed_jobs([deep, healthy])
    poller = env.poller()
    assert poller.tick().hubs["devhub"].ok and events(caplog, "poller.hub_failed") == []
    _assert_healthy_done(env, healthy_container)
    assert poller.tick().hubs["devhub"].ok
    assert f"{PREFIX}/deep/snapshots/00003-running-10.json" in blob_names(env.azurite, container, f"{PREFIX}/deep/")
    assert events(caplog, "poller.hub_failed") == [] and env.state()["jobs"]["deep"].get("write_failures", 0) == 0


def test_the_identity_reads_no_blob_a_job_names_only_the_imports_errors_log(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An identity-based import into a container the app's identity may read named
    `outputBlobName=billing/2026/customers.csv`: its first rows went into the report's firstEntries, which the
    report route serves. With the identity only importErrors.log is read (docs/iothub-evidence.md), the
    report says the named blob was not, and the other job of the hub gets its report in the same tick."""
    allow_identity(env, azurite_oauth, monkeypatch)
    container = new_container(azurite_oauth)
    upload_text(azurite_oauth, container, "billing/2026/customers.csv",
                "".join(f"Contoso customer {n},card 4111-{n:04d}\n" for n in range(40)))
    upload_text(azurite_oauth, container, "importErrors.log", json.dumps(
        {"errorCode": 404001, "errorStatus": "Device ghost-9 not found", "deviceId": "ghost-9"}) + "\n")
    uri = f"{azurite_oauth.account_url}/{container}"
    nosy = {"jobId": "nosy", "type": "import", "status": "completed", "progress": 100,
            "storageAuthenticationType": "identityBased", "outputBlobContainerUri": uri,
            "inputBlobContainerUri": uri, "outputBlobName": "billing/2026/customers.csv",
            "inputBlobName": "billing/2026/customers.csv", "startTimeUtc": ago(minutes=3),
            "endTimeUtc": ago(seconds=1)}
    healthy, healthy_container = _healthy(env)
    env.hubsim.control("devhub").seed_jobs([nosy, healthy])
    assert env.poller().tick().hubs["devhub"].ok
    _assert_healthy_done(env, healthy_container)
    report = env.report_copy("nosy")
    assert "Contoso" not in json.dumps(report) and "4111" not in json.dumps(report)
    assert report["importErrors"]["totalLines"] == 1
    assert [e.get("deviceId") for e in report["importErrors"]["firstEntries"]] == ["ghost-9"]
    assert "outputBlobName ('billing/2026/customers.csv') was not read" in report["importErrorsNote"]
    assert report["inputLines"] is None  # the input the job names is not counted with the identity either


def test_planted_six_mib_snapshots_with_a_leased_latest_json_never_grow_the_state(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A planted snapshot of 6 MiB, newest in the folder and of the job's own (status, progress), with a leased
    latest.json that no write can replace: recovery built latest.json from that snapshot and the state kept it,
    6 MiB per such job, until the state was too large to read and was rebuilt (and filled again) on every tick.
    Only a document of ours is kept: the state stays small, and the other job is written in the same tick."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    blobs = service(env.azurite).get_container_client(container)
    filler = "x" * (6 << 20)
    for job_id in ("big-1", "big-2"):
        upload_text(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/00001-queued-0.json", "{}")
        upload_text(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/00002-running-10.json", json.dumps(
            {"jobId": job_id, "status": "running", "progress": 10, "polledAtUtc": ago(), "filler": filler}))
        upload_text(env.azurite, container, f"{PREFIX}/{job_id}/latest.json", "{}")
        blobs.get_blob_client(f"{PREFIX}/{job_id}/latest.json").acquire_lease(lease_duration=-1)
    uri = container_sas_uri(env.azurite, container)
    healthy, healthy_container = _healthy(env)
    env.hubsim.control("devhub").seed_jobs([_job("big-1", uri), _job("big-2", uri), healthy])
    poller = env.poller()
    ticks = [poller.tick().hubs["devhub"] for _ in range(3)]
    assert all(t.ok for t in ticks) and events(caplog, "poller.hub_failed") == []
    _assert_healthy_done(env, healthy_container)
    state = service(env.azurite).get_container_client(env.state_container).download_blob("hubs/devhub.json").readall()
    assert len(state) < 64 << 10 and b"filler" not in state
    for job_id in ("big-1", "big-2"):  # latest.json (still pending: leased) repeats the folder's newest snapshot
        latest = env.state()["jobs"][job_id]["latest"]["document"]
        assert (latest["snapshotSeq"], latest["status"], latest["progress"]) == (2, "running", 10)
    assert events(caplog, "poller.state_recovered") == []


def test_a_job_document_larger_than_a_record_may_be_is_cut_to_the_jobs_documented_fields(env: PollerEnv) -> None:
    """Every field of a job is the creator's: one of 1 MiB is not carried into the state (where a claim lives
    until written) or into each snapshot. The snapshot keeps IoT Hub's JobProperties, each cut, and says so."""
    container = new_container(env.azurite)
    fat = _job("fat", container_sas_uri(env.azurite, container), status="failed", progress=40,
               failureReason="ErrorCode:BlobContainerValidationError;" + "y" * 5000, padding="z" * (1 << 20))
    healthy, healthy_container = _healthy(env)
    env.hubsim.control("devhub").seed_jobs([fat, healthy])
    assert env.poller().tick().hubs["devhub"].ok
    _assert_healthy_done(env, healthy_container)
    snapshot = read_json(env.azurite, container, f"{PREFIX}/fat/snapshots/00001-failed-40.json")
    assert "padding" not in snapshot and snapshot["monitorTruncated"] is True
    assert (snapshot["jobId"], snapshot["status"], snapshot["progress"]) == ("fat", "failed", 40)
    assert len(snapshot["failureReason"]) == 2048
    assert env.report_copy("fat")["failureReason"]["code"] == "BlobContainerValidationError"
