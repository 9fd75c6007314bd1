"""Helpers for the poller's tests: settings against the devstack, jobs on the simulator, blob reading,
and the jobs several tests share."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator, RejectedLinesEnd
from devstack.hubsim.auth import make_sas
from shared.clock import utc_now
from shared.poller.storage import BlobClients
from shared.poller.tick import Poller
from shared.settings import AppSettings
from tests.support import storage_ports
from tests.support.secrets import Secrets, sas_signature, seen_by_stand_ins
from tests.support.shared_cache import new_shared_container

API = "api-version=2021-04-12"
PREFIX = "jobmonitor"


def service(azurite: AzuriteInfo) -> BlobServiceClient:
    options: dict[str, Any] = {}
    if azurite.ca_bundle is not None:
        options["connection_verify"] = str(azurite.ca_bundle)
    return BlobServiceClient.from_connection_string(azurite.connection_string, **options)


def new_container(azurite: AzuriteInfo, *, create: bool = True) -> str:
    name = f"c{uuid.uuid4().hex[:20]}"
    if create:
        service(azurite).create_container(name)
    return name


# Every SAS signature container_sas_uri made: planted secrets that no blob or log line may contain.
SAS_SIGNATURES: list[str] = []


def container_sas_uri(azurite: AzuriteInfo, name: str, *, read: bool = True, list_: bool = True) -> str:
    sas = generate_container_sas(
        wellknown.AZURITE_ACCOUNT, name, account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=read, write=True, delete=True, list=list_, create=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    SAS_SIGNATURES.append(sas_signature("?" + sas))
    return f"{azurite.account_url}/{name}?{sas}"


def blob_names(azurite: AzuriteInfo, container: str, prefix: str | None = None) -> list[str]:
    return sorted(b.name for b in service(azurite).get_container_client(container).list_blobs(name_starts_with=prefix))


def read_json(azurite: AzuriteInfo, container: str, blob: str) -> dict[str, Any]:
    data = service(azurite).get_container_client(container).download_blob(blob).readall()
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


def read_text(azurite: AzuriteInfo, container: str, blob: str) -> str:
    return service(azurite).get_container_client(container).download_blob(blob).readall().decode()


def upload_text(azurite: AzuriteInfo, container: str, blob: str, text: str) -> None:
    service(azurite).get_container_client(container).upload_blob(blob, text.encode(), overwrite=True)


def create_job(hubsim: HubSimulator, hub: str, body: Mapping[str, Any]) -> str:
    response = requests.post(
        f"{hubsim.hub_url(hub)}/jobs/create?{API}", json=dict(body),
        headers={"Authorization": make_sas(hub)}, timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["jobId"])


def get_job(hubsim: HubSimulator, hub: str, job_id: str) -> dict[str, Any]:
    response = requests.get(f"{hubsim.hub_url(hub)}/jobs/{job_id}?{API}",
                            headers={"Authorization": make_sas(hub)}, timeout=10)
    assert response.status_code == 200, response.text
    value = response.json()
    assert isinstance(value, dict)
    return value


def cancel_job(hubsim: HubSimulator, hub: str, job_id: str) -> None:
    response = requests.delete(f"{hubsim.hub_url(hub)}/jobs/{job_id}?{API}",
                               headers={"Authorization": make_sas(hub)}, timeout=10)
    assert response.status_code in (200, 204), response.text


def wait_terminal(hubsim: HubSimulator, hub: str, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get_job(hubsim, hub, job_id)
        if job.get("status") in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def utc_iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class PollerEnv:
    """Builds settings for a test: its own state container, so tests never share monitor state."""

    hubsim: HubSimulator
    azurite: AzuriteInfo
    state_container: str
    # MONITOR_IDENTITY_CONTAINERS: where the app's identity may write (tests of identity-based writes set it).
    identity_containers: str = ""
    # The call budget's container: the poller's list calls count against a budget no other test spends.
    shared_container: str = field(default_factory=new_shared_container)

    def environ(self, hubs: tuple[str, ...] = ("devhub",), /, **extra: str) -> dict[str, str]:
        environ = {
            "IOTHUB_HUBS": ",".join(hubs),
            "IOTHUB_ENDPOINTS": ",".join(f"{h}={self.hubsim.hub_url(h)}" for h in hubs),
            "IOTHUB_AUTH": "sharedAccessPolicy",
            "IOTHUB_CONNECTION_STRINGS": "|".join(wellknown.hub_connection_string(h) for h in hubs),
            "IOTHUB_RETRY_BUDGET_SECONDS": "2",
            "IOTHUB_MAX_ATTEMPTS": "2",
            # Each of the devstack's storage ports on loopback (an entry carries its port, 443 unless written).
            "MONITOR_STORAGE_HOST_ALLOWLIST": storage_ports.allowlist(f"127.0.0.1:{self.azurite.port}",
                                                                      "*.blob.core.windows.net"),
            "MONITOR_STATE_CONTAINER": self.state_container,
            "MONITOR_TICK_BUDGET_SECONDS": "20",
            "AzureWebJobsStorage": self.azurite.connection_string,
            "MONITOR_IDENTITY_CONTAINERS": self.identity_containers,
            "MONITOR_REPORTS_CONTAINER": self.reports_container,
            "SHARED_CACHE_CONTAINER": self.shared_container,
            # Tests tick far faster than a schedule would: a budget above that, so the poller's tests meet the
            # poller (tests/shared_cache/ drives the budget, the poller's list calls in it included).
            "IOTHUB_CALLS_PER_MINUTE": "10000",
            # Tests tick when they choose, on the real clock: every hub on every tick, unless a test turns the
            # cadence on (tests/poller/test_cadence.py, the soak).
            "MONITOR_IDLE_LIST_SECONDS": "0",
        }
        environ.update(extra)
        return environ

    def settings(self, hubs: tuple[str, ...] = ("devhub",), /, **extra: str) -> AppSettings:
        return AppSettings.from_environ(self.environ(hubs, **extra))

    def poller(self, hubs: tuple[str, ...] = ("devhub",), /, **extra: str) -> Poller:
        return Poller(self.settings(hubs, **extra))

    def secrets(self, *extra: str) -> Secrets:
        """What no blob or log line may contain: the devstack's keys, every credential the hubs received,
        every SAS signature the tests made, and `extra` values (device keys a test planted)."""
        secrets = seen_by_stand_ins(hubsim=self.hubsim)
        secrets.update((f"container SAS signature {n}", sig) for n, sig in enumerate(SAS_SIGNATURES))
        secrets.update((f"planted {n}", value) for n, value in enumerate(extra))
        return secrets

    @property
    def reports_container(self) -> str:
        """This test's own container of report copies (beside its state container)."""
        return f"{self.state_container}-reports"

    def report_copy(self, job_id: str, hub: str = "devhub") -> dict[str, Any]:
        return read_json(self.azurite, self.reports_container, f"{hub}/{job_id}.json")

    def state(self, hub: str = "devhub") -> dict[str, Any]:
        return read_json(self.azurite, self.state_container, f"hubs/{hub}.json")


