"""Answers once $SAMPLE_MARKER_DIR/stall-gate exists (at most 30 s): past any short functionTimeout."""

import os
import time
from pathlib import Path

import azure.functions as func

GATE_SECONDS = 30.0


def main(req: func.HttpRequest) -> func.HttpResponse:
    gate = Path(os.environ["SAMPLE_MARKER_DIR"]) / "stall-gate"
    deadline = time.monotonic() + GATE_SECONDS
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return func.HttpResponse("late")
