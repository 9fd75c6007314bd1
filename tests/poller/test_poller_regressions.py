"""Regressions of reviewed poller defects, against the devstack simulator and Azurite (no mocks)."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from shared.clock import utc_now
from shared.jobs import JobStatus
from shared.poller.events import PollerEvent
from shared.poller.state import MAX_WRITE_FAILURES, JobRecord, ReportState
from shared.poller.storage import BlobClients
from shared.poller.tick import Poller
from tests.fixtures.listeners import TcpListener
from tests.poller.conftest import (
    PREFIX,
    PollerEnv,
    allow_identity,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
    service,
    upload_text,
    utc_iso,
)


def _counting_poller(env: PollerEnv, requests_seen: list[str], **extra: str) -> Poller:
    return Poller(env.settings(**extra), blobs=BlobClients(
        storage_client_id=None, request_hook=lambda request: requests_seen.append(request.http_request.method)))


def test_job_missing_from_one_list_keeps_its_seq_when_it_returns(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """D3: an empty list once must not wipe the hub's state; the job's seq continues when it is back."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    control = env.hubsim.control("devhub")
    container = new_container(env.azurite)
    job = {"jobId": "comes-back", "type": "export", "status": "running", "progress": 40,
           "outputBlobContainerUri": container_sas_uri(env.azurite, container)}
    storage: list[str] = []
    poller = _counting_poller(env, storage)
    poller.tick()  # the first run: an empty hub
    control.seed_jobs([job])
    poller.tick()
    control.forget_jobs()
    poller.tick()  # one empty 200 list
    assert "comes-back" in env.state()["jobs"]
    control.seed_jobs([job])  # back, unchanged: nothing new to write
    poller.tick()
    control.forget_jobs()
    control.seed_jobs([{**job, "progress": 60}])  # back, and it moved: the seq continues
    poller.tick()
    assert blob_names(env.azurite, container, f"{PREFIX}/comes-back/snapshots/") == [
        f"{PREFIX}/comes-back/snapshots/00001-running-40.json",
        f"{PREFIX}/comes-back/snapshots/00002-running-60.json",
    ]
    latest = read_json(env.azurite, container, f"{PREFIX}/comes-back/latest.json")
    assert (latest["snapshotSeq"], latest["progress"]) == (2, 60)
    assert [(e["seq"], e["progress"]) for e in events(caplog, "poller.job_changed")] == [(1, 40), (2, 60)]
    # And the steady state is back to no storage request at all.
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []
    # Forgotten only once it is absent and its last change is older than the hub's 30-day history.
    control.forget_jobs()
    poller.tick()
    assert "comes-back" in env.state()["jobs"]
    later = Poller(env.settings(), clock=lambda: utc_now() + datetime.timedelta(days=32))
    later.tick()
    assert "comes-back" not in env.state()["jobs"]


def _failed_import(job_id: str, uri: str) -> dict[str, object]:
    return {"jobId": job_id, "type": "import", "status": "failed", "progress": 20,
            "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
            "failureReason": "ErrorCode:ImportErrors;1 of 1 devices failed to import",
            "startTimeUtc": _ago(minutes=3), "endTimeUtc": _ago(minutes=1)}


def _ago(**delta: float) -> str:
    return utc_iso(utc_now() - datetime.timedelta(**delta))


