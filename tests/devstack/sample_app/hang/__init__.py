"""Its first run outlives any functionTimeout: it waits for $SAMPLE_MARKER_DIR/hang-gate, then logs and leaves
a marker; later runs end at once."""

import itertools
import logging
import os
import time
from pathlib import Path

import azure.functions as func

logger = logging.getLogger("sample.hang")
_runs = itertools.count()
GATE_SECONDS = 30.0


def main(timer: func.TimerRequest) -> None:
    if next(_runs):
        logger.info("hang: quick run")
        return
    logger.info("hang: started")
    folder = Path(os.environ["SAMPLE_MARKER_DIR"])
    deadline = time.monotonic() + GATE_SECONDS
    while not (folder / "hang-gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    logger.info("hang: late line")
    (folder / "hang-late").write_text("done")
