"""requests sessions for every outbound call, with the transport's own last check on where each goes.

`GuardedAdapter` sits where a request is about to be put on a connection: whatever built the URL (our code,
azure-core, a redirect), the host urllib3 will connect to must be one the app allowed, or nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

# Checks a request's final URL; raises TargetRejected to stop it (see shared.targets.TargetGuard).
UrlCheck = Callable[[str], None]


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter that runs `check(url)` before every request it sends, redirects and retries included."""

    def __init__(self, *, check: UrlCheck, pool_connections: int, pool_maxsize: int) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)
        self._check = check

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self._check(request.url or "")
        return super().send(request, *args, **kwargs)


def guarded_session(
    *, check: UrlCheck, pool_connections: int, pool_maxsize: int, trust_env: bool,
    headers: Mapping[str, str] | None = None,
) -> requests.Session:
    session = requests.Session()
    session.trust_env = trust_env
    adapter = GuardedAdapter(check=check, pool_connections=pool_connections, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if headers:
        session.headers.update(headers)
    return session


class ReadBudgetExceeded(Exception):
    """The body did not arrive within the time budget (`timed_out`) or is larger than allowed."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def read_bounded(
    response: requests.Response, *, remaining: Callable[[], float], max_bytes: int, read_timeout: float,
    piece_bytes: int = 64 * 1024,
) -> bytes:
    """The body of a `stream=True` response, read under a deadline and a size limit.

    requests' read timeout applies to each socket read, so a server that sends a byte every few hundred
    milliseconds would hold a plain `response.content` for ever. Here every read waits at most what is left
    of the budget (`remaining()` seconds), one socket read at a time, and the connection is dropped as soon
    as the budget or the size limit is passed."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise ReadBudgetExceeded(f"the answer is larger than {max_bytes} bytes", timed_out=False)
    raw = response.raw
    body = bytearray()
    try:
        while True:
            left = remaining()
            if left <= 0:
                raise ReadBudgetExceeded("the answer did not arrive within the time budget", timed_out=True)
            _set_socket_timeout(raw, min(read_timeout, left))
            try:
                piece = raw.read1(piece_bytes)
            except Exception as exc:  # urllib3's ReadTimeoutError, ProtocolError, ...
                timed_out = "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
                raise ReadBudgetExceeded(f"reading the answer failed ({type(exc).__name__})",
                                         timed_out=timed_out) from None
            if not piece:
                raw.release_conn()  # the whole body was read: the connection may serve the next request
                return bytes(body)
            body += piece
            if len(body) > max_bytes:
                raise ReadBudgetExceeded(f"the answer is larger than {max_bytes} bytes", timed_out=False)
    except BaseException:
        response.close()  # a half-read body must not go back to the pool
        raise


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))
