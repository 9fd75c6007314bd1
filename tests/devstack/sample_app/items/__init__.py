"""Echoes what the host passed: method, route params, query params, a header and the body."""

import json

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    payload = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "x_test": req.headers.get("X-Test"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(json.dumps(payload), mimetype="application/json", headers={"X-Sample": "items"})
