"""Demo jobs for `make run`: an export that completes, an import that completes with rejected lines (its
importErrors.log lists them), an import that fails at job level (its input blob is missing), and an export that
fails because its output SAS is read-only.

Jobs are created through the official azure-iot-hub SDK, as a user of the real service would.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from azure.iot.hub import IoTHubJobManager
from azure.iot.hub.models import JobProperties
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from devstack.hubsim.control import HubControl
from devstack.hubsim.demo import demo_import_text
from devstack.wellknown import AZURITE_ACCOUNT, AZURITE_KEY, hub_connection_string

EXPORT_CONTAINER = "demo-export"
IMPORT_INPUT_CONTAINER = "demo-import-in"
IMPORT_OUTPUT_CONTAINER = "demo-import-out"
# The failing import's own output container: sharing one would show the other import's importErrors.log.
FAILED_IMPORT_OUTPUT_CONTAINER = "demo-import-failed"
# The fourth job's output container, named with a SAS that has Read and List only: the export fails, and so does
# every write of the monitor beside it (the commonest way a job fails, and its report must still be seen).
READ_ONLY_EXPORT_CONTAINER = "demo-export-readonly"
MISSING_INPUT_BLOB = "no-such-devices.txt"  # never uploaded: the third job fails with BlobContainerValidationError
TERMINAL = {"completed", "failed", "cancelled"}


@dataclass(frozen=True, kw_only=True)
class DemoJobs:
    export_job_id: str
    import_job_id: str  # completes, with rejected lines
    failed_import_job_id: str  # fails: its input blob is missing
    # Fails: its output SAS has no Write. The monitor cannot write beside it either: its report is the app's copy.
    read_only_export_job_id: str = ""


def _container_uri(service: BlobServiceClient, name: str, permission: ContainerSasPermissions) -> str:
    container = service.get_container_client(name)
    if not container.exists():
        container.create_container()
    sas = generate_container_sas(
        AZURITE_ACCOUNT, name, account_key=AZURITE_KEY, permission=permission,
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2),
    )
    return f"{container.url}?{sas}"


def _wait_terminal(manager: IoTHubJobManager, job_id: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(manager.get_import_export_job(job_id).status)
        if status in TERMINAL:
            return status
        time.sleep(0.5)
    raise TimeoutError(f"demo job {job_id} did not finish within {timeout:g}s")


def create_demo_jobs(*, hub: str, hub_url: str, blob_connection_string: str, timeout: float = 120) -> DemoJobs:
    service = BlobServiceClient.from_connection_string(blob_connection_string)
    manager = IoTHubJobManager.from_connection_string(hub_connection_string(hub))
    manager.protocol.config.base_url = hub_url
    write = ContainerSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True)
    export = manager.create_import_export_job(JobProperties(
        type="export", output_blob_container_uri=_container_uri(service, EXPORT_CONTAINER, write),
        exclude_keys_in_export=False, storage_authentication_type="keyBased",
    ))
    _wait_terminal(manager, export.job_id, timeout=timeout)  # one import/export job at a time per hub
    existing = [str(device["id"]) for device in HubControl(hub_url).registry()]
    input_uri = _container_uri(service, IMPORT_INPUT_CONTAINER, ContainerSasPermissions(read=True, list=True))
    devices = service.get_blob_client(IMPORT_INPUT_CONTAINER, "devices.txt")
    devices.upload_blob(demo_import_text(existing), overwrite=True)
    output_uri = _container_uri(service, IMPORT_OUTPUT_CONTAINER, write)
    imported = manager.create_import_export_job(JobProperties(
        type="import", input_blob_container_uri=input_uri, output_blob_container_uri=output_uri,
        storage_authentication_type="keyBased",
    ))
    _wait_terminal(manager, imported.job_id, timeout=timeout)
    failing = manager.create_import_export_job(JobProperties(
        type="import", input_blob_container_uri=input_uri, input_blob_name=MISSING_INPUT_BLOB,
        output_blob_container_uri=_container_uri(service, FAILED_IMPORT_OUTPUT_CONTAINER, write),
        storage_authentication_type="keyBased",
    ))
    _wait_terminal(manager, failing.job_id, timeout=timeout)
    read_only = manager.create_import_export_job(JobProperties(
        type="export", output_blob_container_uri=_container_uri(
            service, READ_ONLY_EXPORT_CONTAINER, ContainerSasPermissions(read=True, list=True)),
        exclude_keys_in_export=True, storage_authentication_type="keyBased",
    ))
    return DemoJobs(export_job_id=str(export.job_id), import_job_id=str(imported.job_id),
                    failed_import_job_id=str(failing.job_id), read_only_export_job_id=str(read_only.job_id))
