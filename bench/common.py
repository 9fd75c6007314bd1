"""Helpers for benchmarks: medians, interleaved rounds, and a simulator in its own process.

Machines here are noisy, so every figure is a ratio against a baseline measured in the same run,
and the contenders run in interleaved rounds so that a slow spell hits them all alike.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack import processes


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
