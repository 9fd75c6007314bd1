"""The list route and the status page, as ratios measured in one run.

(1) GET /api/jobs for a hub with 500 jobs: (a) the hub list call itself (HubClient.list_jobs against the simulator,
JSON parsed), (b) list_jobs.main() on a cache hit (the whole list), (c) the same with `status=failed&top=50`.
Reported: b/a and c/a (target b/a <= 0.2: a cached list costs a fraction of asking the hub).
(2) The status page for 20 hubs x 500 jobs, the poller's state in Azurite for each hub: (L) one hub's list call,
(L20) the 20 hubs' list calls at once, (R) rendering the page from lists already fetched, (P) the whole page with
every cache cold (a new page object, list TTL 0: 20 hub list calls and 20 state downloads, at once), (P304) the
same page refreshed after the hubs moved but not the poller (lists fetched again, states answered 304), (W) a
refresh within the lists' TTL. The page is the default one: the newest 50 jobs per hub (issue 23), with an
"older" link per hub. Reported: P / (L20 + R), like for like (issue 23's target, at most 1.5: the 20 list calls
at once are the baseline, as on this machine they share two cores with the simulator and Azurite, where in Azure
they would not), the page's HTML size (target at most 300 KB), and P / (L + R) against one hub list call (issue
15's figure, kept for comparison).
Job ids are GUIDs, as real hubs make them (the page's size depends on their length).
Run: `make bench` or `.venv/bin/python -m bench.bench_jobs_pages`.
"""

from __future__ import annotations

import concurrent.futures
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import azure.functions as func

from bench.common import interleaved_medians, simulator_process, verdict
from devstack import processes
from devstack.azurite import start_azurite
from devstack.hubsim.control import HubControl
from devstack.wellknown import hub_connection_string
from shared.clock import utc_iso, utc_now
from shared.iothub.auth import build_hub_auth
from shared.iothub.client import HubClient
from shared.jobs import JobStatus
from shared.poller.state import HubState, JobRecord, ReportState
from shared.poller.storage import BlobClients
from shared.poller.store import StateStore
from shared.proxy.answers import ProxyRequest
from shared.proxy.listing import JobListProxy, default_list_proxy
from shared.settings import AppSettings
from shared.status.html import render_status_page
from shared.status.page import REFRESH_SECONDS, StatusPage

JOBS = 500
HUBS = 20
SIG = "https://a.blob.core.windows.net/c?sv=2021-08-06&sig=abc"  # a short stand-in: redaction still has work
STATUSES = ("completed", "failed", "running", "cancelled", "enqueued")


