"""Helpers for get_job's tests: seeded jobs with signed URIs, calls through a JobProxy, the hub's counters.

Every answer `get` returns is kept in ANSWERS: get_job's conftest scans each one's body and headers, at the end
of every test, for every secret the test knows (tests/support/secrets.py)."""

from __future__ import annotations

from typing import Any

from devstack.hubsim import HubSimulator
from shared.http.retry import BackoffPolicy
from shared.proxy.answers import ProxyRequest, ProxyResponse
from shared.proxy.handler import JobProxy

HUBS = ("devhub", "otherhub", "thirdhub")
SIG = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
OUTPUT_URI = f"https://acct.blob.core.windows.net/exports?sv=2021-08-06&sr=c&sp=rwd&se=2030-01-01T00%3A00%3A00Z&sig={SIG}"
FAST_BACKOFF = BackoffPolicy(base_seconds=0.01, max_seconds=0.05)


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


# Every answer get() returned in the current test (the conftest scans and clears it).
ANSWERS: list[ProxyResponse] = []


def get(proxy: JobProxy, job_id: str = "job-1", *, params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None, method: str = "GET", scan: bool = True) -> ProxyResponse:
    """`scan=False`: an answer meant to carry the signature (GET_JOB_REDACT_SAS=false), left out of the scan."""
    response = proxy.handle(ProxyRequest(method=method, job_id=job_id, params=params or {}, headers=headers or {}))
    if scan:
        ANSWERS.append(response)
    return response


def answer_text(response: ProxyResponse) -> str:
    """An answer as a secret scan reads it: its headers and its body."""
    head = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{head}\n\n{response.body.decode('utf-8', 'replace')}"


def hub_calls(simulator: HubSimulator, hub: str = "devhub", operation: str = "get") -> int:
    return simulator.control(hub).counters()[operation]
