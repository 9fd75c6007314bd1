"""A storage front: Azure Storage's 403 answers where Azurite's differ, and the denials Azurite cannot make.

It sits before an Azurite (plain HTTP, or HTTPS in OAuth mode) on a loopback port and passes every request
through unchanged, except:

- **A refused SAS.** Azurite answers an expired or forged SAS with 403 `AuthorizationFailure` (with the
  message of AuthenticationFailed); Azure Storage answers 403 `AuthenticationFailed`. The front answers as
  Azure does, so that a client can tell a bad SAS from a firewall.
- **A firewall** (`deny(container, FIREWALL)`): every request for that container (or `*`, the whole account)
  is answered 403 `AuthorizationFailure` "This request is not authorized to perform this operation.",
  whatever its credential, as a storage account's network rules answer.
- **A missing role** (`deny(container, MISSING_ROLE)`): requests with a bearer token are answered 403
  `AuthorizationPermissionMismatch`, as Azure RBAC answers an identity without a data role (Azurite's OAuth
  mode checks a token's signature and audience, never a role). SAS and shared-key requests pass.
- **One blob** (`deny(container, code, blob=name)`): only requests for that blob are refused, the rest of the
  container works: one unreadable blob (an errors log the poller must retry) beside writable ones.

Control API under /devstack/ on the front's port (no auth): POST deny {"container", "code", "blob"?}, POST
reset, GET counters. `StorageFront` runs it in-process; `StorageFrontControl` is its typed client.
"""

from __future__ import annotations

import enum
import http.client
import json
import ssl
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from devstack.httpio import OneWriteHandler

CONTROL_PREFIX = "/devstack/"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                        "proxy-authorization", "proxy-authenticate", "host", "content-length"})
PIECE_BYTES = 64 * 1024
UPSTREAM_TIMEOUT_SECONDS = 30.0
MAX_REQUEST_BYTES = 256 << 20
ANY_CONTAINER = "*"


class Denial(str, enum.Enum):
    """The 403 codes the front can answer with, by what they stand for."""

    FIREWALL = "AuthorizationFailure"
    MISSING_ROLE = "AuthorizationPermissionMismatch"
    # The SAS's own limits (Azure Storage error codes): an account without Shared Key, the SAS's `sip`, its
    # `spr=https` met over http. The front answers them as told; it does not evaluate the SAS itself.
    SHARED_KEY_DISALLOWED = "KeyBasedAuthenticationNotPermitted"
    SOURCE_IP_MISMATCH = "AuthorizationSourceIPMismatch"
    PROTOCOL_MISMATCH = "AuthorizationProtocolMismatch"


MESSAGES = {
    "AuthorizationFailure": "This request is not authorized to perform this operation.",
    "AuthorizationPermissionMismatch": "This request is not authorized to perform this operation using this "
                                       "permission.",
    "AuthenticationFailed": "Server failed to authenticate the request. Make sure the value of Authorization "
                            "header is formed correctly including the signature.",
    "KeyBasedAuthenticationNotPermitted": "Key based authentication is not permitted on this storage account.",
    "AuthorizationSourceIPMismatch": "This request is not authorized to perform this operation using this source "
                                     "IP 127.0.0.1.",
    "AuthorizationProtocolMismatch": "This request is not authorized to perform this operation using this "
                                     "protocol.",
}


