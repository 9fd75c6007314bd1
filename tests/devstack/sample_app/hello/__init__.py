import logging

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "world")
    logging.info("greeting %s", name)
    return func.HttpResponse(f"hello {name}")