def allow_identity(env: PollerEnv, oauth: AzuriteInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's identity may write into every container of the HTTPS (OAuth) Azurite, whose self-signed
    certificate is trusted through REQUESTS_CA_BUNDLE."""
    assert oauth.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oauth.ca_bundle))
    env.identity_containers = f"{oauth.account_url}/*"


def events(caplog: pytest.LogCaptureFixture, name: str | None = None) -> list[dict[str, Any]]:
    """The poller's JSON log lines (optionally one event's)."""
    found = []
    for record in caplog.records:
        if record.name != "jobmonitor.poller":
            continue
        line = json.loads(record.getMessage())
        if name is None or line.get("event") == name:
            found.append(line)
    return found


SNAPSHOT = re.compile(
    r"^jobmonitor/(?P<job>[^/]+)/snapshots/(?P<seq>\d{5})-(?P<status>[a-z]+)-(?P<progress>\d+|na)\.json$"
)


def snapshots(env: PollerEnv, container: str, job_id: str) -> list[str]:
    return [n for n in blob_names(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/")]


def assert_timeline(names: list[str]) -> list[tuple[str, str]]:
    """Seqs run 1..n without gaps and no (status, progress) repeats back to back."""
    parsed = [SNAPSHOT.match(n) for n in names]
    assert all(parsed), names
    seqs = [int(m["seq"]) for m in parsed if m]
    assert seqs == list(range(1, len(names) + 1)), names
    pairs = [(m["status"], m["progress"]) for m in parsed if m]
    assert all(a != b for a, b in itertools.pairwise(pairs)), names
    return pairs


IMPORT_KEY = "c2VjcmV0LWRldmljZS1rZXktdGhhdC1tdXN0LW5vdC1sZWFr"


def failing_import_lines() -> str:
    existing = {"id": "device-001", "importMode": "create",
                "authentication": {"symmetricKey": {"primaryKey": IMPORT_KEY, "secondaryKey": IMPORT_KEY}}}
    missing = {"id": "ghost-1", "importMode": "update"}
    good = {"id": "new-device-1", "importMode": "createOrUpdate"}
    malformed = '{"id":"bad-1","authentication":{"symmetricKey":{"primaryKey":"' + IMPORT_KEY
    return "\n".join([json.dumps(existing), json.dumps(missing), json.dumps(good), malformed,
                      json.dumps({**missing, "id": "ghost-2"})]) + "\n"


def start_failing_import(env: PollerEnv) -> tuple[str, str]:
    """An import that ends `failed` because of its rejected lines, with `deviceId` in its log lines: the
    simulator's switch plays that reading of the evidence (by default such an import completes)."""
    env.hubsim.control("devhub").set_import_errors(rejected_lines_end=RejectedLinesEnd.FAILED, device_id_field=True)
    inputs, outputs = new_container(env.azurite), new_container(env.azurite)
    upload_text(env.azurite, inputs, "devices.txt", failing_import_lines())
    job_id = create_job(env.hubsim, "devhub", {
        "type": "import", "inputBlobContainerUri": container_sas_uri(env.azurite, inputs),
        "outputBlobContainerUri": container_sas_uri(env.azurite, outputs),
    })
    return job_id, outputs


WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc="


def counting_poller(env: PollerEnv, requests_seen: list[str], **extra: str) -> Poller:
    return Poller(env.settings(**extra), blobs=BlobClients(
        storage_client_id=None, request_hook=lambda request: requests_seen.append(request.http_request.method)))


def failed_import(job_id: str, uri: str) -> dict[str, object]:
    return {"jobId": job_id, "type": "import", "status": "failed", "progress": 20,
            "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
            "failureReason": "ErrorCode:ImportErrors;1 of 1 devices failed to import",
            "startTimeUtc": ago(minutes=3), "endTimeUtc": ago(minutes=1)}


def ago(**delta: float) -> str:
    return utc_iso(utc_now() - datetime.timedelta(**delta))


def expired_sas_uri(azurite: AzuriteInfo, container: str) -> str:
    past = utc_now() - datetime.timedelta(hours=2)
    sas = generate_container_sas(
        wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
        start=past - datetime.timedelta(hours=1), expiry=past,
    )
    return f"{azurite.account_url}/{container}?{sas}"


def read_only_sas_uri(azurite: AzuriteInfo, container: str) -> str:
    """A SAS with Read and List only (no Write, no Create): IoT Hub can read with it, the monitor cannot write."""
    sas = generate_container_sas(
        wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    SAS_SIGNATURES.append(sas_signature("?" + sas))
    return f"{azurite.account_url}/{container}?{sas}"
