"""Storage's three 403s told apart, from real answers: Azurite's own (a SAS without the permission), and the
storage front's (devstack/storagefront.py: a refused SAS as Azure answers it, a firewall, a missing role).

- AuthenticationFailed, a bad or expired SAS: the only refusal after which the identity may take over.
- AuthorizationFailure, a firewall: no credential helps, the identity is never tried; the hint names VNet
  integration and private endpoints.
- AuthorizationPermissionMismatch, a missing role (or a SAS without the permission): the hint names the role
  and the container.
"""

from __future__ import annotations

import datetime
import logging

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from devstack.storagefront import Denial
from shared.http.targets import parse_container_uri
from shared.poller.storage import (
    BlobClients,
    StorageRefusal,
    sas_refused,
    storage_error_hint,
    storage_error_text,
    storage_refusal,
)
from shared.poller.targets import Access, Credential
from tests.fixtures.storagefront import FrontedStorage
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    allow_identity,
    blob_names,
    container_sas_uri,
    events,
    expired_sas_uri,
    failed_import,
    new_container,
)


def _refusal(access: Access) -> HttpResponseError:
    """What storage answers the app's own client when it writes one blob through `access`."""
    with pytest.raises(HttpResponseError) as refused:
        BlobClients(storage_client_id=None).container(access).upload_blob("probe.json", b"{}")
    return refused.value


def _sas_access(uri: str) -> Access:
    return Access(target=parse_container_uri(uri, what="test"), credential=Credential.SAS)


def _identity_access(storage: AzuriteInfo, container: str) -> Access:
    return Access(target=parse_container_uri(f"{storage.account_url}/{container}", what="test"),
                  credential=Credential.IDENTITY)


def test_refused_sas_is_authentication_failed_and_the_one_that_may_fall_back(
    storage_front: FrontedStorage, azurite: AzuriteInfo
) -> None:
    container = new_container(azurite)
    # Azurite on its own says AuthorizationFailure here: the code a firewall gives. Azure says what the front says.
    direct = _refusal(_sas_access(expired_sas_uri(azurite, container)))
    assert storage_error_text(direct) == "HTTP 403 AuthorizationFailure"
    access = _sas_access(expired_sas_uri(storage_front.info, container))
    error = _refusal(access)
    assert storage_error_text(error) == "HTTP 403 AuthenticationFailed"
    assert storage_refusal(error) is StorageRefusal.SAS_REFUSED
    assert sas_refused(error)
    hint = storage_error_hint(error, access)
    assert hint is not None and hint.key == "sasExpiredOrLacksPermissions"
    assert "MONITOR_IDENTITY_CONTAINERS" in hint.text


def test_firewall_is_authorization_failure_and_never_falls_back(storage_front: FrontedStorage) -> None:
    container = new_container(storage_front.info)
    storage_front.control.deny(container, Denial.FIREWALL)
    access = _sas_access(container_sas_uri(storage_front.info, container))  # a valid SAS: still refused
    error = _refusal(access)
    assert storage_error_text(error) == "HTTP 403 AuthorizationFailure"
    assert storage_refusal(error) is StorageRefusal.FIREWALL
    assert not sas_refused(error)
    hint = storage_error_hint(error, access)
    assert hint is not None and hint.key == "storageFirewall"
    assert "VNet integration" in hint.text and "private endpoint" in hint.text
    assert access.target.url in hint.text and "sig=" not in hint.text


def test_firewall_hint_points_to_vnet_integration_in_the_template(storage_front: FrontedStorage) -> None:
    container = new_container(storage_front.info)
    storage_front.control.deny(container, Denial.FIREWALL)
    hint = storage_error_hint(_refusal(_sas_access(container_sas_uri(storage_front.info, container))))
    assert hint is not None and "vnetSubnetId" in hint.text and "Firewalled output storage" in hint.text


@pytest.mark.parametrize(("denial", "advice"), [
    (Denial.SHARED_KEY_DISALLOWED, "user-delegation SAS"),
    (Denial.SOURCE_IP_MISMATCH, "without sip"),
    (Denial.PROTOCOL_MISMATCH, "must be https"),
])
def test_the_sas_limits_are_told_apart_each_with_its_advice(
    storage_front: FrontedStorage, denial: Denial, advice: str
) -> None:
    container = new_container(storage_front.info)
    storage_front.control.deny(container, denial)
    access = _sas_access(container_sas_uri(storage_front.info, container))
    error = _refusal(access)
    assert storage_error_text(error) == f"HTTP 403 {denial.value}"
    assert storage_refusal(error) is StorageRefusal(denial.value)
    assert not sas_refused(error)  # the SAS's own limit: nothing the identity fallback is for
    hint = storage_error_hint(error, access)
    assert hint is not None and hint.code == denial.value and advice in hint.text
    others = [a for d, a in (("KeyBasedAuthenticationNotPermitted", "user-delegation SAS"),
                             ("AuthorizationSourceIPMismatch", "without sip"),
                             ("AuthorizationProtocolMismatch", "must be https")) if d != denial.value]
    assert not any(a in hint.text for a in others)
    assert access.target.url in hint.text and "sig=" not in hint.text


