"""One way to talk HTTP: the sessions every outbound call uses (the hub client's and the storage clients'),
with the same rules, stated here once.

- **No environment**: `trust_env` is off. No proxy, `.netrc` or CA bundle is picked up from the environment
  per request (requests would also scan `os.environ` on every call, measured at 0.3 ms): where the app's
  credentials go is decided by settings alone.
- **TLS**: the default CA store. `tls_verify()` is the one exception, for the devstack's self-signed
  certificate: `REQUESTS_CA_BUNDLE`, read once when a session is built (never set it in Azure: it replaces
  the default store). The hub session takes it as `session.verify`; azure-core passes `verify` with every
  request, so the storage clients take it as `connection_verify`.
- **Timeouts**: every call has connect and read timeouts cut to what is left of its budget, and bodies are
  read with `read_bounded` (the read timeout alone is per socket read).
- **The last check**: `GuardedAdapter` sits where a request is put on a connection: whatever built the URL
  (our code, azure-core, a redirect), the host urllib3 will connect to must be one the app allowed, or
  nothing is sent. Retries are ours (never urllib3's) and redirects are never followed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from shared.errors import BodyReadError

CA_BUNDLE_VARIABLE = "REQUESTS_CA_BUNDLE"
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


def tls_verify() -> str | bool:
    """What to verify server certificates with: the default CA store, or the devstack's bundle."""
    return os.environ.get(CA_BUNDLE_VARIABLE) or True


def guarded_session(
    *, check: UrlCheck, pool_connections: int, pool_maxsize: int, headers: Mapping[str, str] | None = None,
) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    # Bodies are read raw (read_bounded): a compressed answer would be undecodable there, and its size limit
    # would bound the compressed bytes, not what is parsed.
    session.headers["Accept-Encoding"] = "identity"
    session.verify = tls_verify()
    adapter = GuardedAdapter(check=check, pool_connections=pool_connections, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if headers:
        session.headers.update(headers)
    return session


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
        raise BodyReadError(f"the answer is larger than {max_bytes} bytes", timed_out=False)
    raw = response.raw
    body = bytearray()
    try:
        while True:
            left = remaining()
            if left <= 0:
                raise BodyReadError("the answer did not arrive within the time budget", timed_out=True)
            _set_socket_timeout(raw, min(read_timeout, left))
            try:
                piece = raw.read1(piece_bytes)
            except Exception as exc:  # urllib3's ReadTimeoutError, ProtocolError, ...
                timed_out = "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
                raise BodyReadError(f"reading the answer failed ({type(exc).__name__})",
                                         timed_out=timed_out) from None
            if not piece:
                raw.release_conn()  # the whole body was read: the connection may serve the next request
                return bytes(body)
            body += piece
            if len(body) > max_bytes:
                raise BodyReadError(f"the answer is larger than {max_bytes} bytes", timed_out=False)
    except BaseException:
        response.close()  # a half-read body must not go back to the pool
        raise


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))
