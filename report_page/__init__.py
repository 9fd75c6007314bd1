"""GET /api/status/jobs/{jobId}/report: a job's report as a page for people (HTML), under /api/status so that
sign-in covers it (docs/deploy.md, "Sign-in"); scripts read the report at /api/jobs/{jobId}/report."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs.
    from shared.http_trigger import serve
    from shared.reports.serve import default_report_page, page_configuration_error_response

    return serve(req, handler=default_report_page.get, misconfigured=page_configuration_error_response,
                 context=context)
