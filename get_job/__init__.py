"""GET /api/jobs/{jobId}: an import/export job's properties, fetched with the app's own credentials."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs (shared/proxy for this one, with the storage clients of
    # shared/poller/storage.py when the shared cache is on; never the poller's tick, writer or reports).
    from shared.errors import SettingsError
    from shared.proxy.answers import ProxyRequest
    from shared.proxy.handler import configuration_error_response, default_job_proxy

    try:
        proxy = default_job_proxy()
    except SettingsError as error:
        answer = configuration_error_response(error)
    else:
        answer = proxy.handle(
            ProxyRequest(
                method=req.method,
                job_id=req.route_params.get("jobId", ""),
                params=req.params,
                headers={name.lower(): value for name, value in req.headers.items()},
            )
        )
    return func.HttpResponse(body=answer.body, status_code=answer.status_code, headers=answer.headers)
