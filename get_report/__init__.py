"""GET /api/jobs/{jobId}/report: the job's report as the poller stored it (JSON, Markdown or HTML)."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs.
    from shared.http_trigger import serve
    from shared.reports.serve import configuration_error_response, default_report_handler

    return serve(req, handler=default_report_handler.get, misconfigured=configuration_error_response,
                 context=context)
