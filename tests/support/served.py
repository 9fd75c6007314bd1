"""get_job served by the local Functions host over real HTTP, with the hub simulator behind it.

Shared by the fuzz and load suites: the settings the host is started with, seeded jobs whose
container URIs carry a SAS signature, and the simulator's request counters.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from devstack.wellknown import hub_connection_string
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support.secrets import Secrets, seen_by_stand_ins
from tests.support.shared_cache import new_shared_container

REPO = Path(__file__).resolve().parents[2]
HUBS = ("devhub", "otherhub")
# The seeded signature: it must never come back in an answer, a header or a log line.
SIG_CORE = "ZnV6ei1zZWNyZXQtc2lnbmF0dXJlLXZhbHVl"
SIG = f"{SIG_CORE}%3D"
SAS_URI = (
    "https://acct.blob.core.windows.net/exports?sv=2021-08-06&sr=c&sp=rwdl"
    f"&se=2030-01-01T00%3A00%3A00Z&sig={SIG}"
)


# Seeded on devhub (and the active one on otherhub too): a mix of active and terminal jobs.
SEEDED = {
    "job-active": "running",
    "job-queued": "enqueued",
    "job-done": "completed",
    "job-failed": "failed",
    "job-cancelled": "cancelled",
    # openapi.yaml's example job id: schemathesis's examples phase asks for it and finds it.
    "8f2b6a1e-5d4c-4e3b-9a7f-0c1d2e3f4a5b": "completed",
}


def secrets(hubsim: HubSimulator) -> Secrets:
    """What no answer, header or log line may hold: the seeded signature, the devstack's keys and every
    credential the hubs received (the SAS tokens get_job minted)."""
    found = seen_by_stand_ins(hubsim=hubsim)
    found.add("seeded SAS signature", SIG)
    return found


def host_env(hubsim: HubSimulator, azurite: AzuriteInfo, **overrides: str) -> dict[str, str]:
    """App settings for get_job in the host: shared access policy auth against the simulator's hubs, and a shared
    cache of its own in the session's Azurite (hosts meant to share one are given the same SHARED_CACHE_CONTAINER)."""
    return {
        "IOTHUB_HUBS": ",".join(HUBS),
        "IOTHUB_ENDPOINTS": ",".join(f"{name}={hubsim.hub_url(name)}" for name in HUBS),
        "IOTHUB_AUTH": "sharedAccessPolicy",
        "IOTHUB_CONNECTION_STRINGS": "|".join(hub_connection_string(name, "registryRead") for name in HUBS),
        "IOTHUB_RETRY_BUDGET_SECONDS": "5",
        "IOTHUB_READ_TIMEOUT_SECONDS": "2",
        "AzureWebJobsStorage": azurite.connection_string,
        "SHARED_CACHE_CONTAINER": new_shared_container(),
        # Runs on demand list every hub, and answers nudge nothing: the cadence's own tests turn it on.
        "MONITOR_IDLE_LIST_SECONDS": "0",
        **overrides,
    }



def job(job_id: str, status: str, **props: Any) -> dict[str, Any]:
    """A job as the simulator stores it, with signed container URIs."""
    terminal = status in ("completed", "failed", "cancelled")
    return {
        "jobId": job_id,
        "type": "export",
        "status": status,
        "progress": 100 if terminal else 40,
        "outputBlobContainerUri": SAS_URI,
        "inputBlobContainerUri": SAS_URI,
        "excludeKeysInExport": True,
        "storageAuthenticationType": "keyBased",
        **({"failureReason": "fuzz: a failed job"} if status == "failed" else {}),
        **props,
    }


def seed(hubsim: HubSimulator, jobs: Iterable[Mapping[str, Any]], hub: str = "devhub") -> list[str]:
    return hubsim.control(hub).seed_jobs(jobs)


def hub_counters(hubsim: HubSimulator) -> dict[str, int]:
    """Requests each simulated hub (configured or not) has received on /jobs, all operations."""
    return {name: hubsim.control(name).counters()["total"] for name in hubsim.hub_names}


def reset(hubsim: HubSimulator) -> None:
    for name in hubsim.hub_names:
        hubsim.control(name).reset(jobs=True)


def start_host(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo, **overrides: str
               ) -> RunningFuncHost:
    """A fresh host process (so a fresh get_job cache) for the repo's function app, timers off."""
    return funchost_factory(REPO, env=host_env(hubsim, azurite, **overrides), timers=False)


@dataclass(frozen=True, kw_only=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-case
    body: bytes


def raw_request(port: int, target: bytes, *, method: bytes = b"GET", headers: Mapping[str, str] | None = None,
                timeout: float = 10.0) -> RawResponse:
    """Send one request with the request target exactly as given (no client-side normalisation or
    quoting) on a fresh connection, and read the answer."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return RawResponse(status=int(status_line.split()[1]), headers=parsed, body=body)
