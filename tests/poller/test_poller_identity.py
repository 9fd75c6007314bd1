"""identityBased jobs: the poller writes with its managed-identity token to Azurite in OAuth mode over
HTTPS, trusting the test's self-signed certificate through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from shared.poller.storage import BlobClients
from shared.poller.tick import Poller
from tests.fixtures.storagefront import FrontedStorage
from tests.support.interleave import blob_key
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    allow_identity,
    assert_timeline,
    blob_names,
    counting_poller,
    create_job,
    events,
    expired_sas_uri,
    failed_import,
    new_container,
    read_json,
    upload_text,
)


def _identity_export(env: PollerEnv, oauth: AzuriteInfo) -> tuple[str, str]:
    container = new_container(oauth)
    job_id = create_job(env.hubsim, "devhub", {
        "type": "export", "storageAuthenticationType": "identityBased",
        "outputBlobContainerUri": f"{oauth.account_url}/{container}",
    })
    return job_id, container


def _tick_until_done(env: PollerEnv, **extra: str) -> None:
    poller = env.poller(**extra)
    for _ in range(200):
        poller.tick()
        jobs = env.state().get("jobs", {})
        if jobs and all(j.get("status") == "completed" and not j.get("pending") for j in jobs.values()):
            return
    raise AssertionError("the job was not recorded as completed")


def _audience(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"])


def test_identity_based_job_written_with_a_managed_identity_token(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read on the poller's own wire: every write into the job's container carried a bearer token the identity
    endpoint issued for storage, and no SAS. (Counting the tokens the endpoint issued proved nothing: the hub
    simulator asks it for one to write the export's own devices.txt.)"""
    allow_identity(env, azurite_oauth, monkeypatch)
    job_id, container = _identity_export(env, azurite_oauth)
    sent: list[tuple[str, str, str, int]] = []  # method, URL, Authorization, status

    def record(response: Any) -> None:
        request = response.http_request
        sent.append((request.method, request.url, request.headers.get("Authorization", ""),
                     response.http_response.status_code))

    poller = Poller(env.settings(), blobs=BlobClients(storage_client_id=None, response_hook=record))
    for _ in range(200):
        poller.tick()
        job_record = env.state().get("jobs", {}).get(job_id, {})
        if job_record.get("status") == "completed" and not job_record.get("pending"):
            break
    pairs = assert_timeline(blob_names(azurite_oauth, container, f"{PREFIX}/{job_id}/snapshots/"))
    assert pairs[-1] == ("completed", "100")
    latest = read_json(azurite_oauth, container, f"{PREFIX}/{job_id}/latest.json")
    assert latest["storageAuthenticationType"] == "identityBased"
    writes = [(url, auth, status) for method, url, auth, status in sent
              if method == "PUT" and blob_key(url).startswith(f"{container}/{PREFIX}/")]
    assert len(writes) >= len(pairs) + 1 and all(status == 201 for _, _, status in writes)
    assert not [url for url, _, _ in writes if "sig=" in url.lower()]
    issued = set(managed_identity.tokens())
    for _, authorization, _ in writes:
        scheme, _, token = authorization.partition(" ")
        assert scheme == "Bearer" and token in issued
        assert _audience(token) == wellknown.STORAGE_AUDIENCE


def test_without_the_ca_bundle_the_self_signed_host_is_refused(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Proves that REQUESTS_CA_BUNDLE is what made the test above trust Azurite's certificate."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    allow_identity(env, azurite_oauth, monkeypatch)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    _job_id, container = _identity_export(env, azurite_oauth)
    poller = env.poller()
    for _ in range(50):
        poller.tick()
        if events(caplog, "poller.write_failed"):
            break
    failed = events(caplog, "poller.write_failed")
    assert failed
    assert failed[0]["error"] == "ServiceRequestError"
    assert blob_names(azurite_oauth, container, f"{PREFIX}/") == []


def test_monitor_container_setting_writes_to_a_sibling_container(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_identity(env, azurite_oauth, monkeypatch)
    sibling = new_container(azurite_oauth, create=False)
    job_id, container = _identity_export(env, azurite_oauth)
    _tick_until_done(env, MONITOR_CONTAINER=sibling, MONITOR_PREFIX="monitor/jobs")
    assert blob_names(azurite_oauth, container) == ["devices.txt"]  # only IoT Hub's own output
    names = blob_names(azurite_oauth, sibling)
    assert f"monitor/jobs/{job_id}/latest.json" in names
    assert any(n.startswith(f"monitor/jobs/{job_id}/snapshots/") for n in names)


def test_job_whose_sas_expired_is_written_with_the_managed_identity(
    env: PollerEnv, storage_front_oauth: FrontedStorage, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """D8: the SAS in the URI has expired (which is often why the job failed): the 403 AuthenticationFailed
    leads to the managed identity for that job, for the writes and for reading importErrors.log, and the choice
    sticks. Through the storage front, which answers a refused SAS as Azure does (Azurite says
    AuthorizationFailure, which is a firewall's code)."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    azurite_oauth = storage_front_oauth.info
    allow_identity(env, azurite_oauth, monkeypatch)
    container = new_container(azurite_oauth)
    upload_text(azurite_oauth, container, "importErrors.log", json.dumps(
        {"errorCode": "404001", "errorStatus": "Device not found", "deviceId": "ghost"}) + "\n")
    uri = expired_sas_uri(azurite_oauth, container)
    # The SAS really is refused by this Azurite (which also accepts shared key and SAS besides tokens).
    with pytest.raises(HttpResponseError) as refused:
        ContainerClient.from_container_url(uri, connection_verify=str(azurite_oauth.ca_bundle)).upload_blob(
            "probe", b"x")
    assert (refused.value.status_code, getattr(refused.value, "error_code", None)) == (403, "AuthenticationFailed")
    job = {**failed_import("sas-expired", uri), "status": "running", "progress": 10}
    storage: list[str] = []
    poller = counting_poller(env, storage)
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
        ("sas-expired", "HTTP 403 AuthenticationFailed")]
    assert not events(caplog, "poller.write_failed")


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


def test_state_storage_never_uses_the_jobs_identity(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs identity (MONITOR_STORAGE_CLIENT_ID) holds no role on the app's own account (infra/main.bicep):
    without AzureWebJobsStorage__clientId the state store asks for the host's system-assigned identity, as the
    host does, never the jobs identity (an unknown client id here: asking for it would be refused)."""
    assert azurite_oauth.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle))
    rejected = managed_identity.counters().rejected
    result = env.poller(AzureWebJobsStorage="", AzureWebJobsStorage__blobServiceUri=azurite_oauth.account_url,
                        MONITOR_STORAGE_CLIENT_ID="5a5a5a5a-0000-4000-8000-0000000000fe").tick()
    assert result.hubs["devhub"].ok
    assert managed_identity.counters().rejected == rejected
    assert blob_names(azurite_oauth, env.state_container) == ["hubs/devhub.json"]
