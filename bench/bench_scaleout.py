"""get_job scaled out: hub calls per minute as instances are added, against one hub and one storage account.

Local Functions hosts stand for instances (each its own process, so its own in-process cache), all against one
simulated hub with the S1 throttle on (100 calls/min) and one Azurite as AzureWebJobsStorage. 100 clients
(keep-alive sessions) are spread round-robin over the hosts and ask, for `--seconds` each row, for one active and
three finished jobs (the mix of the issue's measurement). Every row starts with fresh hosts and an empty shared
cache (a container of its own). Rows:

- `per-instance`: `SHARED_CACHE_ENABLED=false`, each instance on its own: the behaviour before the shared cache,
  and the baseline of the latency ratio;
- `shared`: the default settings (cache, single flight and call budget shared through AzureWebJobsStorage);
- `budget`: shared, with `IOTHUB_CALLS_PER_MINUTE` below what the clients would otherwise cost the hub; this row
  lasts at least a minute, the budget's window (a shorter row may rightly spend a minute's budget in less).

After the load of the 8-instance rows, a finished job nobody asked for yet is asked for by all 100 clients at
once: its hub calls. Targets (printed as verdicts, never asserted): hub calls/min 8 instances / 1 instance
<= 1.25 (shared); budget row at most its budget; no status other than 200/304 while the hub is healthy; p50 shared
(8 instances) / p50 per-instance (1 instance) <= 1.5; the finished job: 1 hub call across 8 instances.
Run: `make bench` or `.venv/bin/python -m bench.bench_scaleout [--seconds 15] [--instances 1,2,4,8]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.bench_load import SAS_URI, run_load, seed_jobs
from bench.common import simulator_process, verdict
from devstack import processes
from devstack.azurite import start_azurite
from devstack.funchost.keys import DEFAULT_FUNCTION_KEY
from devstack.hubsim.control import HubControl
from devstack.wellknown import hub_connection_string

REPO = Path(__file__).resolve().parent.parent
S1_PER_MINUTE = 100
CLIENTS = 100
BUDGET_PER_MINUTE = 20
BUDGET_ROW_SECONDS = 60.0
ACTIVE = ("scale-active-1",)
FINISHED = ("scale-done-1", "scale-failed-1", "scale-cancelled-1")
HOST_START_SECONDS = 60.0


@dataclass
class Row:
    mode: str
    instances: int
    seconds: float = 0.0
    requests: int = 0
    hub_calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    without_retry_after: int = 0
    finished_job_calls: int | None = None

    @property
    def per_minute(self) -> float:
        return self.hub_calls * 60 / max(self.seconds, 1e-9)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms or [0.0])

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms) or [0.0]
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def other_statuses(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (200, 304))


def _ready(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/admin/host/status", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the functions host at {url} did not start")


@contextmanager
def hosts(count: int, *, settings: dict[str, str], log_dir: Path) -> Iterator[list[str]]:
    """`count` local Functions hosts (instances), timers off, all with the same app settings."""
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for index in range(count):
            port = processes.free_port()
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **settings}
            child = processes.start(
                [sys.executable, "-m", "devstack.funchost", "--app-root", str(REPO), "--port", str(port),
                 "--no-timers"],
                log_path=log_dir / f"host-{count}-{index}-{port}.log", env=env,
            )
            started.append((child, f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + HOST_START_SECONDS
        for _child, url in started:
            _ready(url, deadline)
        yield [url for _child, url in started]
    finally:
        for child, _url in started:
            processes.stop(child)


def ask_all_at_once(urls: Sequence[str], job_id: str, clients: int) -> Counter[int]:
    """Every client asks for `job_id` once, all released together, spread over the hosts."""
    barrier = threading.Barrier(clients)

    def one(index: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait()
            return session.get(f"{urls[index % len(urls)]}/api/jobs/{job_id}",
                               headers={"x-functions-key": DEFAULT_FUNCTION_KEY}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return Counter(pool.map(one, range(clients)))


def run_row(mode: str, instances: int, *, control: HubControl, base: dict[str, str], seconds: float,
            log_dir: Path, finished_probe: bool) -> Row:
    control.reset()
    control.set_rate_limit(S1_PER_MINUTE)
    settings = {**base, "SHARED_CACHE_CONTAINER": f"bench-{uuid.uuid4().hex[:12]}"}
    if mode == "per-instance":
        settings["SHARED_CACHE_ENABLED"] = "false"
    if mode == "budget":
        settings["IOTHUB_CALLS_PER_MINUTE"] = str(BUDGET_PER_MINUTE)
    row = Row(mode=mode, instances=instances)
    with hosts(instances, settings=settings, log_dir=log_dir) as urls:
        result = run_load(base_url=urls, function_key=DEFAULT_FUNCTION_KEY, controls=[control], clients=CLIENTS,
                          duration_seconds=seconds, jobs=(*ACTIVE, *FINISHED))
        row.seconds, row.requests, row.hub_calls = result.seconds, result.requests, result.hub_calls
        row.statuses, row.latencies_ms = result.statuses, result.latencies_ms
        row.without_retry_after = result.refusals_without_retry_after
        if finished_probe:
            job_id = f"scale-once-{uuid.uuid4().hex[:8]}"
            control.seed_jobs([{"jobId": job_id, "type": "export", "status": "completed", "progress": 100,
                                "outputBlobContainerUri": SAS_URI}])
            control.reset()  # counters only (the jobs stay); the throttle off: this counts, it does not time
            before = control.counters()["get"]
            ask_all_at_once(urls, job_id, CLIENTS)
            row.finished_job_calls = control.counters()["get"] - before
    return row


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| mode | instances | requests | hub calls/min | statuses | 429/503 without Retry-After | p50 ms | p99 ms "
        "| finished job: hub calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(row.statuses.items()))
        finished = "" if row.finished_job_calls is None else str(row.finished_job_calls)
        lines.append(f"| {row.mode} | {row.instances} | {row.requests} | {row.per_minute:.0f} | {statuses} | "
                     f"{row.without_retry_after} | {row.p50:.1f} | {row.p99:.1f} | {finished} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scaleout", description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the clients keep asking, per row")
    parser.add_argument("--instances", default="1,2,4,8", help="instance counts of the shared rows")
    args = parser.parse_args(argv if argv is not None else [])
    counts = [int(n) for n in args.instances.split(",")]
    most = max(counts)
    with tempfile.TemporaryDirectory() as tmp, simulator_process("devhub", log_dir=Path(tmp)) as urls:
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        try:
            control = HubControl(urls["devhub"])
            control.seed_jobs(seed_jobs(ACTIVE, FINISHED))
            base = {
                "IOTHUB_HUBS": "devhub", "IOTHUB_ENDPOINTS": f"devhub={urls['devhub']}",
                "IOTHUB_AUTH": "sharedAccessPolicy", "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub"),
                "AzureWebJobsStorage": azurite.connection_string,
            }
            plan = [("per-instance", 1), ("per-instance", most)] + [("shared", n) for n in counts] + [("budget", most)]
            rows = []
            for mode, instances in plan:
                seconds = max(args.seconds, BUDGET_ROW_SECONDS) if mode == "budget" else args.seconds
                rows.append(run_row(mode, instances, control=control, base=base, seconds=seconds,
                                    log_dir=Path(tmp), finished_probe=instances == most and mode != "budget"))
                print(f"  {mode:<12} {instances} instance(s): {rows[-1].per_minute:.0f} hub calls/min", flush=True)
        finally:
            processes.stop(azurite_process)
    print(f"get_job scaled out: {CLIENTS} clients, {args.seconds:g} s a row (the budget row "
          f"{max(args.seconds, BUDGET_ROW_SECONDS):g} s), 1 active + 3 finished jobs, "
          f"S1 throttle {S1_PER_MINUTE}/min in the simulator, one Azurite")
    print(table(rows))
    shared = {row.instances: row for row in rows if row.mode == "shared"}
    alone = next(row for row in rows if row.mode == "per-instance" and row.instances == 1)
    budget = next(row for row in rows if row.mode == "budget")
    ratio = shared[most].per_minute / max(shared[min(counts)].per_minute, 1e-9)
    latency = shared[most].p50 / max(alone.p50, 1e-9)
    print(f"  hub calls/min, shared, {most} / {min(counts)} instance(s) = {ratio:.2f}  "
          f"({verdict(ratio, target=1.25, at_most=True)})")
    print(f"  budget row: {budget.hub_calls} hub calls in {budget.seconds:.0f} s with "
          f"IOTHUB_CALLS_PER_MINUTE={BUDGET_PER_MINUTE}  "
          f"({verdict(budget.hub_calls, target=BUDGET_PER_MINUTE, at_most=True)})")
    healthy = sum(row.other_statuses for row in rows if row.mode == "shared")
    print(f"  answers other than 200/304 in the shared rows (hub healthy): {healthy}  "
          f"({verdict(healthy, target=0, at_most=True)})")
    print(f"  p50 shared {most} instances / p50 per-instance 1 instance = {latency:.2f}  "
          f"({verdict(latency, target=1.5, at_most=True)})")
    once = shared[most].finished_job_calls
    print(f"  a finished job asked by {CLIENTS} clients over {most} instances: {once} hub call(s)  "
          f"({verdict(float(once or 0), target=1, at_most=True)})")


if __name__ == "__main__":
    main(sys.argv[1:])
