"""Timer: poll every configured hub's import/export jobs once, recording snapshots and failure reports."""

from __future__ import annotations

import os

import azure.functions as func


def main(timer: func.TimerRequest, context: func.Context | None = None) -> None:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # the poller's dependencies (requests, azure-storage) would otherwise land on every get_job cold start.
    from shared.errors import TickFailedError
    from shared.logs import invocation
    from shared.poller.tick import default_poller
    from shared.settings import AppSettings

    # Settings are read per invocation (cheap) and the poller behind them is process-wide and reused.
    poller = default_poller(AppSettings.from_environ(os.environ))
    with invocation(context):  # the tick's threads log as this invocation, or Application Insights drops them
        result = poller.tick(past_due=timer.past_due)
    if result.all_failed:
        # Let the function's retry policy try again; a partial failure is logged and waits for the next tick.
        raise TickFailedError("every hub failed this tick: " + ", ".join(sorted(result.hubs)))
