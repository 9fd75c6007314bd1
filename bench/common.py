"""Helpers for benchmarks: medians, interleaved rounds, and a simulator in its own process.

Machines here are noisy, so every figure is a ratio against a baseline measured in the same run,
and the contenders run in interleaved rounds so that a slow spell hits them all alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack import processes

REPO = Path(__file__).resolve().parent.parent


def median_seconds(call: Callable[[], object], *, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def interleaved_medians(contenders: dict[str, Callable[[], object]], *, rounds: int, repeat: int) -> dict[str, float]:
    """Median per-call seconds of each contender, over `rounds` alternating rounds of `repeat` calls."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            samples[name].append(median_seconds(call, repeat=repeat))
    return {name: statistics.median(values) for name, values in samples.items()}


@contextmanager
def simulator_process(*hubs: str, log_dir: Path) -> Iterator[dict[str, str]]:
    """Run the hub simulator as a separate process (so it does not share our GIL); yield hub URLs."""
    ports = {hub: processes.free_port() for hub in hubs}
    args = [sys.executable, "-m", "devstack.hubsim", "--log-level", "WARNING"]
    for hub, port in ports.items():
        args += ["--hub", f"{hub}:{port}"]
    child = processes.start(args, log_path=log_dir / "hubsim.log")
    try:
        for port in ports.values():
            processes.wait_for_port(port, process=child)
        yield {hub: f"http://127.0.0.1:{port}" for hub, port in ports.items()}
    finally:
        processes.stop(child)


def verdict(value: float, *, target: float, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return f"{'meets' if ok else 'MISSES'} target {'<=' if at_most else '>='} {target:g}"


def machine() -> str:
    cpus = os.cpu_count() or 0
    return f"{platform.system()} {platform.machine()}, {cpus} CPU(s), Python {platform.python_version()}"


def commit() -> str:
    git = shutil.which("git") or "git"
    result = subprocess.run([git, "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False)
    dirty = subprocess.run([git, "-C", str(REPO), "status", "--porcelain"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return (result.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def write_results(path: Path, *, title: str, made_by: str, note: str, body: str) -> None:
    """A results file (docs/results/*.md) that says when, where and from which commit its figures came."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"# {title}\n\nWritten by `{made_by}` on {stamp}; machine: {machine()}; commit {commit()}. {note}\n\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body.rstrip() + "\n", encoding="utf-8")
