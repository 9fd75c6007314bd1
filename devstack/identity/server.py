"""The managed identity endpoint: a ThreadingHTTPServer in a background thread.

Routes:
- ``GET /msi/token`` — the App Service protocol (see protocol.py).
- ``POST /devstack/faults`` ``{"kind": "error500", "count": N}`` — serve N faults instead of tokens (also
  ``slow``: the token, a second late; ``slow500``: the 500, a second late).
- ``POST /devstack/config`` ``{"token_lifetime_seconds": N}`` — change the lifetime of new tokens.
- ``POST /devstack/reset`` — drop faults, zero counters, restore the configured lifetime.
- ``GET /devstack/counters`` — tokens issued per audience, faults served, requests, rejections.
- ``GET /devstack/tokens`` — every access token issued (the newest 10,000, kept across resets), so that
  tests can look for them in what the app writes out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.httpio import OneWriteHandler
from devstack.identity import protocol
from devstack.identity.control import IdentityControl
from devstack.identity.identities import find_identity
from devstack.identity.issuer import DEFAULT_TOKEN_LIFETIME_SECONDS, SUPPORTED_RESOURCES, issue
from devstack.identity.protocol import ErrorCode, error_body
from devstack.identity.state import SLOW_SECONDS, EndpointState, FaultKind
from devstack.wellknown import IDENTITY_HEADER, TENANT_ID

LOG = logging.getLogger("devstack.identity")
DEFAULT_HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, state: EndpointState, header: str) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.header = header


class _Handler(OneWriteHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line and status: the query holds no secret, responses are never logged.
        LOG.debug("%s - %s", self.address_string(), format % args)

    # --- routing -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == protocol.TOKEN_PATH:
            self._token()
        elif path == protocol.CONTROL_COUNTERS_PATH:
            self._json(HTTPStatus.OK, self.server.state.snapshot())
        elif path == protocol.CONTROL_TOKENS_PATH:
            self._json(HTTPStatus.OK, {"tokens": self.server.state.tokens()})
        elif path in (protocol.CONTROL_FAULTS_PATH, protocol.CONTROL_RESET_PATH, protocol.CONTROL_CONFIG_PATH):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, ErrorCode.METHOD_NOT_ALLOWED, "use POST")
        else:
            self._error(HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, f"no route {path}")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            raw = self.read_body()
            payload = json.loads(raw) if raw.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, str(exc))
            return
        if path == protocol.CONTROL_FAULTS_PATH:
            self._add_fault(payload)
        elif path == protocol.CONTROL_RESET_PATH:
            self.server.state.reset()
            self._json(HTTPStatus.OK, self.server.state.snapshot())
        elif path == protocol.CONTROL_CONFIG_PATH:
            self._configure(payload)
        elif path in (protocol.TOKEN_PATH, protocol.CONTROL_COUNTERS_PATH):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, ErrorCode.METHOD_NOT_ALLOWED, "use GET")
        else:
            self._error(HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, f"no route {path}")

    # --- the protocol --------------------------------------------------------------------------
    def _token(self) -> None:
        state = self.server.state
        query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
        sent_header = self.headers.get(protocol.IDENTITY_HEADER_NAME)
        if sent_header is None:
            self._reject(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, "X-IDENTITY-HEADER header is missing.")
            return
        if sent_header != self.server.header:
            self._reject(HTTPStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "X-IDENTITY-HEADER header is invalid.")
            return
        api_version = query.get(protocol.PARAM_API_VERSION)
        if api_version != protocol.API_VERSION:
            message = (
                "api-version is missing."
                if api_version is None
                else f"api-version {api_version} is not supported; use {protocol.API_VERSION}."
            )
            self._reject(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, message)
            return
        requested = query.get(protocol.PARAM_RESOURCE)
        if not requested:
            self._reject(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, "resource is missing.")
            return
        audience = protocol.normalise_resource(requested)
        if audience not in SUPPORTED_RESOURCES:
            self._reject(
                HTTPStatus.BAD_REQUEST,
                ErrorCode.INVALID_RESOURCE,
                f"AADSTS500011: The resource principal named {requested} was not found in the tenant "
                f"named {TENANT_ID}.",
            )
            return
        unsupported = [name for name in protocol.UNSUPPORTED_ID_PARAMS if name in query]
        if unsupported:
            self._reject(
                HTTPStatus.BAD_REQUEST,
                ErrorCode.INVALID_IDENTITY,
                f"{unsupported[0]} is not supported by the devstack endpoint; use client_id.",
            )
            return
        identity = find_identity(query.get(protocol.PARAM_CLIENT_ID))
        if identity is None:
            self._reject(
                HTTPStatus.BAD_REQUEST,
                ErrorCode.INVALID_IDENTITY,
                "Unable to load the proper Managed Identity: no identity with this client_id is assigned.",
            )
            return
        fault = state.take_fault()
        if fault in (FaultKind.SLOW, FaultKind.SLOW_500):
            time.sleep(SLOW_SECONDS)
        if fault in (FaultKind.ERROR_500, FaultKind.SLOW_500):
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorCode.SERVER_ERROR, protocol.UNEXPECTED_AAD_ERROR)
            return
        token = issue(identity, audience, lifetime_seconds=state.lifetime())
        state.count_issued(audience, token.access_token)
        self._json(
            HTTPStatus.OK,
            {
                "access_token": token.access_token,
                "expires_on": str(token.expires_on),
                "resource": requested,
                "token_type": protocol.TOKEN_TYPE,
                "client_id": identity.client_id,
            },
        )

    # --- control -------------------------------------------------------------------------------
    def _add_fault(self, payload: dict[str, Any]) -> None:
        try:
            kind = FaultKind(payload.get("kind"))
            count = payload.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError("count must be a positive integer")
        except ValueError as exc:
            known = ", ".join(k.value for k in FaultKind)
            self._error(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, f"{exc} (kinds: {known})")
            return
        self.server.state.add_fault(kind, count)
        self._json(HTTPStatus.OK, self.server.state.snapshot())

    def _configure(self, payload: dict[str, Any]) -> None:
        lifetime = payload.get("token_lifetime_seconds")
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1:
            self._error(HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_REQUEST, "token_lifetime_seconds must be >= 1")
            return
        self.server.state.set_lifetime(lifetime)
        self._json(HTTPStatus.OK, self.server.state.snapshot())

    # --- responses -----------------------------------------------------------------------------
    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        self.write_response(status, json.dumps(payload).encode())

    def _error(self, status: HTTPStatus, code: ErrorCode, message: str) -> None:
        self.write_response(status, error_body(status, code, message))

    def _reject(self, status: HTTPStatus, code: ErrorCode, message: str) -> None:
        self.server.state.count_rejected()
        self._error(status, code, message)


class IdentityEndpoint:
    """The managed identity endpoint, served in-process from a background thread.

    ``port=0`` picks a free port. ``.url`` is the value for IDENTITY_ENDPOINT, ``.header`` the value
    for IDENTITY_HEADER, ``.control`` an IdentityControl for the devstack routes.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = DEFAULT_HOST,
        token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS,
        header: str = IDENTITY_HEADER,
    ) -> None:
        if token_lifetime_seconds < 1:
            raise ValueError("token_lifetime_seconds must be >= 1")
        self._address = (host, port)
        self._state = EndpointState(
            token_lifetime_seconds=token_lifetime_seconds, default_token_lifetime_seconds=token_lifetime_seconds
        )
        self.header = header
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> IdentityEndpoint:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = _Server(self._address, state=self._state, header=self.header)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="identity-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> IdentityEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def url(self) -> str:
        """The value for IDENTITY_ENDPOINT."""
        return f"{self.base_url}{protocol.TOKEN_PATH}"

    @property
    def control(self) -> IdentityControl:
        return IdentityControl(self.base_url)

    def environment(self) -> dict[str, str]:
        """IDENTITY_ENDPOINT and IDENTITY_HEADER for a process that should use this endpoint."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header}
