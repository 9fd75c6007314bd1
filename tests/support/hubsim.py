"""Helpers shared by the hub simulator tests: SDK client, SAS containers, schema, error checks."""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from typing import Any

import jsonschema
import requests
from azure.iot.hub import IoTHubJobManager
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.hubsim import SCHEMA_FILE
from devstack.hubsim.auth import make_sas

API = "api-version=2021-04-12"
TERMINAL = {"completed", "failed", "cancelled"}
TRACKING = re.compile(r"^Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$")

_SCHEMA = json.loads(SCHEMA_FILE.read_text())
_JOB_SCHEMA = {**_SCHEMA["definitions"]["JobProperties"], "definitions": _SCHEMA["definitions"]}
JOB_VALIDATOR = jsonschema.Draft4Validator(_JOB_SCHEMA, format_checker=jsonschema.FormatChecker())


def validate_job(body: Any) -> dict[str, Any]:
    JOB_VALIDATOR.validate(body)
    assert isinstance(body, dict)
    return body


def sdk(url: str, hub: str = "devhub", policy: str = "iothubowner") -> IoTHubJobManager:
    manager = IoTHubJobManager.from_connection_string(wellknown.hub_connection_string(hub, policy))
    manager.protocol.config.base_url = url
    return manager


def auth_headers(hub: str = "devhub", **kwargs: Any) -> dict[str, str]:
    return {"Authorization": make_sas(hub, **kwargs)}


def container_sas(
    azurite: AzuriteInfo, *, create: bool = True, expired: bool = False, read_only: bool = False
) -> tuple[str, str]:
    """A fresh container name and its SAS URI (read/write/delete/list unless read_only)."""
    name = f"c{uuid.uuid4().hex[:20]}"
    if create:
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    delta = datetime.timedelta(minutes=-5 if expired else 30)
    sas = generate_container_sas(
        wellknown.AZURITE_ACCOUNT,
        name,
        account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True)
        if read_only
        else ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.datetime.now(datetime.UTC) + delta,
    )
    return name, f"{azurite.account_url}/{name}?{sas}"


def read_blob(azurite: AzuriteInfo, container: str, blob: str) -> str:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    return service.get_container_client(container).download_blob(blob).readall().decode()


def write_blob(azurite: AzuriteInfo, container: str, blob: str, text: str) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.get_container_client(container).upload_blob(blob, text.encode(), overwrite=True)


def wait_terminal(url: str, job_id: str, hub: str = "devhub", timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{url}/jobs/{job_id}?{API}", headers=auth_headers(hub), timeout=5)
        assert response.status_code == 200, response.text
        job = validate_job(response.json())
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end within {timeout}s")


def assert_hub_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["iothub-errorcode"] == code
    assert uuid.UUID(response.headers["x-ms-request-id"])
    body = response.json()
    assert set(body) == {"Message", "ExceptionMessage"}
    assert body["Message"].startswith(f"ErrorCode:{code};")
    assert TRACKING.match(body["ExceptionMessage"]), body["ExceptionMessage"]
    return dict(body)
