"""GET /api/jobs/{jobId}/report: the job's report as the poller stored it (JSON, Markdown or HTML)."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, as in get_job: the worker imports every function at start-up.
    from shared.errors import SettingsError
    from shared.proxy.answers import ProxyRequest
    from shared.reports.serve import configuration_error_response, default_report_handler

    try:
        handler = default_report_handler()
    except SettingsError as error:
        answer = configuration_error_response(error, req.method)
    else:
        answer = handler.handle(
            ProxyRequest(
                method=req.method,
                job_id=req.route_params.get("jobId", ""),
                params=req.params,
                headers={name.lower(): value for name, value in req.headers.items()},
            )
        )
    return func.HttpResponse(body=answer.body, status_code=answer.status_code, headers=answer.headers)
