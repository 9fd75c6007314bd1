"""The official SDK (azure-iot-hub) drives the simulator; every body validates against the schema."""

from __future__ import annotations

import datetime
import time

import requests
from azure.iot.hub.models import JobProperties

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.support.hubsim import API, auth_headers, container_sas, sdk, validate_job, wait_terminal


def test_sdk_create_list_get_cancel(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    hubsim_clean.control("devhub").set_timing(enqueued_ms=5000)
    _, output = container_sas(azurite)
    manager = sdk(url)
    created = manager.create_import_export_job(
        JobProperties(type="export", output_blob_container_uri=output, exclude_keys_in_export=True)
    )
    assert created.status == "enqueued"
    assert created.progress == 0
    assert isinstance(created.start_time_utc, datetime.datetime)
    assert created.output_blob_container_uri == output  # SAS echoed as given
    assert created.exclude_keys_in_export is True

    listed = manager.get_import_export_jobs()
    assert [job.job_id for job in listed] == [created.job_id]
    fetched = manager.get_import_export_job(created.job_id)
    assert fetched.output_blob_container_uri == output
    assert fetched.type == "export"

    cancelled = manager.cancel_import_export_job(created.job_id)
    assert cancelled["status"] == "cancelled"
    after = manager.get_import_export_job(created.job_id)
    assert after.status == "cancelled"
    assert isinstance(after.end_time_utc, datetime.datetime)


def test_sdk_sees_a_completed_job_and_cancel_of_terminal_is_unchanged(
    hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    url = hubsim_clean.hub_url("devhub")
    _, output = container_sas(azurite)
    manager = sdk(url, policy="registryReadWrite")
    job_id = manager.create_import_export_job(JobProperties(type="export", output_blob_container_uri=output)).job_id
    wait_terminal(url, job_id)
    job = manager.get_import_export_job(job_id)
    assert job.status == "completed"
    assert job.progress == 100
    assert job.end_time_utc >= job.start_time_utc
    assert manager.cancel_import_export_job(job_id)["status"] == "completed"


def test_sdk_accepts_cancel_answered_with_204(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    control = hubsim_clean.control("devhub")
    control.set_timing(enqueued_ms=5000)
    control.set_cancel_status(204)
    _, output = container_sas(azurite)
    manager = sdk(hubsim_clean.hub_url("devhub"))
    job_id = manager.create_import_export_job(JobProperties(type="export", output_blob_container_uri=output)).job_id
    assert manager.cancel_import_export_job(job_id) is None
    assert manager.get_import_export_job(job_id).status == "cancelled"


def test_every_response_body_validates_against_the_schema(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    _, output = container_sas(azurite)
    session = requests.Session()
    session.headers.update(auth_headers())
    body = {"type": "export", "outputBlobContainerUri": output, "parentJobId": "passes-through"}
    created = session.post(f"{url}/jobs/create?{API}", json=body, timeout=5)
    assert created.status_code == 200
    job = validate_job(created.json())
    assert job["parentJobId"] == "passes-through"
    seen = {job["status"]}
    while job["status"] not in ("completed", "failed"):
        job = validate_job(session.get(f"{url}/jobs/{job['jobId']}?{API}", timeout=5).json())
        seen.add(job["status"])
        time.sleep(0.01)
    assert {"enqueued", "running", "completed"} <= seen
    listed = session.get(f"{url}/jobs?{API}", timeout=5).json()
    assert isinstance(listed, list)
    for entry in listed:
        validate_job(entry)
    body = {"type": "export", "outputBlobContainerUri": output}
    second = session.post(f"{url}/jobs/create?{API}", json=body, timeout=5)
    cancelled = session.delete(f"{url}/jobs/{second.json()['jobId']}?{API}", timeout=5)
    assert validate_job(cancelled.json())["status"] == "cancelled"


def test_progress_rises_while_running(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    hubsim_clean.control("devhub").set_timing(enqueued_ms=10, running_ms=600, progress_steps=5)
    _, output = container_sas(azurite)
    job_id = sdk(url).create_import_export_job(JobProperties(type="export", output_blob_container_uri=output)).job_id
    progress = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/jobs/{job_id}?{API}", headers=auth_headers(), timeout=5).json()
        if job["status"] == "running":
            progress.append(job["progress"])
        if job["status"] == "completed":
            break
        time.sleep(0.02)
    assert progress == sorted(progress)
    assert len(set(progress)) >= 3


def test_keep_alive_serves_many_calls_on_one_connection(hubsim_clean: HubSimulator) -> None:
    """Counted at the simulator's listener: 200 calls on one session arrive on one TCP connection. (The absence
    of a delayed-ACK stall is measured by bench/bench_devstack.py.)"""
    url = hubsim_clean.hub_url("thirdhub")
    headers = auth_headers("thirdhub")
    with requests.Session() as session:
        for _ in range(200):
            response = session.get(f"{url}/jobs?{API}", headers=headers, timeout=5)
            assert response.status_code == 200
            assert response.headers.get("Connection", "").lower() != "close"
    counters = hubsim_clean.control("thirdhub").counters()
    assert (counters["list"], counters["connections"]) == (200, 1)


def test_hubs_are_separate(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    _, output = container_sas(azurite)
    dev = sdk(hubsim_clean.hub_url("devhub"))
    other = sdk(hubsim_clean.hub_url("otherhub"), hub="otherhub")
    dev.create_import_export_job(JobProperties(type="export", output_blob_container_uri=output))
    assert other.get_import_export_jobs() == []
    assert len({hubsim_clean.hub_url(name) for name in hubsim_clean.hub_names}) == 3