def test_pending_work_of_an_unlisted_job_counts_toward_giving_up(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """D7: the claim is stored, the write fails, the job leaves the list: each tick is a failure, the poller
    gives up at MAX_WRITE_FAILURES, and the steady state goes back to no storage request."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    control = env.hubsim.control("devhub")
    container = new_container(env.azurite, create=False)  # missing: the writes fail
    storage: list[str] = []
    poller = _counting_poller(env, storage)
    poller.tick()
    control.seed_jobs([_failed_import("gone-pending", container_sas_uri(env.azurite, container))])
    assert poller.tick().hubs["devhub"].write_failures == 1
    control.forget_jobs()
    # Over http the stored (redacted) document leaves no usable credential: every tick is a failure.
    for expected in range(2, MAX_WRITE_FAILURES + 1):
        assert poller.tick().hubs["devhub"].write_failures == 1, expected
    record = env.state()["jobs"]["gone-pending"]
    assert record["skipped"].startswith(f"gave up after {MAX_WRITE_FAILURES}")
    assert [e["jobId"] for e in events(caplog, "poller.job_skipped")] == ["gone-pending"]
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []


def test_pending_work_of_an_unlisted_job_is_written_from_the_stored_documents(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D7: the job's SAS is gone with the list entry; its stored, redacted documents and the managed identity
    still finish its snapshot, latest.json and report (importErrors.log read with the identity too)."""
    allow_identity(env, azurite_oauth, monkeypatch)
    control = env.hubsim.control("devhub")
    container = new_container(azurite_oauth, create=False)
    storage: list[str] = []
    poller = _counting_poller(env, storage)
    poller.tick()
    control.seed_jobs([_failed_import("gone-written", container_sas_uri(azurite_oauth, container))])
    assert poller.tick().hubs["devhub"].write_failures == 1
    control.forget_jobs()
    service(azurite_oauth).create_container(container)
    upload_text(azurite_oauth, container, "importErrors.log", json.dumps(
        {"errorCode": "404001", "errorStatus": "Device not found", "deviceId": "ghost"}) + "\n")
    result = poller.tick()
    assert result.hubs["devhub"].write_failures == 0
    assert blob_names(azurite_oauth, container, f"{PREFIX}/") == [
        f"{PREFIX}/gone-written/failure-report.json", f"{PREFIX}/gone-written/failure-report.md",
        f"{PREFIX}/gone-written/latest.json", f"{PREFIX}/gone-written/snapshots/00001-failed-20.json",
    ]
    report = read_json(azurite_oauth, container, f"{PREFIX}/gone-written/failure-report.json")
    assert report["importErrors"]["totalLines"] == 1
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) >= 1
    assert env.state()["jobs"]["gone-written"].get("pending", []) == []
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []


@pytest.fixture
def silent_storage() -> Iterator[TcpListener]:
    server = TcpListener(hold=True)
    yield server
    server.close()


def test_a_hung_storage_call_ends_within_the_tick_budget(env: PollerEnv, silent_storage: TcpListener) -> None:
    """D9: with 30 s read timeouts and retries, one write to a hung account outlived the tick's budget and
    the hub was reported timed out; per-call timeouts now end it in time, and the state is confirmed."""
    uri = f"http://127.0.0.1:{silent_storage.port}/devstoreaccount1/hung?sv=2021-08-06&sr=c&sp=rwdl&sig=abc%3D"
    poller = env.poller(MONITOR_TICK_BUDGET_SECONDS="6")
    poller.tick()
    env.hubsim.control("devhub").seed_jobs([_failed_import("hung-storage", uri)])
    result = poller.tick()
    outcome = result.hubs["devhub"]
    # Not timed out: the hub's work (the hung write included) ended inside the tick's budget.
    assert (outcome.ok, outcome.timed_out, outcome.write_failures) == (True, False, 1)
    assert silent_storage.connections  # it was contacted, and hung
    assert env.state()["jobs"]["hung-storage"]["write_failures"] == 1


def _expired_sas_uri(azurite: AzuriteInfo, container: str) -> str:
    past = utc_now() - datetime.timedelta(hours=2)
    sas = generate_container_sas(
        wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
        start=past - datetime.timedelta(hours=1), expiry=past,
    )
    return f"{azurite.account_url}/{container}?{sas}"


