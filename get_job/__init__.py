"""GET /api/jobs/{jobId}: an import/export job's properties, fetched with the app's own credentials."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs (shared/proxy for this one, with the storage clients of
    # shared/poller/storage.py when the shared cache is on; never the poller's tick, writer or reports).
    from shared.http_trigger import serve
    from shared.proxy.handler import configuration_error_response, default_job_proxy

    return serve(req, handler=default_job_proxy.get, misconfigured=configuration_error_response,
                 context=context)
