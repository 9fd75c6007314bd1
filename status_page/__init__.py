"""GET /api/status: every configured hub's recent jobs as a page for operators (HTML)."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs.
    from shared.http_trigger import serve
    from shared.status.page import configuration_error_response, default_status_page

    return serve(req, handler=default_status_page.get, misconfigured=configuration_error_response,
                 context=context)
