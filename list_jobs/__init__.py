"""GET /api/jobs: the jobs a hub knows, newest first, filtered, through get_job's caches and call budget."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, as in get_job: the worker imports every function at start-up.
    from shared.errors import SettingsError
    from shared.proxy.answers import ProxyRequest
    from shared.proxy.listing import configuration_error_response, default_list_proxy

    try:
        proxy = default_list_proxy()
    except SettingsError as error:
        answer = configuration_error_response(error, req.method)
    else:
        answer = proxy.handle(
            ProxyRequest(
                method=req.method,
                job_id="",
                params=req.params,
                headers={name.lower(): value for name, value in req.headers.items()},
            )
        )
    return func.HttpResponse(body=answer.body, status_code=answer.status_code, headers=answer.headers)
