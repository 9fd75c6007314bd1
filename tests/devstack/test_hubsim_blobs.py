"""Export and import jobs do real blob I/O against Azurite (SAS and bearer token)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import requests
from azure.iot.hub.models import JobProperties
from azure.storage.blob import BlobServiceClient

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator, RejectedLinesEnd
from tests.support.hubsim import (
    API,
    auth_headers,
    container_sas,
    read_blob,
    sdk,
    wait_terminal,
    write_blob,
)


def _create(url: str, body: Mapping[str, object], hub: str = "devhub") -> str:
    response = requests.post(f"{url}/jobs/create?{API}", json=body, headers=auth_headers(hub), timeout=5)
    assert response.status_code == 200, response.text
    return str(response.json()["jobId"])


def test_export_writes_the_registry_with_keys(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    container, output = container_sas(azurite)
    job = wait_terminal(url, _create(url, {"type": "export", "outputBlobContainerUri": output}))
    assert job["status"] == "completed", job
    lines = [json.loads(line) for line in read_blob(azurite, container, "devices.txt").splitlines()]
    registry = hubsim_clean.control("devhub").registry()
    assert [d["id"] for d in lines] == [d["id"] for d in registry]
    assert 10 <= len(lines) <= 50
    for device in lines:
        assert device["eTag"]
        assert device["status"] in ("enabled", "disabled")
        keys = device["authentication"]["symmetricKey"]
        assert keys["primaryKey"]
        assert keys["secondaryKey"]


def test_export_without_keys_and_custom_blob_name(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("otherhub")
    container, output = container_sas(azurite)
    body = {"type": "export", "outputBlobContainerUri": output, "excludeKeysInExport": True, "outputBlobName": "x.txt"}
    job = wait_terminal(url, _create(url, body, "otherhub"), "otherhub")
    assert job["status"] == "completed", job
    lines = [json.loads(line) for line in read_blob(azurite, container, "x.txt").splitlines()]
    assert lines
    assert all(d["authentication"]["symmetricKey"] == {"primaryKey": None, "secondaryKey": None} for d in lines)


def test_export_is_deterministic_per_hub(hubsim_clean: HubSimulator) -> None:
    first = hubsim_clean.control("devhub").registry()
    hubsim_clean.control("devhub").reset(jobs=True)
    assert hubsim_clean.control("devhub").registry() == first
    assert hubsim_clean.control("otherhub").registry() != first


IMPORT_LINES = [
    json.dumps({"id": "new-1", "importMode": "create", "status": "enabled"}),
    json.dumps({"id": "new-2"}),  # createOrUpdate by default
    json.dumps({"id": "device-001", "importMode": "delete"}),
    json.dumps({"id": "device-002", "importMode": "update", "status": "disabled"}),
    json.dumps({"id": "device-003", "importMode": "updateTwin", "tags": {"site": "lab"}}),
    "{not json",
    json.dumps({"status": "enabled"}),  # no id
    json.dumps({"id": "device-004", "importMode": "create"}),  # exists
    json.dumps({"id": "ghost", "importMode": "delete"}),  # missing
    json.dumps({"id": "device-005", "importMode": "updateIfMatchETag", "eTag": "wrong"}),
    json.dumps({"id": "device-006", "importMode": "explode"}),
]
REJECTED_CODES = [400012, 400012, 409001, 404001, 412002, 400004]


def _import(
    hubsim: HubSimulator, azurite: AzuriteInfo, lines: list[str], **extra: object
) -> tuple[dict[str, object], str]:
    """Run an import of `lines` to the end: (the final job, its output container)."""
    url = hubsim.hub_url("devhub")
    in_container, input_uri = container_sas(azurite)
    out_container, output = container_sas(azurite)
    write_blob(azurite, in_container, "devices.txt", "\n".join(lines) + "\n")
    body = {"type": "import", "inputBlobContainerUri": input_uri, "outputBlobContainerUri": output, **extra}
    return wait_terminal(url, _create(url, body)), out_container


def _log(azurite: AzuriteInfo, container: str, blob: str = "importErrors.log") -> list[dict[str, object]]:
    return [json.loads(line) for line in read_blob(azurite, container, blob).splitlines()]


def test_import_with_rejected_lines_completes_and_logs_them(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    """The evidence: rejected lines are no job-level fault. The job completes (progress 100, no failureReason),
    the good lines are applied, and importErrors.log lines echo the input line, without deviceId."""
    job, out_container = _import(hubsim_clean, azurite, IMPORT_LINES)
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert "failureReason" not in job
    devices = {d["id"]: d for d in hubsim_clean.control("devhub").registry()}
    assert {"new-1", "new-2"} <= devices.keys()
    assert "device-001" not in devices
    assert devices["device-002"]["status"] == "disabled"
    assert devices["device-003"]["tags"] == {"site": "lab"}
    errors = _log(azurite, out_container)
    assert [e["errorCode"] for e in errors] == REJECTED_CODES
    assert all(set(e) == {"errorCode", "errorStatus"} for e in errors), errors
    assert str(errors[0]["errorStatus"]).startswith("Invalid device format in line: {not json.")
    for error, line in zip(errors[2:], IMPORT_LINES[7:], strict=True):
        assert line in str(error["errorStatus"])  # the input line, echoed whole


def test_import_whose_every_line_is_rejected_still_completes(
    hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    job, out_container = _import(hubsim_clean, azurite, IMPORT_LINES[5:])
    assert (job["status"], job["progress"], job.get("failureReason")) == ("completed", 100, None)
    assert len(_log(azurite, out_container)) == 6


def test_switch_adds_device_id_to_the_log_lines(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    control = hubsim_clean.control("devhub")
    assert control.set_import_errors(device_id_field=True) == {"rejected_lines_end": "completed",
                                                               "device_id_field": True, "empty_log": True}
    job, out_container = _import(hubsim_clean, azurite, IMPORT_LINES)
    assert job["status"] == "completed"
    errors = _log(azurite, out_container)
    assert [(e["deviceId"], e["errorCode"]) for e in errors] == [
        ("", 400012), ("", 400012), ("device-004", 409001), ("ghost", 404001), ("device-005", 412002),
        ("device-006", 400004),
    ]
    assert list(errors[0]) == ["deviceId", "errorCode", "errorStatus"]


def test_switch_ends_an_import_with_rejected_lines_failed(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    hubsim_clean.control("devhub").set_import_errors(rejected_lines_end=RejectedLinesEnd.FAILED)
    job, out_container = _import(hubsim_clean, azurite, IMPORT_LINES)
    assert job["status"] == "failed"
    assert str(job["failureReason"]).startswith("ErrorCode:ImportErrors;6 of 11 devices failed")
    assert [e["errorCode"] for e in _log(azurite, out_container)] == REJECTED_CODES
    assert "new-1" in {d["id"] for d in hubsim_clean.control("devhub").registry()}  # good lines still applied


def test_switches_are_validated_and_reset(hubsim_clean: HubSimulator) -> None:
    control = hubsim_clean.control("devhub")
    url = f"{hubsim_clean.hub_url('devhub')}/devstack/import-errors"
    bad_bodies: list[object] = [{"rejected_lines_end": "cancelled"}, {"device_id_field": "yes"}, {"empty_log": 1}, []]
    for bad in bad_bodies:
        assert requests.put(url, json=bad, timeout=5).status_code == 400
    control.set_import_errors(rejected_lines_end=RejectedLinesEnd.FAILED, device_id_field=True, empty_log=False)
    assert control.import_errors() == {"rejected_lines_end": "failed", "device_id_field": True, "empty_log": False}
    control.reset()
    assert control.import_errors() == {"rejected_lines_end": "completed", "device_id_field": False, "empty_log": True}


def test_import_writes_its_errors_to_output_blob_name(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    job, out_container = _import(hubsim_clean, azurite, IMPORT_LINES, outputBlobName="logs/import-status.log")
    assert job["status"] == "completed"
    assert [e["errorCode"] for e in _log(azurite, out_container, "logs/import-status.log")] == REJECTED_CODES
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert [b.name for b in service.get_container_client(out_container).list_blobs()] == ["logs/import-status.log"]


def test_input_blob_that_is_not_utf8_fails_the_import(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    in_container, input_uri = container_sas(azurite)
    _, output = container_sas(azurite)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.get_container_client(in_container).upload_blob("devices.txt", b'{"id": "\xff\xfe"}\n')
    job = wait_terminal(url, _create(url, {"type": "import", "inputBlobContainerUri": input_uri,
                                           "outputBlobContainerUri": output}))
    assert job["status"] == "failed"
    assert str(job["failureReason"]).startswith("ErrorCode:ArgumentInvalid;Unable to read blob 'devices.txt'")
    assert "sig=" not in str(job["failureReason"])


def test_import_of_good_lines_completes_with_custom_blob(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    in_container, input_uri = container_sas(azurite, read_only=True)
    out_container, output = container_sas(azurite)
    write_blob(azurite, in_container, "in.txt", json.dumps({"id": "fresh", "importMode": "createOrUpdate"}))
    body = {
        "type": "import",
        "inputBlobContainerUri": input_uri,
        "inputBlobName": "in.txt",
        "outputBlobContainerUri": output,
    }
    job = wait_terminal(url, _create(url, body))
    assert job["status"] == "completed", job
    assert "fresh" in {d["id"] for d in hubsim_clean.control("devhub").registry()}
    assert read_blob(azurite, out_container, "importErrors.log") == ""  # nothing rejected: an empty log


def test_identity_based_export_against_oauth_azurite(hubsim_clean: HubSimulator, azurite_oauth: AzuriteInfo) -> None:
    from azure.storage.blob import BlobServiceClient

    container = "identity-export"
    service = BlobServiceClient.from_connection_string(
        azurite_oauth.connection_string, connection_verify=str(azurite_oauth.ca_bundle)
    )
    if not service.get_container_client(container).exists():
        service.create_container(container)
    url = hubsim_clean.hub_url("devhub")
    manager = sdk(url)
    job = manager.create_import_export_job(
        JobProperties(
            type="export",
            output_blob_container_uri=f"{azurite_oauth.account_url}/{container}",
            storage_authentication_type="identityBased",
        )
    )
    final = wait_terminal(url, job.job_id)
    assert final["status"] == "completed", final
    text = service.get_container_client(container).download_blob("devices.txt").readall().decode()
    assert len(text.splitlines()) == len(hubsim_clean.control("devhub").registry())


def _assert_storage_failure(job: dict[str, object], container: str) -> None:
    assert job["status"] == "failed"
    reason = str(job["failureReason"])
    assert reason.startswith("ErrorCode:BlobContainerValidationError;")
    assert container in reason
    assert "sig=" not in reason
    assert "?" not in reason


def test_missing_output_container_fails_the_job(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    container, output = container_sas(azurite, create=False)
    job = wait_terminal(url, _create(url, {"type": "export", "outputBlobContainerUri": output}))
    _assert_storage_failure(job, container)
    assert "404" in str(job["failureReason"])


def test_expired_sas_fails_the_job(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    container, output = container_sas(azurite, expired=True)
    job = wait_terminal(url, _create(url, {"type": "export", "outputBlobContainerUri": output}))
    _assert_storage_failure(job, container)
    assert "403" in str(job["failureReason"])


def test_read_only_sas_on_output_fails_the_export(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    container, output = container_sas(azurite, read_only=True)
    job = wait_terminal(url, _create(url, {"type": "export", "outputBlobContainerUri": output}))
    _assert_storage_failure(job, container)


def test_missing_input_blob_fails_the_import(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    in_container, input_uri = container_sas(azurite)
    _, output = container_sas(azurite)
    body = {"type": "import", "inputBlobContainerUri": input_uri, "outputBlobContainerUri": output}
    job = wait_terminal(url, _create(url, body))
    _assert_storage_failure(job, in_container)
    assert "devices.txt" in str(job["failureReason"])


def test_demo_import_completes_with_error_lines(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    from devstack.hubsim.demo import DEMO_NEW_DEVICE_IDS, demo_import_text

    url = hubsim_clean.hub_url("thirdhub")
    control = hubsim_clean.control("thirdhub")
    in_container, input_uri = container_sas(azurite)
    out_container, output = container_sas(azurite)
    write_blob(azurite, in_container, "devices.txt", demo_import_text([d["id"] for d in control.registry()]))
    body = {"type": "import", "inputBlobContainerUri": input_uri, "outputBlobContainerUri": output}
    job = wait_terminal(url, _create(url, body, "thirdhub"), "thirdhub")
    assert (job["status"], job.get("failureReason")) == ("completed", None)
    assert len(read_blob(azurite, out_container, "importErrors.log").splitlines()) == 6
    assert set(DEMO_NEW_DEVICE_IDS) <= {d["id"] for d in control.registry()}


def test_token_provider_and_its_failure(azurite_oauth: AzuriteInfo) -> None:
    import time

    from azure.storage.blob import BlobServiceClient

    from devstack import tokens, wellknown
    from devstack.hubsim import HubConfig, JobTiming, SimulatorConfig, StorageToken

    service = BlobServiceClient.from_connection_string(
        azurite_oauth.connection_string, connection_verify=str(azurite_oauth.ca_bundle)
    )
    container = "provider-export"
    if not service.get_container_client(container).exists():
        service.create_container(container)
    state = {"fail": False}

    def provider() -> StorageToken:
        if state["fail"]:
            raise RuntimeError("identity endpoint down")
        now = int(time.time())
        claims = {
            "aud": wellknown.STORAGE_AUDIENCE,
            "iss": wellknown.TOKEN_ISSUER,
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 600,
            "tid": wellknown.TENANT_ID,
            "oid": "00000000-0000-4000-8000-00000000abcd",
        }
        return StorageToken(tokens.mint(claims, key=wellknown.TOKEN_SIGNING_KEY), now + 600)

    config = SimulatorConfig(
        hubs=(HubConfig(name="devhub"),),
        timing=JobTiming(enqueued_ms=10, running_ms=50, progress_steps=1),
        ca_bundle=azurite_oauth.ca_bundle,
        storage_token_provider=provider,
    )
    body = {
        "type": "export",
        "outputBlobContainerUri": f"{azurite_oauth.account_url}/{container}",
        "storageAuthenticationType": "identityBased",
    }
    with HubSimulator(config) as simulator:
        url = simulator.hub_url("devhub")
        first = wait_terminal(url, _create(url, body))
        assert first["status"] == "completed", first["failureReason"]
        assert service.get_container_client(container).get_blob_client("devices.txt").exists()
        state["fail"] = True
        failed = wait_terminal(url, _create(url, body))
        assert failed["status"] == "failed"
        assert "managed identity could not get a token" in failed["failureReason"]
