"""Demo jobs for `make run`: an export that completes, an import that completes with rejected lines (its
importErrors.log lists them), an import that fails at job level (its input blob is missing), and an export that
fails because its output SAS is read-only.

Jobs are created through the official azure-iot-hub SDK, as a user of the real service would. Every call has a
timeout (SDK_TIMEOUT_SECONDS each, the SDK's own retries included, and `timeout` for a job to finish), so a
simulator that stops answering makes `make run` say what it waited for instead of hanging. With several hubs
(`make run HUBS=2`), the jobs are spread over them: the exports on the first, the import on the second, the
failing import on the third (round the hubs again when there are fewer).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from azure.iot.hub import IoTHubJobManager
from azure.iot.hub.models import JobProperties
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from devstack.hubsim.control import HubControl
from devstack.hubsim.demo import demo_import_text
from devstack.wellknown import AZURITE_ACCOUNT, AZURITE_KEY, hub_connection_string

T = TypeVar("T")

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
# One SDK or storage call (a simulator on this machine answers in milliseconds; under load, in a few seconds).
SDK_TIMEOUT_SECONDS = 15
SDK_RETRIES = 2


class DemoTimeout(TimeoutError):
    """A demo step did not finish in time: says which, and against which hub."""


@dataclass(frozen=True, kw_only=True)
class DemoHub:
    name: str
    url: str


@dataclass(frozen=True, kw_only=True)
class DemoJobs:
    export_job_id: str
    import_job_id: str  # completes, with rejected lines
    failed_import_job_id: str  # fails: its input blob is missing
    export_hub: str = ""
    import_hub: str = ""
    failed_import_hub: str = ""
    # Fails: its output SAS has no Write. The monitor cannot write beside it either: its report is the app's copy.
    read_only_export_job_id: str = ""
    read_only_export_hub: str = ""


def _container_uri(service: BlobServiceClient, name: str, permission: ContainerSasPermissions) -> str:
    container = service.get_container_client(name)
    if not container.exists():
        container.create_container()
    sas = generate_container_sas(
        AZURITE_ACCOUNT, name, account_key=AZURITE_KEY, permission=permission,
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2),
    )
    return f"{container.url}?{sas}"


def _wait_terminal(manager: IoTHubJobManager, job_id: str, *, hub: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(_step(f"reading job {job_id}", hub, lambda: manager.get_import_export_job(job_id)).status)
        if status in TERMINAL:
            return status
        time.sleep(0.5)
    raise DemoTimeout(f"demo job {job_id} on hub {hub} did not finish within {timeout:g} s")


def _step(what: str, hub: str, call: Callable[[], T]) -> T:
    """One SDK call, its failure named: a timeout (the simulator stopped answering) says what it waited for."""
    try:
        return call()
    except Exception as error:
        raise DemoTimeout(f"{what} on hub {hub}: {type(error).__name__}: {str(error)[:200]}") from error


def _manager(hub: DemoHub, call_timeout: float) -> IoTHubJobManager:
    manager = IoTHubJobManager.from_connection_string(hub_connection_string(hub.name))
    manager.protocol.config.base_url = hub.url
    # msrest's default is 100 s a try, 3 retries: a silent simulator held `make run` for ever (issue 23).
    manager.protocol.config.connection.timeout = call_timeout
    manager.protocol.config.retry_policy.retries = SDK_RETRIES
    return manager


def create_demo_jobs(*, hub: str = "", hub_url: str = "", blob_connection_string: str, timeout: float = 120,
                     hubs: Sequence[DemoHub] = (), call_timeout: float = SDK_TIMEOUT_SECONDS) -> DemoJobs:
    """The four demo jobs, on `hubs` (spread, see above) or on the one `hub` at `hub_url`. Raises DemoTimeout
    when a call gets no answer within `call_timeout` (its retries included) or a job does not end in `timeout`."""
    chosen = list(hubs) or [DemoHub(name=hub, url=hub_url)]
    on_export, on_import, on_failing = (chosen[i % len(chosen)] for i in range(3))
    service = BlobServiceClient.from_connection_string(
        blob_connection_string, connection_timeout=call_timeout, read_timeout=call_timeout)
    write = ContainerSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True)
    manager = _manager(on_export, call_timeout)
    export = _step("creating the export job", on_export.name, lambda: manager.create_import_export_job(JobProperties(
        type="export", output_blob_container_uri=_container_uri(service, EXPORT_CONTAINER, write),
        exclude_keys_in_export=False, storage_authentication_type="keyBased",
    )))
    _wait_terminal(manager, export.job_id, hub=on_export.name, timeout=timeout)  # one job at a time per hub
    existing = [str(device["id"]) for device in HubControl(on_import.url, timeout=call_timeout).registry()]
    input_uri = _container_uri(service, IMPORT_INPUT_CONTAINER, ContainerSasPermissions(read=True, list=True))
    devices = service.get_blob_client(IMPORT_INPUT_CONTAINER, "devices.txt")
    devices.upload_blob(demo_import_text(existing), overwrite=True)
    output_uri = _container_uri(service, IMPORT_OUTPUT_CONTAINER, write)
    manager = _manager(on_import, call_timeout)
    imported = _step("creating the import job", on_import.name, lambda: manager.create_import_export_job(
        JobProperties(type="import", input_blob_container_uri=input_uri, output_blob_container_uri=output_uri,
                      storage_authentication_type="keyBased")))
    _wait_terminal(manager, imported.job_id, hub=on_import.name, timeout=timeout)
    failing_out = _container_uri(service, FAILED_IMPORT_OUTPUT_CONTAINER, write)
    manager = _manager(on_failing, call_timeout)
    failing = _step("creating the failing import job", on_failing.name, lambda: manager.create_import_export_job(
        JobProperties(type="import", input_blob_container_uri=input_uri, input_blob_name=MISSING_INPUT_BLOB,
                      output_blob_container_uri=failing_out, storage_authentication_type="keyBased")))
    _wait_terminal(manager, failing.job_id, hub=on_failing.name, timeout=timeout)
    read_only_out = _container_uri(service, READ_ONLY_EXPORT_CONTAINER, ContainerSasPermissions(read=True, list=True))
    manager = _manager(on_export, call_timeout)
    read_only = _step("creating the read-only export job", on_export.name, lambda: manager.create_import_export_job(
        JobProperties(type="export", output_blob_container_uri=read_only_out, exclude_keys_in_export=True,
                      storage_authentication_type="keyBased")))
    return DemoJobs(export_job_id=str(export.job_id), import_job_id=str(imported.job_id),
                    failed_import_job_id=str(failing.job_id), export_hub=on_export.name,
                    import_hub=on_import.name, failed_import_hub=on_failing.name,
                    read_only_export_job_id=str(read_only.job_id), read_only_export_hub=on_export.name)
