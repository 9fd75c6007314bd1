"""Sleeps 0.2 s and reports how many executions overlapped (module state, shared by invocations)."""

import json
import threading
import time

import azure.functions as func

_lock = threading.Lock()
_running = 0
_peak = 0


def main(req: func.HttpRequest) -> func.HttpResponse:
    global _running, _peak
    with _lock:
        _running += 1
        _peak = max(_peak, _running)
    try:
        time.sleep(0.2)
    finally:
        with _lock:
            _running -= 1
    return func.HttpResponse(json.dumps({"peak": _peak}), mimetype="application/json")