def error_body(code: str) -> bytes:
    """Azure Storage's XML error body."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())
    message = f"{MESSAGES[code]}\nRequestId:{uuid.uuid4()}\nTime:{stamp}"
    return (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            "</Error>").encode()


@dataclass(frozen=True)
class _Upstream:
    scheme: str
    host: str
    port: int
    context: ssl.SSLContext | None


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: dict[str, Denial] = {}
        self.blob_rules: dict[tuple[str, str], Denial] = {}  # (container, blob name)
        self.counters: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], upstream: _Upstream, tls: ssl.SSLContext | None) -> None:
        super().__init__(address, _Handler)
        self.upstream = upstream
        self.tls = tls
        self.state = _State()


class _Handler(OneWriteHandler):
    server: _Server
    max_body_bytes = MAX_REQUEST_BYTES

    def setup(self) -> None:
        if self.server.tls is not None:  # the handshake here, in the request's own thread
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.write_response(HTTPStatus.BAD_REQUEST, b"")
            return
        split = urllib.parse.urlsplit(self.path)
        if split.path.startswith(CONTROL_PREFIX):
            self._control(split.path[len(CONTROL_PREFIX):], body)
            return
        denial = self._denial(split.path)
        if denial is not None:
            self.server.state.count(f"denied {denial.value}")
            self._refuse(denial.value)
            return
        self._forward(body, sas="sig=" in split.query.lower())

    def _denial(self, path: str) -> Denial | None:
        segments = path.split("/")
        container = segments[2] if len(segments) > 2 else ""  # path-style: /{account}/{container}/...
        blob = urllib.parse.unquote("/".join(segments[3:]))
        state = self.server.state
        with state.lock:
            rule = state.blob_rules.get((container, blob)) or state.rules.get(container) or state.rules.get(
                ANY_CONTAINER)
        if rule is Denial.MISSING_ROLE and not (self.headers.get("Authorization") or "").startswith("Bearer "):
            return None  # an RBAC role only matters to a token
        return rule

    def _refuse(self, code: str) -> None:
        headers = [("x-ms-error-code", code), ("x-ms-request-id", str(uuid.uuid4())), ("x-ms-version", "2025-01-05")]
        self.write_response(HTTPStatus.FORBIDDEN, error_body(code), content_type="application/xml",
                            headers=headers, head_only=self.command == "HEAD")

    def _forward(self, body: bytes, *, sas: bool) -> None:
        upstream = self.server.upstream
        connection: http.client.HTTPConnection
        if upstream.scheme == "https":
            connection = http.client.HTTPSConnection(upstream.host, upstream.port, timeout=UPSTREAM_TIMEOUT_SECONDS,
                                                     context=upstream.context)
        else:
            connection = http.client.HTTPConnection(upstream.host, upstream.port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{upstream.host}:{upstream.port}"
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError:
            self.server.state.count("upstream failures")
            self.close_connection = True
            self.write_response(HTTPStatus.BAD_GATEWAY, b"")
            return
        finally:
            connection.close()
        passed = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
        code = response.getheader("x-ms-error-code")
        if response.status == HTTPStatus.FORBIDDEN and code == "AuthorizationFailure" and sas and (
            b"failed to authenticate" in payload
        ):
            # Azurite's answer to a bad or expired SAS; Azure Storage's is AuthenticationFailed.
            self.server.state.count("rewritten AuthenticationFailed")
            self._refuse("AuthenticationFailed")
            return
        self.server.state.count("forwarded")
        self.write_response(response.status, payload, content_type=None, headers=passed,
                            head_only=self.command == "HEAD")

    def _control(self, route: str, body: bytes) -> None:
        state = self.server.state
        status, answer = HTTPStatus.OK, dict[str, Any]()
        try:
            payload = json.loads(body) if body else {}
            if (self.command, route) == ("POST", "deny"):
                container, code, blob = str(payload["container"]), Denial(payload["code"]), payload.get("blob")
                with state.lock:
                    if blob is None:
                        state.rules[container] = code
                    else:
                        state.blob_rules[(container, str(blob))] = code
                answer = {"container": container, "code": code.value, "blob": blob}
            elif (self.command, route) == ("POST", "allow"):
                container, blob = str(payload["container"]), payload.get("blob")
                with state.lock:
                    if blob is None:
                        state.rules.pop(container, None)
                    else:
                        state.blob_rules.pop((container, str(blob)), None)
                answer = {"container": container, "blob": blob}
            elif (self.command, route) == ("POST", "reset"):
                with state.lock:
                    state.rules.clear()
                    state.blob_rules.clear()
                    state.counters.clear()
            elif (self.command, route) == ("GET", "counters"):
                with state.lock:
                    answer = dict(state.counters)
            else:
                status, answer = HTTPStatus.NOT_FOUND, {"error": f"no control route {self.command} {route}"}
        except (ValueError, KeyError, TypeError) as exc:
            status, answer = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        self.write_response(status, json.dumps(answer).encode())


class StorageFront:
    """The front, in-process on `port` (0: a free one), before the Azurite at `upstream_url`."""

    def __init__(
        self, *, upstream_url: str, port: int = 0, tls: tuple[Path, Path] | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream_url)
        context = ssl.create_default_context(cafile=str(ca_bundle)) if parsed.scheme == "https" else None
        upstream = _Upstream(parsed.scheme, parsed.hostname or "127.0.0.1", parsed.port or 443, context)
        server_tls = None
        if tls is not None:
            server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_tls.load_cert_chain(str(tls[0]), str(tls[1]))
        self.scheme = "https" if tls is not None else "http"
        self._server = _Server(("127.0.0.1", port), upstream, server_tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name="storage-front", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> StorageFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class StorageFrontControl:
    """Typed client of a front's control API."""

    def __init__(self, url: str, *, ca_bundle: Path | None = None, timeout: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._timeout = timeout

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        response = requests.request(method, f"{self._url}{CONTROL_PREFIX}{route}", json=payload,
                                    verify=self._verify, timeout=self._timeout)
        if response.status_code != HTTPStatus.OK:
            raise RuntimeError(f"storage front {method} {route}: HTTP {response.status_code} {response.text}")
        return response.json()

    def deny(self, container: str, denial: Denial, *, blob: str | None = None) -> None:
        """Answer every request for `container` (`*`: all), or only for its `blob`, as a firewall, or bearer
        requests as a missing role."""
        payload: dict[str, Any] = {"container": container, "code": Denial(denial).value}
        if blob is not None:
            payload["blob"] = blob
        self._call("POST", "deny", payload)

    def allow(self, container: str, *, blob: str | None = None) -> None:
        """Lift what `deny` set for `container` (or for its `blob`)."""
        self._call("POST", "allow", {"container": container, "blob": blob})

    def reset(self) -> None:
        self._call("POST", "reset")

    def counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._call("GET", "counters").items()}
