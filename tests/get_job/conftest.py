"""get_job test helpers: a JobProxy wired to the simulator, seeded jobs, and a secret scan of logs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.hubsim import HubSimulator
from devstack.wellknown import hub_connection_string
from shared.http.retry import BackoffPolicy
from shared.iothub.auth import build_hub_auth
from shared.iothub.client import HubClient
from shared.proxy.answers import ProxyRequest, ProxyResponse
from shared.proxy.handler import JobProxy
from shared.settings import AppSettings
from tests.support.secrets import seen_by_stand_ins

HUBS = ("devhub", "otherhub", "thirdhub")
SIG = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
OUTPUT_URI = f"https://acct.blob.core.windows.net/exports?sv=2021-08-06&sr=c&sp=rwd&se=2030-01-01T00%3A00%3A00Z&sig={SIG}"
FAST_BACKOFF = BackoffPolicy(base_seconds=0.01, max_seconds=0.05)


@pytest.fixture
def hub_env(hubsim_clean: HubSimulator) -> dict[str, str]:
    return {
        "IOTHUB_HUBS": ",".join(HUBS),
        "IOTHUB_ENDPOINTS": ",".join(f"{name}={hubsim_clean.hub_url(name)}" for name in HUBS),
        "IOTHUB_AUTH": "sharedAccessPolicy",
        "IOTHUB_CONNECTION_STRINGS": "|".join(hub_connection_string(name, "registryRead") for name in HUBS),
        "IOTHUB_RETRY_BUDGET_SECONDS": "5",
        "IOTHUB_READ_TIMEOUT_SECONDS": "2",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    }


@pytest.fixture
def make_proxy(hub_env: dict[str, str]) -> Iterator[Callable[..., JobProxy]]:
    clients: list[HubClient] = []

    def make(**overrides: str) -> JobProxy:
        settings = AppSettings.from_environ({**hub_env, **overrides})
        client = HubClient(settings=settings.hub, auth=build_hub_auth(settings.hub), backoff=FAST_BACKOFF)
        clients.append(client)
        return JobProxy(settings=settings, client=client)

    yield make
    for client in clients:
        client.close()


def seed(simulator: HubSimulator, hub: str = "devhub", **props: Any) -> dict[str, Any]:
    job = {
        "jobId": "job-1",
        "type": "export",
        "status": "running",
        "progress": 40,
        "outputBlobContainerUri": OUTPUT_URI,
        "excludeKeysInExport": True,
        "storageAuthenticationType": "keyBased",
        "parentJobId": "parent-7",
        **props,
    }
    simulator.control(hub).seed_jobs([job])
    return job


def get(proxy: JobProxy, job_id: str = "job-1", *, params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None, method: str = "GET") -> ProxyResponse:
    return proxy.handle(ProxyRequest(method=method, job_id=job_id, params=params or {}, headers=headers or {}))


def hub_calls(simulator: HubSimulator, hub: str = "devhub", operation: str = "get") -> int:
    return simulator.control(hub).counters()[operation]


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture, hubsim: HubSimulator) -> Iterator[None]:
    """Every get_job test ends with a scan of everything logged for the secrets it knows: the seeded SAS
    signature, the devstack's keys and every credential the hub simulator received, in every encoding."""
    caplog.set_level(logging.DEBUG)
    yield
    secrets = seen_by_stand_ins(hubsim=hubsim)
    secrets.add("seeded SAS signature", SIG)
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), f"log line of {record.name}")
