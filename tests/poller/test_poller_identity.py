"""identityBased jobs: the poller writes with its managed-identity token to Azurite in OAuth mode over
HTTPS, trusting the test's self-signed certificate through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import logging

import pytest

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from tests.poller.conftest import (
    PREFIX,
    PollerEnv,
    allow_identity,
    blob_names,
    create_job,
    events,
    new_container,
    read_json,
)
from tests.poller.test_poller_jobs import assert_timeline


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


def test_identity_based_job_written_with_a_managed_identity_token(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_identity(env, azurite_oauth, monkeypatch)
    job_id, container = _identity_export(env, azurite_oauth)
    _tick_until_done(env)
    pairs = assert_timeline(blob_names(azurite_oauth, container, f"{PREFIX}/{job_id}/snapshots/"))
    assert pairs[-1] == ("completed", "100")
    latest = read_json(azurite_oauth, container, f"{PREFIX}/{job_id}/latest.json")
    assert latest["storageAuthenticationType"] == "identityBased"
    # The poller holds no key or SAS for this account: only a token can have written these.
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) >= 1


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
