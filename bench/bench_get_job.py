"""get_job per-call cost against the same simulator job, as ratios measured in one run.

(a) get_job's main() on a cache miss, (b) a plain pooled requests GET, (c) the azure-iot-hub SDK's
get_import_export_job, (d) get_job's main() on a cache hit, all per instance (SHARED_CACHE_ENABLED=false:
the path's own cost); (e) a miss through the cache shared between instances, in Azurite (read the entry, claim
it, take a call from the budget, ask the hub, write the answer). Warm token (SAS). Targets: a/b <= 1.2,
a/c <= 0.6, b/d >= 20; e/b is reported (what a shared miss adds; how often one happens is bench_scaleout.py).
(The cold start, both functions loaded as a new instance does, is bench_coldstart.py.)
Run: `make bench` or `.venv/bin/python -m bench.bench_get_job`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import azure.functions as func
import requests
from azure.iot.hub import IoTHubJobManager

from bench.common import interleaved_medians, simulator_process, verdict
from devstack import processes
from devstack.azurite import start_azurite
from devstack.hubsim.control import HubControl
from devstack.wellknown import hub_connection_string
from shared.cache.budget import SharedBudget
from shared.cache.store import SharedStore
from shared.iothub.auth import SasAuth, build_hub_auth
from shared.iothub.client import HubClient
from shared.proxy.answers import ProxyRequest
from shared.proxy.handler import JobProxy, default_job_proxy
from shared.proxy.prepared import DocumentKind
from shared.proxy.shared_tier import default_shared_cache
from shared.settings import AppSettings

REPO = Path(__file__).resolve().parent.parent
ROUNDS, REPEAT = 15, 40


def _request(job_id: str) -> func.HttpRequest:
    return func.HttpRequest(
        "GET", f"http://localhost/api/jobs/{job_id}", params={}, route_params={"jobId": job_id}, body=b""
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, simulator_process("devhub", log_dir=Path(tmp)) as urls:
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        try:
            medians, hub_gets = _measure(urls["devhub"], azurite.connection_string)
        finally:
            processes.stop(azurite_process)
    a, b, c, d, e = medians.values()
    print("get_job benchmark: median per-call time over interleaved rounds (same simulator job)")
    for name, seconds in medians.items():
        print(f"  {name:<24} {seconds * 1e6:10.1f} us")
    print(f"  a/b = {a / b:6.2f}   ({verdict(a / b, target=1.2, at_most=True)})")
    print(f"  a/c = {a / c:6.2f}   ({verdict(a / c, target=0.6, at_most=True)})")
    print(f"  b/d = {b / d:6.1f}   ({verdict(b / d, target=20, at_most=False)})")
    print(f"  e/b = {e / b:6.2f}   (no target: a miss through the shared cache, with its four storage calls)")
    print(f"  hub GETs during the timed rounds: {hub_gets} (a, b, c and e go upstream; d never does)")


def _measure(url: str, storage: str) -> tuple[dict[str, float], int]:
    control = HubControl(url)
    control.seed_jobs([
        {"jobId": "active", "type": "export", "status": "running", "progress": 50,
         "outputBlobContainerUri": "https://a.blob.core.windows.net/c?sv=1&sig=abc"},
        {"jobId": "done", "type": "export", "status": "completed", "progress": 100,
         "outputBlobContainerUri": "https://a.blob.core.windows.net/c?sv=1&sig=abc"},
    ])
    connection_string = hub_connection_string("devhub")
    os.environ.update({
        "IOTHUB_HUBS": "devhub", "IOTHUB_ENDPOINTS": f"devhub={url}", "IOTHUB_AUTH": "sharedAccessPolicy",
        "IOTHUB_CONNECTION_STRINGS": connection_string, "AzureWebJobsStorage": storage,
        # TTL 0: every call for the active job goes upstream (a miss); the terminal one is cached.
        "GET_JOB_CACHE_TTL_SECONDS": "0",
        # a-d per instance (the path's own cost), with a call budget above the thousands of calls made here.
        "SHARED_CACHE_ENABLED": "false", "IOTHUB_CALLS_PER_MINUTE": "10000",
    })
    default_job_proxy.reset()
    import get_job

    settings = AppSettings.from_environ(os.environ)
    hub = settings.hub.default_hub
    session = requests.Session()
    authorization = SasAuth(ttl_seconds=3600).authorization(hub)
    manager = IoTHubJobManager.from_connection_string(connection_string)
    manager.protocol.config.base_url = url
    miss_request, hit_request = _request("active"), _request("done")
    # e: the same miss, through the cache and the call budget shared in Azurite.
    shared = AppSettings.from_environ({**os.environ, "SHARED_CACHE_ENABLED": "true"})
    budget = SharedBudget(shared.hub.calls_per_minute_for, store=SharedStore(settings=shared.shared_cache))
    shared_proxy = JobProxy(settings=shared, shared=default_shared_cache(shared, kind=DocumentKind.JOB),
                            client=HubClient(settings=shared.hub, auth=build_hub_auth(shared.hub), budget=budget))
    shared_request = ProxyRequest(method="GET", job_id="active")

    def plain_get() -> None:
        response = session.get(f"{url}/jobs/active", params={"api-version": "2021-04-12"},
                               headers={"Authorization": authorization, "Accept": "application/json"}, timeout=10)
        response.json()

    contenders: dict[str, Callable[[], object]] = {
        "a get_job miss": lambda: get_job.main(miss_request),
        "b plain requests": plain_get,
        "c azure-iot-hub SDK": lambda: manager.get_import_export_job("active"),
        "d get_job hit": lambda: get_job.main(hit_request),
        "e get_job shared miss": lambda: shared_proxy.handle(shared_request),
    }
    for call in contenders.values():  # warm up: connections, token, terminal cache
        for _ in range(20):
            call()
    before = control.counters()["get"]
    medians = interleaved_medians(contenders, rounds=ROUNDS, repeat=REPEAT)
    return medians, control.counters()["get"] - before


if __name__ == "__main__":
    main()
