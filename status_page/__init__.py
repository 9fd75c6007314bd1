"""GET /api/status: every configured hub's recent jobs as a page for operators (HTML)."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, as in get_job: the worker imports every function at start-up.
    from shared.errors import SettingsError
    from shared.proxy.answers import ProxyRequest
    from shared.status.page import configuration_error_response, default_status_page

    try:
        page = default_status_page()
    except SettingsError as error:
        answer = configuration_error_response(error, req.method)
    else:
        answer = page.handle(
            ProxyRequest(
                method=req.method,
                job_id="",
                params=req.params,
                headers={name.lower(): value for name, value in req.headers.items()},
            )
        )
    return func.HttpResponse(body=answer.body, status_code=answer.status_code, headers=answer.headers)