def test_missing_role_is_permission_mismatch_naming_the_role_and_scope(
    storage_front_oauth: FrontedStorage, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_front_oauth.info
    assert storage.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(storage.ca_bundle))
    container = new_container(storage)
    storage_front_oauth.control.deny(container, Denial.MISSING_ROLE)
    access = _identity_access(storage, container)
    error = _refusal(access)
    assert storage_error_text(error) == "HTTP 403 AuthorizationPermissionMismatch"
    assert storage_refusal(error) is StorageRefusal.PERMISSION
    assert not sas_refused(error)
    hint = storage_error_hint(error, access)
    assert hint is not None and hint.key == "appIdentityLacksStorageRole"
    assert "'Storage Blob Data Contributor'" in hint.text and f"{storage.account_url}/{container}" in hint.text
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) >= 1  # a token was sent, and refused
    # A role only matters to a token: the same container takes a SAS.
    BlobClients(storage_client_id=None).container(
        _sas_access(container_sas_uri(storage, container))).upload_blob("by-sas.json", b"{}")


def test_sas_without_the_permission_is_a_permission_mismatch_not_a_refused_sas(azurite: AzuriteInfo) -> None:
    container = new_container(azurite)
    read_only = generate_container_sas(
        wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))
    access = _sas_access(f"{azurite.account_url}/{container}?{read_only}")
    error = _refusal(access)
    assert storage_error_text(error) == "HTTP 403 AuthorizationPermissionMismatch"  # Azurite answers as Azure does
    assert storage_refusal(error) is StorageRefusal.PERMISSION
    assert not sas_refused(error)
    hint = storage_error_hint(error, access)
    assert hint is not None and hint.key == "sasExpiredOrLacksPermissions" and "permission" in hint.text


def test_poller_behind_a_firewall_logs_the_code_and_never_asks_for_a_token(
    env: PollerEnv, storage_front_oauth: FrontedStorage, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Even where the identity is allowed (the container is listed), a firewall's 403 is not a refused SAS:
    the job's writes fail with the code logged, and are tried again next tick; no identity token is fetched."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    storage = storage_front_oauth.info
    allow_identity(env, storage, monkeypatch)
    container = new_container(storage)
    storage_front_oauth.control.deny(container, Denial.FIREWALL)
    env.hubsim.control("devhub").seed_jobs([failed_import("behind-firewall", container_sas_uri(storage, container))])
    result = env.poller().tick()
    assert result.hubs["devhub"].write_failures == 1
    failed = events(caplog, "poller.write_failed")
    assert [(e["jobId"], e["message"], e["code"], e["hint"]) for e in failed] == [
        ("behind-firewall", "HTTP 403 AuthorizationFailure", "AuthorizationFailure", "storageFirewall")]
    assert "private endpoint" in failed[0]["advice"]
    assert events(caplog, "poller.sas_refused") == []
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) == 0
    storage_front_oauth.control.reset()
    assert blob_names(storage, container, f"{PREFIX}/") == []


def test_a_sas_without_list_as_iot_hub_needs_it_still_gets_snapshots_and_a_report(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """IoT Hub needs Read, Write and Delete on its output container, and a SAS made for it often stops there. The
    poller lists a job's folder to see numbers it does not know; without List it writes all the same (every write
    is create-if-none) and takes the report's timeline from its state."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container, list_=False)
    control = env.hubsim.control("devhub")
    running = {"jobId": "nolist", "type": "export", "status": "running", "progress": 30, "outputBlobContainerUri": uri}
    control.seed_jobs([running])
    poller = env.poller()
    assert poller.tick().hubs["devhub"].ok
    control.seed_jobs([{**running, "status": "failed", "progress": 60,
                        "failureReason": "ErrorCode:BlobContainerValidationError;x"}])
    assert poller.tick().hubs["devhub"].ok
    assert poller.tick().hubs["devhub"].ok  # a repeated tick writes nothing again
    assert blob_names(env.azurite, container, f"{PREFIX}/") == [
        f"{PREFIX}/nolist/failure-report.json", f"{PREFIX}/nolist/failure-report.md", f"{PREFIX}/nolist/latest.json",
        f"{PREFIX}/nolist/snapshots/00001-running-30.json", f"{PREFIX}/nolist/snapshots/00002-failed-60.json"]
    report = env.report_copy("nolist")
    timeline = [(e["seq"], e["status"], e["progress"]) for e in report["timeline"]]
    assert timeline == [(1, "running", 30), (2, "failed", 60)]
    assert events(caplog, "poller.write_failed") == []
