"""Writing whole HTTP/1.1 responses in one sendall from a BaseHTTPRequestHandler, with TCP_NODELAY.

Shared by the devstack's HTTP servers: a response written in pieces on a keep-alive connection meets
the client's delayed ACK and stalls about 40 ms per call.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_IDLE_CONNECTION_TIMEOUT_SECONDS = 30.0


class OneWriteHandler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, Nagle off, each response assembled then written once."""

    protocol_version = "HTTP/1.1"
    timeout = DEFAULT_IDLE_CONNECTION_TIMEOUT_SECONDS
    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > self.max_body_bytes:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def write_response(
        self,
        status: HTTPStatus | int,
        body: bytes,
        *,
        content_type: str | None = JSON_CONTENT_TYPE,
        headers: Iterable[tuple[str, str]] = (),
        head_only: bool = False,
    ) -> None:
        status = HTTPStatus(status)
        lines = [f"{self.protocol_version} {status.value} {status.phrase}", f"Date: {self.date_time_string()}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if head_only else head + body)
        self.log_request(status.value, len(body))
