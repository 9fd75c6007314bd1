"""Fails until it has been attempted $SAMPLE_FLAKY_FAILURES times, counting attempts by marker files."""

import os
import uuid
from pathlib import Path

import azure.functions as func


def main(timer: func.TimerRequest, context: func.Context) -> None:
    directory = Path(os.environ["SAMPLE_MARKER_DIR"])
    (directory / f"flaky-{context.retry_context.retry_count}-{uuid.uuid4().hex[:6]}").touch()
    attempts = len(list(directory.glob("flaky-*")))
    if attempts <= int(os.environ.get("SAMPLE_FLAKY_FAILURES", "2")):
        raise RuntimeError(f"flaky attempt {attempts} fails")