def test_job_whose_sas_expired_is_written_with_the_managed_identity(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """D8: the SAS in the URI has expired (which is often why the job failed): the 403 leads to the
    managed identity for that job, for the writes and for reading importErrors.log, and the choice sticks."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    allow_identity(env, azurite_oauth, monkeypatch)
    container = new_container(azurite_oauth)
    upload_text(azurite_oauth, container, "importErrors.log", json.dumps(
        {"errorCode": "404001", "errorStatus": "Device not found", "deviceId": "ghost"}) + "\n")
    uri = _expired_sas_uri(azurite_oauth, container)
    # The SAS really is refused by this Azurite (which also accepts shared key and SAS besides tokens).
    with pytest.raises(HttpResponseError) as refused:
        ContainerClient.from_container_url(uri, connection_verify=str(azurite_oauth.ca_bundle)).upload_blob(
            "probe", b"x")
    assert refused.value.status_code == 403
    job = {**_failed_import("sas-expired", uri), "status": "running", "progress": 10}
    storage: list[str] = []
    poller = _counting_poller(env, storage)
    control = env.hubsim.control("devhub")
    poller.tick()
    control.seed_jobs([job])
    assert poller.tick().hubs["devhub"].write_failures == 0
    control.forget_jobs()
    control.seed_jobs([{**job, "status": "failed", "progress": 20,
                        "failureReason": "ErrorCode:AuthorizationFailed;the SAS token has expired"}])
    assert poller.tick().hubs["devhub"].write_failures == 0
    assert blob_names(azurite_oauth, container, f"{PREFIX}/") == [
        f"{PREFIX}/sas-expired/failure-report.json", f"{PREFIX}/sas-expired/failure-report.md",
        f"{PREFIX}/sas-expired/latest.json",
        f"{PREFIX}/sas-expired/snapshots/00001-running-10.json",
        f"{PREFIX}/sas-expired/snapshots/00002-failed-20.json",
    ]
    report = read_json(azurite_oauth, container, f"{PREFIX}/sas-expired/failure-report.json")
    assert report["importErrors"]["totalLines"] == 1
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) >= 1  # the SAS cannot have written
    # One fallback line for the job, not one per tick: the second tick used the identity straight away.
    assert [(e["jobId"], e["message"]) for e in events(caplog, "poller.sas_refused")] == [
        ("sas-expired", "HTTP 403 AuthorizationFailure")]
    assert not events(caplog, "poller.write_failed")


def test_tick_line_carries_every_outcome_counter(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    """(c) jobs_listed, latest_written and claim_conflicts were counted but never read: the tick line has them."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    poller = env.poller()
    poller.tick()
    env.hubsim.control("devhub").seed_jobs([{"jobId": "counted", "type": "export", "status": "running",
                                             "progress": 5,
                                             "outputBlobContainerUri": container_sas_uri(env.azurite, container)}])
    poller.tick()
    line = events(caplog, "poller.tick")[-1]
    assert (line["jobsListed"], line["changes"], line["snapshots"], line["latestWritten"], line["claimConflicts"]) == (
        1, 1, 1, 1, 0)


def test_state_enums_round_trip_as_the_same_strings() -> None:
    """(d) ReportState, JobRecord.status and the event names are enums; the state blob and the event table
    in docs/poller.md (which the Kusto queries rely on) still see the same strings."""
    events_doc = (Path(__file__).parents[2] / "docs" / "poller.md").read_text()
    assert all(f"`{event.value}`" in events_doc for event in PollerEvent)
    record = JobRecord(job_id="j", status=JobStatus.FAILED, report=ReportState.PENDING)
    data = record.to_json()
    assert (data["status"], data["report"]) == ("failed", "pending")
    assert type(data["status"]) is str and type(data["report"]) is str
    back = JobRecord.from_json(json.loads(json.dumps(data)))
    assert (back.status, back.report) == (JobStatus.FAILED, ReportState.PENDING)


def test_state_storage_uses_the_hosts_user_assigned_identity(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(a) AzureWebJobsStorage__credential=managedidentity with __clientId: the state store asks the identity
    endpoint for that client id (an unknown one is refused there, which shows it was the one asked for)."""
    assert azurite_oauth.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle))
    identity_state = {"AzureWebJobsStorage": "", "AzureWebJobsStorage__blobServiceUri": azurite_oauth.account_url,
                      "AzureWebJobsStorage__credential": "managedidentity"}
    unknown = "5a5a5a5a-0000-4000-8000-0000000000ff"
    rejected = managed_identity.counters().rejected
    result = env.poller(**identity_state, AzureWebJobsStorage__clientId=unknown).tick()
    assert not result.hubs["devhub"].ok
    assert managed_identity.counters().rejected > rejected
    user_assigned = sorted(wellknown.USER_ASSIGNED_CLIENT_IDS)[0]
    assert env.poller(**identity_state, AzureWebJobsStorage__clientId=user_assigned).tick().hubs["devhub"].ok
    assert blob_names(azurite_oauth, env.state_container) == ["hubs/devhub.json"]


def test_listed_job_ids_that_cannot_name_a_blob_are_skipped_with_one_log_line(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """(b) The poller takes the ids the hub lists; one that is not blob-safe is skipped (logged once), not
    crashed on, and the other jobs are written. A trailing newline used to slip through `$`."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    unsafe = ["bad/slash", "dot..dot", "newline\n", "with space", "x" * 201, "-leading-hyphen"]
    seeded = env.hubsim.control("devhub").seed_jobs(
        [{"jobId": job_id, "type": "export", "status": "running", "progress": 1, "outputBlobContainerUri": uri}
         for job_id in [*unsafe, "fine:id@1"]])
    assert seeded == [*unsafe, "fine:id@1"]
    poller = env.poller()
    for _ in range(3):
        assert poller.tick().hubs["devhub"].ok
    assert blob_names(env.azurite, container, f"{PREFIX}/") == [
        f"{PREFIX}/fine:id@1/latest.json", f"{PREFIX}/fine:id@1/snapshots/00001-running-1.json"]
    skipped = events(caplog, "poller.job_skipped")
    assert sorted(e["jobId"] for e in skipped) == sorted(unsafe)
    assert all(e["reason"] == "the jobId cannot be used as a blob name" for e in skipped)
    assert list(env.state()["jobs"]) == ["fine:id@1"]
