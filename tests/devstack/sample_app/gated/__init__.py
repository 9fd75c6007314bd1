"""Each run writes gated-<n>, then waits for $SAMPLE_MARKER_DIR/gated-gate; the first run of the process fails
(its retry waits a minute)."""

import itertools
import os
import time
from pathlib import Path

import azure.functions as func

_runs = itertools.count(1)
GATE_SECONDS = 30.0


def main(timer: func.TimerRequest) -> None:
    number = next(_runs)
    folder = Path(os.environ["SAMPLE_MARKER_DIR"])
    (folder / f"gated-{number}").write_text("started")
    deadline = time.monotonic() + GATE_SECONDS
    while not (folder / "gated-gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if number == 1:
        raise RuntimeError("the first run fails")
