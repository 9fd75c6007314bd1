"""get_job under load: N concurrent clients, through the local Functions host over HTTP, against a hub
simulator with the real S1 throttle on (100 jobs operations per minute).

Prints requests served, statuses, hub calls (the simulator's counters), and p50/p99 latency. The
checks that matter are counts, not times: no 5xx beyond the documented 429/503 with Retry-After, and
hub calls within the throttle thanks to single-flight coalescing and the terminal-job cache.
Run: `make bench` or `.venv/bin/python -m bench.bench_load [--clients 100] [--seconds 20]`.
tests/load/test_get_job_load.py runs the same driver briefly in `make test`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from bench.common import simulator_process
from devstack import processes
from devstack.azurite import start_azurite
from devstack.funchost.keys import DEFAULT_FUNCTION_KEY
from devstack.hubsim.control import HubControl
from devstack.wellknown import hub_connection_string

REPO = Path(__file__).resolve().parent.parent
S1_PER_MINUTE = 100
ACTIVE_JOBS = ("load-active-1", "load-active-2", "load-active-3")
TERMINAL_JOBS = ("load-done-1", "load-done-2", "load-failed-1", "load-cancelled-1")
SAS_URI = "https://acct.blob.core.windows.net/c?sv=2021-08-06&sr=c&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=bG9hZA%3D%3D"
DOCUMENTED_REFUSALS = frozenset({429, 503})
SERVED = frozenset({200, 304})


def seed_jobs(active: tuple[str, ...] = ACTIVE_JOBS, terminal: tuple[str, ...] = TERMINAL_JOBS
              ) -> list[dict[str, object]]:
    """Running exports and finished imports (`{name}-{done|failed|cancelled}-{n}` says how each ended)."""
    jobs: list[dict[str, object]] = [
        {"jobId": job_id, "type": "export", "status": "running", "progress": 30, "outputBlobContainerUri": SAS_URI}
        for job_id in active
    ]
    for job_id in terminal:
        status = job_id.split("-")[1].replace("done", "completed")
        jobs.append({"jobId": job_id, "type": "import", "status": status, "progress": 100,
                     "inputBlobContainerUri": SAS_URI, "outputBlobContainerUri": SAS_URI})
    return jobs


@dataclass
class LoadResult:
    clients: int
    requests: int
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    hub_calls: int = 0
    refusals_without_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

    def summary(self) -> str:
        return (
            f"load: {self.clients} clients, {self.requests} requests in {self.seconds:.1f} s "
            f"({self.requests / max(self.seconds, 1e-9):.0f}/s); served {sum(self.statuses[s] for s in SERVED)}, "
            f"statuses {dict(sorted(self.statuses.items()))}; hub calls {self.hub_calls} "
            f"(S1 throttle {S1_PER_MINUTE}/min); latency p50 {statistics.median(self.latencies_ms or [0]):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms"
        )


def run_load(
    *, base_url: str | Sequence[str], function_key: str, controls: Sequence[HubControl], clients: int,
    requests_per_client: int | None = None, duration_seconds: float | None = None, seed: int = 5,
    jobs: Sequence[str] = (*ACTIVE_JOBS, *TERMINAL_JOBS),
) -> LoadResult:
    """`clients` threads, each with its own keep-alive session, each asking `requests_per_client` times (or
    until `duration_seconds` have passed) for a job drawn (seeded) from `jobs`; hub calls are the counters'
    growth meanwhile. With several base URLs (hosts standing for instances), client i asks host i mod n."""
    if (requests_per_client is None) == (duration_seconds is None):
        raise ValueError("give requests_per_client or duration_seconds")
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    before = sum(control.counters()["total"] for control in controls)
    result = LoadResult(clients=clients, requests=0, seconds=0.0)
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        rng = random.Random(seed * 1_000_003 + index)  # a reproducible request mix
        url = urls[index % len(urls)]
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        unexpected: list[str] = []
        missing_retry_after = 0
        with requests.Session() as session:
            session.trust_env = False
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            start.wait()
            deadline = time.monotonic() + duration_seconds if duration_seconds is not None else math.inf
            sent_count = 0
            while (requests_per_client is None or sent_count < requests_per_client) and time.monotonic() < deadline:
                sent_count += 1
                job_id = rng.choice(jobs)
                sent = time.perf_counter()
                response = session.get(
                    f"{url}/api/jobs/{job_id}", headers={"x-functions-key": function_key}, timeout=60
                )
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[response.status_code] += 1
                if response.status_code in DOCUMENTED_REFUSALS:
                    if not response.headers.get("Retry-After", "").isdigit():
                        missing_retry_after += 1
                elif response.status_code not in SERVED:
                    unexpected.append(f"{job_id}: {response.status_code} {response.text[:200]}")
        with lock:
            result.statuses.update(statuses)
            result.latencies_ms.extend(latencies)
            result.unexpected.extend(unexpected)
            result.refusals_without_retry_after += missing_retry_after
            result.requests += sent_count

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client, index) for index in range(clients)]:
            future.result()
    result.seconds = time.perf_counter() - started
    result.hub_calls = sum(control.counters()["total"] for control in controls) - before
    return result


def _wait_ready(url: str, process: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/admin/host/status", timeout=1):  # noqa: S310 - local host
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"the functions host at {url} did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the clients keep asking")
    args = parser.parse_args(argv if argv is not None else [])
    with tempfile.TemporaryDirectory() as tmp, simulator_process("devhub", log_dir=Path(tmp)) as urls:
        control = HubControl(urls["devhub"])
        control.seed_jobs(seed_jobs())
        control.set_rate_limit(S1_PER_MINUTE)
        # Its own Azurite: the shared cache and the call budget live in AzureWebJobsStorage.
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        port = processes.free_port()
        env = {
            **os.environ, "PYTHONUNBUFFERED": "1",
            "IOTHUB_HUBS": "devhub", "IOTHUB_ENDPOINTS": f"devhub={urls['devhub']}",
            "IOTHUB_AUTH": "sharedAccessPolicy", "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub"),
            "AzureWebJobsStorage": azurite.connection_string,
        }
        host = processes.start(
            [sys.executable, "-m", "devstack.funchost", "--app-root", str(REPO), "--port", str(port), "--no-timers"],
            log_path=Path(tmp) / "host.log", env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, host)
            result = run_load(base_url=url, function_key=DEFAULT_FUNCTION_KEY, controls=[control],
                              clients=args.clients, duration_seconds=args.seconds)
        finally:
            processes.stop(host)
            processes.stop(azurite_process)
    print(result.summary())
    calls_per_minute = result.hub_calls * 60 / max(result.seconds, 1e-9)
    print(f"hub calls per minute {calls_per_minute:.0f} (throttle {S1_PER_MINUTE}); "
          f"5xx other than 503: {sum(n for s, n in result.statuses.items() if s >= 500 and s != 503)}; "
          f"429/503 without Retry-After: {result.refusals_without_retry_after}")


if __name__ == "__main__":
    main(sys.argv[1:])
