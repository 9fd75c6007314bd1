"""GET /api/jobs: the jobs a hub knows, newest first, filtered, through get_job's caches and call budget."""

from __future__ import annotations

import azure.functions as func


def main(req: func.HttpRequest, context: func.Context | None = None) -> func.HttpResponse:
    # Imported here, not when the worker loads the app: the worker imports every function at start-up, and
    # each function should load only what it needs.
    from shared.http_trigger import serve
    from shared.proxy.listing import configuration_error_response, default_list_proxy

    return serve(req, handler=default_list_proxy.get, misconfigured=configuration_error_response,
                 context=context)
