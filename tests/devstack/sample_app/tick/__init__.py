"""Writes a marker file per run into $SAMPLE_MARKER_DIR."""

import json
import os
import time
import uuid
from pathlib import Path

import azure.functions as func


def main(timer: func.TimerRequest) -> None:
    marker = Path(os.environ["SAMPLE_MARKER_DIR"]) / f"tick-{time.time():.6f}-{uuid.uuid4().hex[:6]}.json"
    marker.write_text(json.dumps({"past_due": timer.past_due}))
