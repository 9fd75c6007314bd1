"""What every HTTP function shares: its handler, built once per process, and the translation between the
Functions request and answer and the app's own (shared/proxy/answers.py, free of azure.functions).

Each function's `__init__.py` is then one call: `serve(req, handler=..., misconfigured=...)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from shared.errors import SettingsError
from shared.logs import invocation
from shared.proxy.answers import ProxyRequest, ProxyResponse

if TYPE_CHECKING:
    import azure.functions as func

T = TypeVar("T")


class Handler(Protocol):
    def handle(self, request: ProxyRequest) -> ProxyResponse: ...


class OncePerProcess(Generic[T]):
    """`build()` run on first use and its result kept for the process (a Functions worker serves many
    invocations). A build that raises (SettingsError: the app's settings are invalid) keeps nothing, so the
    next invocation tries again with the settings as they are then."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value

    def reset(self) -> None:
        """Forget the built value (tests change the settings between cases)."""
        with self._lock:
            self._value = None


def serve(
    req: func.HttpRequest, *, handler: Callable[[], Handler],
    misconfigured: Callable[[SettingsError, str], ProxyResponse], context: func.Context | None = None,
) -> func.HttpResponse:
    """One invocation: the route's handler answers, or, while the settings are invalid, the JSON 500 that names
    the setting. `context`: the invocation's, which threads the handler starts log under (shared/logs.py)."""
    import azure.functions as func

    with invocation(context):
        try:
            route = handler()
        except SettingsError as error:
            answer = misconfigured(error, req.method)
        else:
            answer = route.handle(ProxyRequest(
                method=req.method,
                job_id=req.route_params.get("jobId", ""),
                params=req.params,
                headers={name.lower(): value for name, value in req.headers.items()},
            ))
    return func.HttpResponse(body=answer.body, status_code=answer.status_code, headers=answer.headers)
