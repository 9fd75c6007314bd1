"""poll_job_timer's tick cost, as counts and ratios measured in one run (not a timed test).

H hubs x J jobs of history (seeded through the simulator's control API, simulator in its own process,
20 ms latency on every /jobs answer), Azurite for state and job containers:
  - hub calls per tick (target: exactly H), blob operations per tick (target: proportional to what
    changed, not to J; counted by an azure-core per-call policy on every storage client the poller uses, the
    call budget's included: each list call takes one call from the hub's budget, a conditional write),
    wall time against one list call (target: <= 3x plus the writes), peak Python memory (tracemalloc);
  - an importErrors.log of 10,000 and 1,000,000 lines (the real shape: errorCode and errorStatus echoing the
    input line, no deviceId; four codes) turned into an import report from Azurite: streamed summary, device
    ids recovered, report built, JSON and Markdown rendered. Peak memory should be flat in the log's size.
Run: `.venv/bin/python -m bench.bench_poller` (HUBS, JOBS and LOG_LINES environment variables override).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import json
import os
import statistics
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from azure.core.pipeline import PipelineRequest
from azure.storage.blob import BlobBlock, BlobServiceClient, ContainerSasPermissions, generate_container_sas

from bench.common import simulator_process, verdict
from devstack import processes, wellknown
from devstack.azurite import start_azurite
from devstack.hubsim.auth import make_sas
from devstack.hubsim.control import HubControl
from shared.cache.budget import SharedBudget
from shared.cache.store import SharedStore
from shared.http.targets import parse_container_uri
from shared.iothub.auth import build_hub_auth
from shared.iothub.client import HubClient
from shared.poller.storage import BlobClients
from shared.poller.targets import Access, Credential
from shared.poller.tick import Poller
from shared.reports.import_errors import ImportErrorSummary, summarize_chunks
from shared.reports.markdown import render_markdown
from shared.reports.report import build_report, report_kind
from shared.settings import AppSettings

HUBS = int(os.environ.get("HUBS", "20"))
JOBS = int(os.environ.get("JOBS", "500"))
LOG_LINES = (10_000, int(os.environ.get("LOG_LINES", "1000000")))
LATENCY_MS = 20
CHANGED_HUBS = 3  # hubs that get one new failed job and one moving job before the measured tick
SIMULATORS = int(os.environ.get("SIMULATORS", str(os.cpu_count() or 1)))


class RequestCounter:
    """Counts every storage request the poller sends (azure-storage's raw_request_hook, retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, request: PipelineRequest[Any]) -> None:
        with self._lock:
            self.count += 1


def _ago(**delta: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _history(uri: str, hub: str) -> list[dict[str, Any]]:
    """J finished jobs from days ago (the first tick records them as seen) and one running job."""
    jobs = [
        {"jobId": f"{hub}-old-{i:04d}", "type": "export" if i % 3 else "import",
         "status": "completed" if i % 7 else "failed", "progress": 100 if i % 7 else 40,
         "startTimeUtc": _ago(days=3, minutes=i + 5), "endTimeUtc": _ago(days=3, minutes=i),
         "outputBlobContainerUri": uri, "failureReason": None if i % 7 else "ErrorCode:ImportErrors;x"}
        for i in range(JOBS - 1)
    ]
    jobs.append({"jobId": f"{hub}-mover", "type": "export", "status": "running", "progress": 10,
                 "startTimeUtc": _ago(minutes=3), "outputBlobContainerUri": uri})
    return jobs


def _ops(hub_controls: dict[str, HubControl]) -> int:
    return sum(control.counters()["total"] for control in hub_controls.values())


def _timed_tick(poller: Poller, policy: RequestCounter, controls: dict[str, HubControl]) -> dict[str, float]:
    blob_before, hub_before = policy.count, _ops(controls)
    started = time.perf_counter()
    result = poller.tick()
    elapsed = time.perf_counter() - started
    assert all(outcome.ok for outcome in result.hubs.values()), result
    return {"seconds": elapsed, "blob_ops": policy.count - blob_before, "hub_calls": _ops(controls) - hub_before,
            "changes": sum(o.changes for o in result.hubs.values())}


def _one_list_seconds(url: str, hub: str) -> float:
    session = requests.Session()
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        response = session.get(f"{url}/jobs?api-version=2021-04-12", headers={"Authorization": make_sas(hub)},
                               timeout=30)
        response.json()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _all_lists_seconds(urls: dict[str, str]) -> float:
    """H plain list calls at once (pooled sessions, one thread per hub): the floor for any poller."""
    sessions = {hub: requests.Session() for hub in urls}

    def one(hub: str) -> None:
        sessions[hub].get(f"{urls[hub]}/jobs?api-version=2021-04-12", headers={"Authorization": make_sas(hub)},
                          timeout=30).json()

    samples = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(urls)) as pool:
        for _ in range(7):
            started = time.perf_counter()
            list(pool.map(one, urls))
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _log_blocks(lines: int) -> Iterator[bytes]:
    texts = {409001: "Device {id} already exists. Line: {line}", 404001: "Device {id} not found. Line: {line}",
             412002: "ETag mismatch for device {id}. Line: {line}", 400012: "Invalid device format in line: {line}."}
    pattern = b""
    for index, (code, text) in enumerate(texts.items()):
        device = {"id": f"device-{index:04d}", "authentication": {"symmetricKey": {"primaryKey": "A" * 44}}}
        status = text.format(id=device["id"], line=json.dumps(device))
        pattern += (json.dumps({"errorCode": code, "errorStatus": status}) + "\n").encode()
    lines_per_pattern = len(texts)
    per_block = (4 * 1024 * 1024) // len(pattern)
    left = lines
    while left > 0:
        count = min(per_block, left // lines_per_pattern) or 1
        block = pattern * count
        if count * lines_per_pattern > left:  # the last lines
            block = b"".join(block.splitlines(keepends=True)[:left])
        yield block
        left -= min(count * lines_per_pattern, left)


def _summarise_log(service: BlobServiceClient, blobs: BlobClients, account_url: str, lines: int) -> dict[str, float]:
    container = f"log{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    blob = service.get_blob_client(container, "importErrors.log")
    block_ids = []
    for index, block in enumerate(_log_blocks(lines)):
        block_id = f"{index:08d}"
        blob.stage_block(block_id, block)
        block_ids.append(BlobBlock(block_id=block_id))
    blob.commit_block_list(block_ids)
    size = blob.get_blob_properties().size
    sas = generate_container_sas(wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
                                 permission=ContainerSasPermissions(read=True),
                                 expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))
    target = parse_container_uri(f"{account_url}/{container}?{sas}", what="the log's container")
    client = blobs.container(Access(target=target, credential=Credential.SAS))
    job = {"jobId": container, "type": "import", "status": "completed", "progress": 100,
           "startTimeUtc": _ago(minutes=10), "endTimeUtc": _ago(minutes=1), "outputBlobContainerUri": target.url}

    def build() -> tuple[ImportErrorSummary, dict[str, Any], str]:
        summary = summarize_chunks(client.get_blob_client("importErrors.log").download_blob().chunks())
        report = build_report(job, hub="benchhub", timeline=[], import_errors=summary, import_errors_note=None,
                              generated_at=datetime.datetime.now(datetime.UTC), kind=report_kind(job, summary))
        document = report.to_json()
        return summary, document, render_markdown(document)

    # Time without tracemalloc (it slows Python down several times), then peak memory with it.
    started = time.perf_counter()
    build()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    summary, document, markdown = build()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.total_lines == lines, summary.total_lines
    assert document["kind"] == "import"
    assert document["title"] == f"import completed: {lines:,} lines rejected"
    assert document["importErrors"]["firstEntries"][0]["deviceIdSource"] == "line"
    assert markdown
    service.delete_container(container)
    return {"lines": lines, "bytes": size, "peak": peak, "seconds": elapsed}


def main() -> None:
    hubs = [f"benchhub{i:02d}" for i in range(HUBS)]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        # Real hubs are independent services: spread them over SIMULATORS processes (one GIL each).
        urls: dict[str, str] = {}
        for index in range(SIMULATORS):
            group = hubs[index::SIMULATORS]
            if group:
                log_dir = Path(tmp) / f"sim{index}"
                log_dir.mkdir()
                urls.update(stack.enter_context(simulator_process(*group, log_dir=log_dir)))
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        try:
            service = BlobServiceClient.from_connection_string(azurite.connection_string)
            container = "benchjobs"
            service.create_container(container)
            # What IoT Hub's own examples grant an output container (sp=rwdl): the poller lists the job's folder.
            sas = generate_container_sas(wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
                                         permission=ContainerSasPermissions(read=True, write=True, delete=True,
                                                                            list=True),
                                         expiry=datetime.datetime.now(datetime.UTC)
                                         + datetime.timedelta(hours=2))
            uri = f"{azurite.account_url}/{container}?{sas}"
            controls = {hub: HubControl(urls[hub]) for hub in hubs}
            for hub, control in controls.items():
                control.seed_jobs(_history(uri, hub))
                control.set_latency(LATENCY_MS)
            settings = AppSettings.from_environ({
                "IOTHUB_HUBS": ",".join(hubs),
                "IOTHUB_ENDPOINTS": ",".join(f"{hub}={urls[hub]}" for hub in hubs),
                "IOTHUB_AUTH": "sharedAccessPolicy",
                "IOTHUB_CONNECTION_STRINGS": "|".join(wellknown.hub_connection_string(h) for h in hubs),
                "MONITOR_STORAGE_HOST_ALLOWLIST": f"127.0.0.1:{azurite.port}",
                "MONITOR_BACKFILL_HOURS": "24",
                "AzureWebJobsStorage": azurite.connection_string,
            })
            # The template creates the state container before the app runs; so does the bench (20 hubs' first
            # saves racing to create it is not what the first tick measures).
            service.create_container(settings.poller.state_container)
            policy = RequestCounter()
            blobs = BlobClients(storage_client_id=None, request_hook=policy)
            # The process's own client would keep the call budget with clients of its own: these count it too
            # (clients of their own, as the app's are, with the same counting hook).
            budget_blobs = BlobClients(storage_client_id=None, request_hook=policy)
            budget = SharedBudget(settings.hub.calls_per_minute_for,
                                  store=SharedStore(settings=settings.shared_cache, blobs=budget_blobs))
            hub_client = HubClient(settings=settings.hub, auth=build_hub_auth(settings.hub), budget=budget)
            poller = Poller(settings, hub_client=hub_client, blobs=blobs)
            one_list = _one_list_seconds(urls[hubs[0]], hubs[0])
            all_lists = _all_lists_seconds(urls)

            first = _timed_tick(poller, policy, controls)
            steady = [_timed_tick(poller, policy, controls) for _ in range(7)]
            # A few changes: in CHANGED_HUBS hubs one job moves and one new job has failed.
            for hub in hubs[:CHANGED_HUBS]:
                controls[hub].seed_jobs([
                    {"jobId": f"{hub}-mover", "type": "export", "status": "running", "progress": 60,
                     "startTimeUtc": _ago(minutes=3), "outputBlobContainerUri": uri},
                    {"jobId": f"{hub}-new-failed", "type": "export", "status": "failed", "progress": 20,
                     "startTimeUtc": _ago(minutes=2), "endTimeUtc": _ago(minutes=1), "outputBlobContainerUri": uri,
                     "failureReason": "ErrorCode:JobQuotaExceeded;Only one active job"},
                ])
            changed = _timed_tick(poller, policy, controls)
            tracemalloc.start()
            _timed_tick(poller, policy, controls)
            _, tick_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            steady_seconds = statistics.median(s["seconds"] for s in steady)
            steady_ops = statistics.median(s["blob_ops"] for s in steady)
            print(f"hubs x jobs: {HUBS} x {JOBS}, simulator latency {LATENCY_MS} ms, one list call "
                  f"{one_list * 1000:.1f} ms, {HUBS} plain list calls at once {all_lists * 1000:.1f} ms")
            for name, tick in (("first run (backfill)", first), ("steady", steady[-1]), ("after changes", changed)):
                print(f"  {name:22s} hub calls {tick['hub_calls']:4.0f} (H={HUBS})  blob ops {tick['blob_ops']:4.0f}"
                      f"  changes {tick['changes']:3.0f}  wall {tick['seconds'] * 1000:7.1f} ms")
            print(f"hub calls per tick / H: {steady[-1]['hub_calls'] / HUBS:.2f} "
                  f"({verdict(steady[-1]['hub_calls'] / HUBS, target=1.0, at_most=True)})")
            print(f"steady blob ops per tick: {steady_ops:.0f} "
                  f"(H={HUBS} call-budget grants, busy hubs' taken ahead while the list calls go; the cadence record's "
                  "read and writes; a steady tick neither reads nor writes state: it matches the list against the hub "
                  "view kept from the last tick)")
            extra_ops = changed["blob_ops"] - steady_ops
            print(f"blob ops for {changed['changes']:.0f} changes: {extra_ops:.0f} above steady "
                  f"({extra_ops / max(changed['changes'], 1):.1f} per change; not proportional to J={JOBS})")
            ratio = steady_seconds / one_list
            print(f"steady tick wall / one list call: {ratio:.2f} ({verdict(ratio, target=3.0, at_most=True)})")
            print(f"steady tick wall / {HUBS} plain list calls at once: {steady_seconds / all_lists:.2f} "
                  "(the same lists without the poller: its own overhead)")
            print(f"tick with changes wall / one list call: {changed['seconds'] / one_list:.2f} (includes the writes)")
            print(f"peak Python memory in a tick (tracemalloc): {tick_peak / 1024 / 1024:.1f} MiB")

            small, large = (_summarise_log(service, blobs, azurite.account_url, n) for n in LOG_LINES)
            for run in (small, large):
                print(f"import report from importErrors.log {run['lines']:>9,} lines "
                      f"({run['bytes'] / 1024 / 1024:6.1f} MiB): peak {run['peak'] / 1024 / 1024:5.1f} MiB, "
                      f"{run['seconds']:.2f} s ({run['lines'] / run['seconds']:,.0f} lines/s)")
            growth = large["peak"] / small["peak"]
            print(f"peak memory {large['lines']:,} / {small['lines']:,} lines: {growth:.2f} "
                  f"({verdict(growth, target=1.5, at_most=True)}; flat = 1)")
        finally:
            processes.stop(azurite_process)


if __name__ == "__main__":
    main()
