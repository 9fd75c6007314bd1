"""The host's HTTP front: function routes under the routePrefix and the admin routes.

Admin routes (no key needed, as with Core Tools locally):
- ``GET  /admin/host/status`` → 200 ``{"state": "Running", "errors": [...]}``.
- ``POST /admin/functions/{name}`` body ``{"input": ""}`` → 202; the run happens in the background (runs.py: in
  its turn; a request while another run-now waits joins it, ``"joined": true``). Devstack extension:
  ``?wait=true`` answers 202 once the run's first attempt ended; the body is the run record (``id``,
  ``state``: succeeded/failed/retrying, ``attempts``, ``error``, ``queuedBehind``: the run that had the
  function when it was queued, or null).
- ``GET  /admin/functions/{name}/status`` (devstack extension) → counts and the latest runs.
"""

from __future__ import annotations

import json
import logging
import traceback
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.funchost.discovery import AuthLevel
from devstack.funchost.httpmodel import build_request, response_parts
from devstack.funchost.invocation import new_invocation_id
from devstack.funchost.keys import KEY_HEADER, KEY_QUERY_PARAM
from devstack.funchost.logs import in_function
from devstack.httpio import OneWriteHandler

if TYPE_CHECKING:
    from devstack.funchost.host import FunctionsHost, HttpFunction

LOG = logging.getLogger("devstack.funchost")
ADMIN_PREFIX = "/admin/"
HOST_STATUS_PATH = "/admin/host/status"
FUNCTIONS_ADMIN_PREFIX = "/admin/functions/"
STATUS_SUFFIX = "/status"
TRUE_VALUES = frozenset({"1", "true", "yes"})


class HostServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], host: FunctionsHost) -> None:
        super().__init__(address, _Handler)
        self.host = host


class _Handler(OneWriteHandler):
    # Functions accept large bodies and keep idle connections longer than the small stand-ins do.
    max_body_bytes = 100 << 20
    timeout = 120.0
    server: HostServer

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def do_TRACE(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str) -> Any:
        # Any other method (CONNECT, PROPFIND, FOO...) is routed like the rest, as Azure's host (Kestrel) does:
        # http.server would otherwise answer 501 with an HTML page.
        if name.startswith("do_") and name[3:].isalpha():
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A malformed request: the status with an empty body, as Azure's host answers (never an HTML page)."""
        self.close_connection = True
        self.write_response(code, b"", content_type=None)

    # --- helpers -------------------------------------------------------------------------------
    def _empty(self, status: HTTPStatus) -> None:
        """The host's own 401 and 404 have no body (Kestrel's status answers, not the function's)."""
        self.write_response(status, b"", content_type=None, head_only=self.command == "HEAD")

    def _json(self, status: HTTPStatus, payload: Any, *, headers: list[tuple[str, str]] | None = None) -> None:
        self.write_response(
            status, json.dumps(payload).encode(), headers=headers or [], head_only=self.command == "HEAD"
        )

    def _dispatch(self) -> None:
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad Content-Length"})
            return
        split = urlsplit(self.path)
        if split.path.lower().startswith(ADMIN_PREFIX):
            self._admin(split.path, split.query, body)
        else:
            self._function(split.path, split.query, body)

    # --- functions -----------------------------------------------------------------------------
    def _function(self, path: str, query: str, body: bytes) -> None:
        host = self.server.host
        matched = host.match_route(path)
        if not matched:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        method = self.command.upper()
        chosen = next(((fn, params) for fn, params in matched if fn.accepts(method)), None)
        if chosen is None:
            # Azure's host routes on the method too: a method missing from function.json's `methods` finds no
            # route, and the answer is an empty 404, not a 405 (azure-functions-host issue 10098).
            self._empty(HTTPStatus.NOT_FOUND)
            return
        function, route_params = chosen
        if not self._authorised(function, query):
            self._empty(HTTPStatus.UNAUTHORIZED)
            return
        url = f"http://{self.headers.get('Host') or host.authority}{self.path}"
        request = build_request(
            method=method,
            url=url,
            query=query,
            headers=self.headers.items(),
            route_params={name: unquote(value) for name, value in route_params.items()},
            body=body,
        )
        invocation_id = new_invocation_id()
        try:
            with in_function(function.spec.name):
                result = function.invoke(request, invocation_id)
            status, headers, payload = response_parts(result)
        except Exception:
            with in_function(function.spec.name):
                LOG.error("%s: invocation %s failed\n%s", function.spec.name, invocation_id, traceback.format_exc())
            failure = {"error": "Internal Server Error", "invocationId": invocation_id}
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, failure)
            return
        self.write_response(status, payload, content_type=None, headers=headers, head_only=method == "HEAD")

    def _authorised(self, function: HttpFunction, query: str) -> bool:
        level = function.trigger.auth_level
        if level is AuthLevel.ANONYMOUS:
            return True
        presented = self.headers.get(KEY_HEADER)
        if presented is None:
            # The host reads `code` from ASP.NET Core's query collection, whose names ignore case (Code=, CODE=);
            # a repeated one is its values joined with ",".
            codes = [value for name, values in parse_qs(query).items() if name.lower() == KEY_QUERY_PARAM
                     for value in values]
            presented = ",".join(codes) if codes else None
        keys = self.server.host.keys
        if level is AuthLevel.ADMIN:
            return keys.is_master(presented)
        return keys.allows_function(function.spec.name, presented)

    # --- admin ---------------------------------------------------------------------------------
    def _admin(self, path: str, query: str, body: bytes) -> None:
        host = self.server.host
        method = self.command.upper()
        lowered = path.rstrip("/").lower()
        if lowered == HOST_STATUS_PATH:
            if method not in ("GET", "HEAD"):
                self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "Method Not Allowed"}, headers=[("Allow", "GET")])
                return
            self._json(HTTPStatus.OK, host.status())
            return
        if not lowered.startswith(FUNCTIONS_ADMIN_PREFIX):
            self._empty(HTTPStatus.NOT_FOUND)
            return
        rest = path.rstrip("/")[len(FUNCTIONS_ADMIN_PREFIX) :]
        if rest.lower().endswith(STATUS_SUFFIX):
            runner = host.runner(rest[: -len(STATUS_SUFFIX)])
            if runner is None:
                self._empty(HTTPStatus.NOT_FOUND)
            elif method not in ("GET", "HEAD"):
                self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "Method Not Allowed"}, headers=[("Allow", "GET")])
            else:
                self._json(HTTPStatus.OK, runner.status())
            return
        if method != "POST":
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "Method Not Allowed"}, headers=[("Allow", "POST")])
            return
        if host.http_function(rest) is not None:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"{rest} is an HTTP function: call its route"})
            return
        runner = host.runner(rest)
        if runner is None:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": 'body must be JSON like {"input": ""}'})
            return
        # The input is ignored for timers, as with Core Tools (payload only has to be JSON).
        del payload
        wait = parse_qs(query).get("wait", ["false"])[0].lower() in TRUE_VALUES
        record, joined = runner.run_now()
        if wait:
            # Its first attempt: the attempt it waits behind and its own, each bounded by functionTimeout.
            record.attempted.wait()
        self._json(HTTPStatus.ACCEPTED, {**record.to_json(), "joined": joined})