def job_id(hub: str, i: int) -> str:
    """A GUID, as a real hub names the jobs it makes (36 characters: the page's size depends on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{hub}/{i}"))


def _jobs(hub: str) -> list[dict[str, object]]:
    now = utc_now().timestamp()
    return [{
        "jobId": job_id(hub, i), "type": ("export", "import")[i % 2], "status": STATUSES[i % len(STATUSES)],
        "progress": (i * 7) % 101, "outputBlobContainerUri": SIG, "inputBlobContainerUri": SIG,
        "storageAuthenticationType": "keyBased", "failureReason": "ErrorCode:ImportErrors;1 of 3 devices failed",
        "startTimeUtc": utc_iso(utc_now().fromtimestamp(now - 60 * i, tz=utc_now().tzinfo)),
    } for i in range(JOBS)]


def _request(url: str, params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("GET", url, params=params, route_params={}, body=b"")


def main() -> None:
    hubs = [f"hub{n:02d}" for n in range(HUBS)]
    with tempfile.TemporaryDirectory() as tmp, simulator_process(*hubs, log_dir=Path(tmp)) as urls:
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        try:
            for hub, url in urls.items():
                HubControl(url).seed_jobs(_jobs(hub))
            environ = {
                "IOTHUB_HUBS": ",".join(hubs), "IOTHUB_ENDPOINTS": ",".join(f"{h}={u}" for h, u in urls.items()),
                "IOTHUB_AUTH": "sharedAccessPolicy",
                "IOTHUB_CONNECTION_STRINGS": "|".join(hub_connection_string(h) for h in hubs),
                "AzureWebJobsStorage": azurite.connection_string, "SHARED_CACHE_ENABLED": "false",
                "IOTHUB_CALLS_PER_MINUTE": "10000", "STATUS_PAGE_DAYS": "30",
            }
            _list_route(environ, hubs[0])
            _status_page(environ, hubs)
        finally:
            processes.stop(azurite_process)


def _list_route(environ: dict[str, str], hub_name: str) -> None:
    os.environ.update({**environ, "GET_JOB_CACHE_TTL_SECONDS": "60"})
    default_list_proxy.reset()
    import list_jobs

    settings = AppSettings.from_environ(os.environ)
    hub = settings.hub.hub(hub_name)
    assert hub is not None
    client = HubClient(settings=settings.hub, auth=build_hub_auth(settings.hub))
    whole = _request("http://localhost/api/jobs", {"hub": hub_name})
    filtered = _request("http://localhost/api/jobs", {"hub": hub_name, "status": "failed", "top": "50"})
    contenders: dict[str, Callable[[], object]] = {
        "a hub list call": lambda: client.list_jobs(hub),
        "b list route, hit": lambda: list_jobs.main(whole),
        "c list route, hit, filtered": lambda: list_jobs.main(filtered),
    }
    for call in contenders.values():
        for _ in range(5):
            call()
    medians = interleaved_medians(contenders, rounds=9, repeat=10)
    a, b, c = medians.values()
    print(f"GET /api/jobs, one hub of {JOBS} jobs: median per call over interleaved rounds")
    for name, seconds in medians.items():
        print(f"  {name:<30} {seconds * 1e3:9.2f} ms")
    print(f"  b/a = {b / a:6.3f}   ({verdict(b / a, target=0.2, at_most=True)}: a cached list vs asking the hub)")
    print(f"  c/a = {c / a:6.3f}   (no target: filtered and cut to 50)")
    client.close()


def _status_page(environ: dict[str, str], hubs: list[str]) -> None:
    cold = AppSettings.from_environ({**environ, "GET_JOB_CACHE_TTL_SECONDS": "0"})
    warm = AppSettings.from_environ({**environ, "GET_JOB_CACHE_TTL_SECONDS": "60"})
    blobs = BlobClients(storage_client_id=None)
    states = StateStore(blobs.state_container(cold.poller.state_storage, cold.poller.state_container))
    states.ensure_container()
    now = utc_iso(utc_now())
    for hub in hubs:  # the poller's state as it would be: every job seen, some stalled, reports for the failed
        records = {job_id(hub, i): JobRecord(
            job_id=job_id(hub, i), seq=3, status=JobStatus(STATUSES[i % len(STATUSES)]), progress=(i * 7) % 101,
            changed_at=now, stalled=STATUSES[i % len(STATUSES)] == "running" and i % 3 == 0,
            stalled_since=now, report=ReportState.WRITTEN if STATUSES[i % len(STATUSES)] == "failed"
            else ReportState.NOT_NEEDED) for i in range(JOBS)}
        loaded = states.load(hub, now=utc_now())
        states.save(HubState(hub=hub, created_at=now, jobs=records), loaded.etag)
    client = HubClient(settings=cold.hub, auth=build_hub_auth(cold.hub))
    one_hub = cold.hub.hub(hubs[0])
    assert one_hub is not None
    def cold_page() -> object:  # a new page object: no state peeked before
        return StatusPage(settings=cold, lists=JobListProxy(settings=cold, client=client), states=states
                          ).handle(request)

    def twenty_lists() -> object:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(hubs)) as pool:
            return list(pool.map(client.list_jobs, all_hubs))

    all_hubs = [found for name in hubs if (found := cold.hub.hub(name)) is not None]
    refreshed_page = StatusPage(settings=cold, lists=JobListProxy(settings=cold, client=client), states=states)
    warm_page = StatusPage(settings=warm, lists=JobListProxy(settings=warm, client=client), states=states)
    snapshot = warm_page.snapshot()
    request = ProxyRequest(method="GET", job_id="")
    contenders: dict[str, Callable[[], object]] = {
        "L one hub list call": lambda: client.list_jobs(one_hub),
        "L20 20 hub list calls at once": twenty_lists,
        "R render (lists fetched)": lambda: render_status_page(snapshot, refresh_seconds=REFRESH_SECONDS),
        "P page, every cache cold": cold_page,
        "P304 refresh, states unchanged": lambda: refreshed_page.handle(request),
        "W refresh, lists cached": lambda: warm_page.handle(request),
    }
    for call in contenders.values():
        call()
    medians = interleaved_medians(contenders, rounds=5, repeat=3)
    list_call, twenty, render, page, refreshed, warm_time = medians.values()
    rows = sum(len(section.rows) for section in snapshot.hubs)
    size = len(render_status_page(snapshot, refresh_seconds=REFRESH_SECONDS))
    print(f"GET /api/status, {HUBS} hubs x {JOBS} jobs ({rows} rows shown, {size / 1e3:.0f} KB of HTML): median")
    for name, seconds in medians.items():
        print(f"  {name:<30} {seconds * 1e3:9.1f} ms")
    like = page / (twenty + render)
    print(f"  P / (L20 + R) = {like:5.2f}   ({verdict(like, target=1.5, at_most=True)}: the cold page against the "
          "20 list calls at once plus rendering)")
    print(f"  HTML        = {size / 1e3:5.0f} KB ({verdict(size / 1e3, target=300, at_most=True)}: the default page)")
    ratio = page / (list_call + render)
    print(f"  P / (L + R) = {ratio:5.2f}   (no target since issue 23: the cold page against one hub list call "
          "plus rendering)")
    print(f"  P304 / P    = {refreshed / page:5.2f}   (no target: a refresh whose states are unchanged, 304s)")
    print(f"  W / R       = {warm_time / render:5.2f}   (no target: the lists cached, the states 304)")
    client.close()


if __name__ == "__main__":
    main()
