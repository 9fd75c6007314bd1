"""GET /api/status/jobs/{jobId}: one job's page (HTML): its timeline, the files beside it, its report, its JSON; under
/api/status so that sign-in covers it (docs/deploy.md, "Sign-in")."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs.
    from shared.http_trigger import serve
    from shared.status.job_page import configuration_error_response, default_job_page

    return serve(req, handler=default_job_page.get, misconfigured=configuration_error_response, context=context)
