"""One hub's HTTP server: keep-alive HTTP/1.1, routing of /jobs and /devstack, one sendall per response."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.hubsim import control_api
from devstack.hubsim.auth import Right, verify_authorization
from devstack.hubsim.errors import ErrorCode, HubError, error_body, throttle_error
from devstack.hubsim.faults import DEFAULT_WAIT_SECONDS, HubKnobs
from devstack.hubsim.jobs import JobStore
from devstack.hubsim.registry import Registry
from devstack.hubsim.vocab import API_VERSION_PARAM, API_VERSIONS, ErrorShape, FaultKind, Header, Operation

log = logging.getLogger("devstack.hubsim")

JOBS_ROOT = "/jobs"
CREATE_PATH = "/jobs/create"
CONTROL_ROOT = "/devstack"
JSON_TYPE = "application/json; charset=utf-8"
MALFORMED_BODY = b'{"jobId": "malformed", "status": "runn'
MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_TRICKLE_MS = 250


@dataclass
class HubState:
    """Everything one hub's requests touch."""

    name: str
    registry: Registry
    jobs: JobStore
    knobs: HubKnobs
    cancel_status: int = HTTPStatus.OK


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON_TYPE
    trickle_ms: int = 0  # > 0: the body goes out one byte at a time, this far apart (a slow-loris hub)

    @staticmethod
    def json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return Response(status, json.dumps(payload).encode(), headers)

    @staticmethod
    def error(error: HubError, shape: ErrorShape = ErrorShape.MESSAGE) -> Response:
        headers = ((Header.ERROR_CODE.value, error.code.code_name), *error.headers.items())
        return Response(error.status, error.body(shape), headers)


def _duplicated(answer: Response) -> Response:
    """A list answer naming every job twice, the copy behind the original."""
    if answer.status != HTTPStatus.OK:
        return answer
    jobs = json.loads(answer.body)
    copies = []
    for job in jobs:
        copy = dict(job)
        if isinstance(copy.get("progress"), int) and copy.get("status") in ("running", "enqueued"):
            copy["progress"] = max(0, copy["progress"] - 10)
        copies.append(copy)
    return dataclasses.replace(answer, body=json.dumps([*jobs, *copies]).encode())


def classify(method: str, path: str) -> Operation:
    if path == JOBS_ROOT:
        return Operation.LIST if method == "GET" else Operation.OTHER
    if path == CREATE_PATH:
        return Operation.CREATE if method == "POST" else Operation.OTHER
    rest = path[len(JOBS_ROOT) + 1 :]
    if rest and "/" not in rest:
        return {"GET": Operation.GET, "DELETE": Operation.CANCEL}.get(method, Operation.OTHER)
    return Operation.OTHER


def _route_error(method: str, path: str) -> HubError:
    if path == JOBS_ROOT:
        allow = "GET"
    elif path == CREATE_PATH:
        allow = "POST"
    elif "/" not in path[len(JOBS_ROOT) + 1 :]:
        allow = "GET, DELETE"
    else:
        return HubError(ErrorCode.NOT_FOUND, f"The requested resource {path} does not exist.")
    text = f"Method {method} is not allowed on {path}."
    return HubError(ErrorCode.METHOD_NOT_ALLOWED, text, headers={"Allow": allow})


class _Dropped(Exception):
    """Close the connection without answering."""


class HubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubHTTPServer
    _carried_jobs: bool

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._carried_jobs = False  # one handler per connection: counted once it carries a /jobs request

    # http.server calls these for protocol errors; answer in IoT Hub's shape with a request id too.
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        text = message or HTTPStatus(code).phrase
        name = ErrorCode.ARGUMENT_INVALID.code_name
        response = Response(code, error_body(ErrorCode.ARGUMENT_INVALID, text), ((Header.ERROR_CODE.value, name),))
        self._write(response, str(uuid.uuid4()))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s: " + format, self.server.state.name, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    # -- plumbing --------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get(Header.CONTENT_LENGTH.value) or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _write(self, response: Response, request_id: str) -> None:
        """Status line, headers and body in ONE sendall (no delayed-ACK stall on keep-alive)."""
        reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        lines = [f"{self.protocol_version} {response.status} {reason}"]
        headers: list[tuple[str, str]] = [(Header.REQUEST_ID.value, request_id), ("Server", "devstack-hubsim")]
        headers.append(("Date", self.date_time_string()))
        if self._gzipped(response):
            response = dataclasses.replace(response, body=gzip.compress(response.body),
                                           headers=(*response.headers, ("Content-Encoding", "gzip")))
        if response.status != HTTPStatus.NO_CONTENT:
            headers.append((Header.CONTENT_TYPE.value, response.content_type))
            headers.append((Header.CONTENT_LENGTH.value, str(len(response.body))))
        headers.extend(response.headers)
        if self.close_connection:
            headers.append(("Connection", "close"))
        lines.extend(f"{name}: {value}" for name, value in headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = b"" if self.command == "HEAD" or response.status == HTTPStatus.NO_CONTENT else response.body
        if response.trickle_ms <= 0 or not body:
            self.wfile.write(head + body)
            return
        try:
            self.wfile.write(head + body[:1])
            for index in range(1, len(body)):
                time.sleep(response.trickle_ms / 1000)
                self.wfile.write(body[index : index + 1])
        except OSError:
            self.close_connection = True  # the client gave up: as it should

    def _gzipped(self, response: Response) -> bool:
        accepted = self.headers.get("Accept-Encoding") or ""
        return (self.server.state.knobs.gzip and bool(response.body) and self.path.startswith(JOBS_ROOT)
                and "gzip" in [coding.split(";")[0].strip().lower() for coding in accepted.split(",")])

    def _dispatch(self) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        operation: Operation | None = None
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed request body framing.")
            return
        try:
            if path == JOBS_ROOT or path.startswith(JOBS_ROOT + "/"):
                operation = classify(self.command, path)
                response = self._jobs(operation, path, split.query, body)
            elif path == CONTROL_ROOT or path.startswith(CONTROL_ROOT + "/"):
                status, payload = control_api.handle(self.server.control, self.command, path, body)
                response = Response.json(status, payload)
            else:
                text = f"The requested resource {path} does not exist."
                response = Response.error(HubError(ErrorCode.NOT_FOUND, text))
        except _Dropped:
            self.close_connection = True
            self._log(operation, "dropped", started, request_id)
            return
        except Exception:
            log.exception("%s: unhandled error for %s %s", self.server.state.name, self.command, path)
            response = Response.error(HubError(ErrorCode.SERVER_ERROR, "An internal error occurred."))
        self._write(response, request_id)
        self._log(operation, str(response.status), started, request_id)

    def _log(self, operation: Operation | None, outcome: str, started: float, request_id: str) -> None:
        # One line per request; the Authorization header is never logged, and neither is the query.
        log.info(
            "%s %s %s op=%s -> %s in %.0f ms request-id=%s",
            self.server.state.name,
            self.command,
            urllib.parse.urlsplit(self.path).path,
            operation.value if operation else "-",
            outcome,
            (time.monotonic() - started) * 1000,
            request_id,
        )

    # -- /jobs -----------------------------------------------------------------------------------
    def _jobs(self, operation: Operation, path: str, query: str, body: bytes) -> Response:
        state = self.server.state
        if not self._carried_jobs:
            self._carried_jobs = True
            state.knobs.count_connection()
        fault, throttled = state.knobs.arrive(operation)
        shape = state.knobs.error_shape
        if state.knobs.latency_ms:
            time.sleep(state.knobs.latency_ms / 1000)
        if fault is not None:
            if fault.kind is FaultKind.TRICKLE:
                answer = self._jobs_or_error(operation, path, query, body, shape)
                return dataclasses.replace(answer, trickle_ms=fault.delay_ms or DEFAULT_TRICKLE_MS)
            if fault.kind is FaultKind.DUPLICATE:
                answer = self._jobs_or_error(operation, path, query, body, shape)
                return _duplicated(answer) if operation is Operation.LIST else answer
            if fault.kind is FaultKind.HOLD:
                answer = self._jobs_or_error(operation, path, query, body, shape)
                state.knobs.hold(fault.delay_ms)
                return answer
            if fault.kind is FaultKind.REDIRECT:
                return Response(HTTPStatus.TEMPORARY_REDIRECT, b"", (("Location", fault.location),))
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
            if fault.kind is FaultKind.DROP:
                raise _Dropped
            if fault.kind is FaultKind.MALFORMED:
                return Response(HTTPStatus.OK, MALFORMED_BODY)
            if fault.kind is FaultKind.THROTTLE:
                return Response.error(throttle_error(fault.wait_seconds, retry_after=fault.retry_after), shape)
            if fault.kind is FaultKind.SERVER_ERROR:
                return Response.error(HubError(ErrorCode.SERVER_ERROR, "An internal server error occurred."), shape)
            if fault.kind is FaultKind.QUOTA_EXCEEDED:
                text = "Total number of messages on IotHub exceeded the allocated quota."
                return Response.error(HubError(ErrorCode.IOTHUB_QUOTA_EXCEEDED, text), shape)
            if fault.kind is FaultKind.UNAVAILABLE:
                return Response.error(HubError(ErrorCode.SERVICE_UNAVAILABLE, "The service is unavailable."), shape)
        if throttled and not state.knobs.shape():
            return Response.error(throttle_error(DEFAULT_WAIT_SECONDS), shape)
        return self._jobs_or_error(operation, path, query, body, shape)

    def _jobs_or_error(self, operation: Operation, path: str, query: str, body: bytes, shape: ErrorShape) -> Response:
        try:
            return self._serve_jobs(operation, path, query, body)
        except HubError as error:
            return Response.error(error, shape)

    def _serve_jobs(self, operation: Operation, path: str, query: str, body: bytes) -> Response:
        state = self.server.state
        if operation is Operation.OTHER:
            raise _route_error(self.command, path)
        right = Right.WRITE if operation in (Operation.CREATE, Operation.CANCEL) else Right.READ
        state.knobs.remember_credential(self.headers.get(Header.AUTHORIZATION.value))
        verify_authorization(
            self.headers.get(Header.AUTHORIZATION.value), hub_name=state.name, right=right,
            sas_allowed=not state.knobs.local_auth_disabled,
        )
        versions = urllib.parse.parse_qs(query).get(API_VERSION_PARAM, [])
        if len(versions) != 1 or versions[0] not in API_VERSIONS:
            raise HubError(ErrorCode.ARGUMENT_INVALID, "Invalid or missing api-version query parameter.")
        if operation is Operation.LIST:
            return Response.json(HTTPStatus.OK, state.jobs.list_jobs())
        if operation is Operation.CREATE:
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                raise HubError(ErrorCode.ARGUMENT_INVALID, "The request body is not valid JSON.") from None
            return Response.json(HTTPStatus.OK, state.jobs.create(payload))
        job_id = urllib.parse.unquote(path[len(JOBS_ROOT) + 1 :])
        if operation is Operation.GET:
            return Response.json(HTTPStatus.OK, state.jobs.get(job_id))
        job = state.jobs.cancel(job_id)
        if state.cancel_status == HTTPStatus.NO_CONTENT:
            return Response(HTTPStatus.NO_CONTENT)
        return Response.json(HTTPStatus.OK, job)


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: HubState, control: control_api.HubController) -> None:
        self.state = state
        self.control = control
        super().__init__(address, HubRequestHandler)


class HubServer:
    """A hub's server on its own thread."""

    def __init__(self, host: str, port: int, state: HubState, control: control_api.HubController) -> None:
        self.state = state
        self.httpd = HubHTTPServer((host, port), state, control)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"hubsim-{state.name}", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
        self.state.jobs.reset()
