"""Logs from its own thread, from a thread that carries the invocation id, and from one that does not."""

import json
import logging
import threading

import azure.functions as func

logger = logging.getLogger("sample.threads")


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    def carried() -> None:
        # As Learn tells apps to (azure.functions types the storage as a class, hence the ignore).
        context.thread_local_storage.invocation_id = context.invocation_id  # type: ignore[attr-defined]
        logger.info("threads: from a thread that carries the invocation")

    def plain() -> None:
        logger.info("threads: from a thread without the invocation id")

    logger.info("threads: from the invocation's thread")
    for target in (carried, plain):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    return func.HttpResponse(json.dumps({"invocationId": context.invocation_id}), mimetype="application/json")
