"""The storage clients the poller uses: one pooled session per process, short retries, bounded timeouts,
and a guard on every request (see shared/http/targets.py).

Every client carries a `TargetGuard` (azure-storage's request hook, the policy just before its credential
policy, on every try) and the shared session's adapter refuses any host no client was built for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline
from shared.credentials import managed_identity_credential
from shared.errors import JobMonitorError, TargetRejected, TickBudgetExhausted
from shared.http.sessions import guarded_session, tls_verify
from shared.http.targets import Endpoint, TargetGuard, parse_uri
from shared.poller.targets import Access, Credential
from shared.settings import StateStorage

if TYPE_CHECKING:
    from azure.core.pipeline import PipelineRequest, PipelineResponse
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import ContainerClient

CONNECTION_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
RETRY_TOTAL = 2  # azure-storage's default (3 tries, 15 s apart) would eat the tick's budget
RETRY_BACKOFF_SECONDS = 0.5
MIN_TRY_SECONDS = 0.5  # a call started just before the deadline still gets one try this long
# Download in pieces this big so an importErrors.log of any size is read in bounded memory (the
# download path briefly holds several copies of a piece: about 10x, measured by bench/bench_poller.py).
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
POOL_SIZE = 64

# What storage answers (403) when it refuses a request's credential: a bad or expired SAS
# (AuthenticationFailed), a missing role (AuthorizationPermissionMismatch), a firewall (AuthorizationFailure).
SAS_REFUSED_CODES = frozenset({"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch"})


def sas_refused(exc: BaseException) -> bool:
    """True if storage refused the request's credential (HTTP 403 with an authentication/authorization code)."""
    from azure.core.exceptions import HttpResponseError

    if not isinstance(exc, HttpResponseError) or exc.status_code != 403:
        return False
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code)) in SAS_REFUSED_CODES


def check_deadline(deadline: Deadline) -> None:
    """No storage call starts after the tick's deadline: what is left stays pending for the next tick."""
    if deadline.remaining() <= 0:
        raise TickBudgetExhausted


def call_options(deadline: Deadline) -> dict[str, Any]:
    """Timeouts (and retries) of one storage call, bounded by what is left of the tick's budget."""
    return request_options(deadline.remaining())


def blob_size(properties: Any) -> int:
    """The whole blob's size from a ranged download's properties (`Content-Range: bytes 0-99/12345`)."""
    content_range = getattr(properties, "content_range", None)
    if isinstance(content_range, str) and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(getattr(properties, "size", 0) or 0)


def not_found(exc: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def storage_error_text(exc: Exception) -> str:
    """What went wrong, without the request URL (it may carry a SAS): status and error code only."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None)
        code = getattr(code, "value", code)  # azure-storage's StorageErrorCode enum: its value, not its name
        return f"HTTP {exc.status_code} {code or exc.reason or ''}".strip()
    if isinstance(exc, JobMonitorError):
        return f"{type(exc).__name__}: {exc}"  # the app's own messages never carry a secret
    return type(exc).__name__


def read_bounded_blob(
    container: ContainerClient, name: str, *, max_bytes: int, deadline: Deadline
) -> tuple[bytes, dict[str, str]]:
    """A small blob's content (a stored report) and metadata, refused beyond `max_bytes`."""
    downloader = container.download_blob(name, offset=0, length=max_bytes + 1, **call_options(deadline))
    data = downloader.readall()
    if len(data) > max_bytes:
        raise TargetRejected(f"{name} is larger than {max_bytes} bytes")
    return bytes(data), dict(downloader.properties.metadata or {})


def request_options(remaining_seconds: float) -> dict[str, Any]:
    """Per-operation options so that one storage call, its retries and their waits included, fits in what
    is left of the tick's budget (the client-wide timeouts are only the upper bounds of each try)."""
    tries = RETRY_TOTAL + 1
    per_try = (remaining_seconds - RETRY_TOTAL * RETRY_BACKOFF_SECONDS * 1.5) / tries
    options: dict[str, Any] = {}
    if per_try < 1.0:  # too little left for retries: one try with whatever is left
        per_try = max(MIN_TRY_SECONDS, remaining_seconds)
        options["retry_total"] = 0
    options["connection_timeout"] = min(CONNECTION_TIMEOUT_SECONDS, per_try)
    options["read_timeout"] = min(READ_TIMEOUT_SECONDS, per_try)
    return options


class BlobClients:
    """azure-storage-blob clients sharing one pooled session; short retries so a tick keeps its budget.

    `request_hook` is called with every request about to be sent, after the guard; `response_hook` with every
    response (the benchmark counts storage operations with them, the chaos soak injects faults).
    """

    def __init__(
        self,
        *,
        storage_client_id: str | None,
        request_hook: Callable[[PipelineRequest[Any]], None] | None = None,
        response_hook: Callable[[PipelineResponse[Any, Any]], None] | None = None,
    ) -> None:
        self._client_id = storage_client_id
        self._request_hook = request_hook
        self._response_hook = response_hook
        self._lock = threading.Lock()
        self._transport: RequestsTransport | None = None
        self._endpoints: set[tuple[str, str, int]] = set()  # every endpoint a client was built for

    def _check_url(self, url: str) -> None:
        """The session's last check: a host no client was built for is never contacted."""
        from urllib3.util import parse_url

        parsed = parse_url(url)
        endpoint = Endpoint(scheme=(parsed.scheme or "").lower(), host=(parsed.host or "").lower().strip("[]"),
                            port=parsed.port)
        with self._lock:
            allowed = (endpoint.scheme, endpoint.host, endpoint.effective_port()) in self._endpoints
        if parsed.auth is not None or not allowed:
            raise TargetRejected(f"a storage request to {endpoint.origin} was refused: no client was built for it")

    def _allow(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._endpoints.add((endpoint.scheme, endpoint.host, endpoint.effective_port()))

    def _shared_transport(self) -> RequestsTransport:
        """The transport every client of this process shares (built once)."""
        from azure.core.pipeline.transport import RequestsTransport

        with self._lock:
            if self._transport is None:
                session = guarded_session(check=self._check_url, pool_connections=16, pool_maxsize=POOL_SIZE)
                # azure-core passes `verify` with every request, from the transport's own configuration: the
                # one TLS rule of shared/http/sessions.py goes there.
                self._transport = RequestsTransport(session=session, session_owner=False,
                                                    connection_verify=tls_verify())
            return self._transport

    def _options(self, guard: TargetGuard) -> dict[str, Any]:
        counting = self._request_hook

        def hook(request: PipelineRequest[Any]) -> None:
            guard.check(request.http_request.url)
            if counting is not None:
                counting(request)

        from azure.storage.blob import LinearRetry

        return {
            "transport": self._shared_transport(),
            # One per client: a policy is a link of its pipeline's chain, so an instance shared by two clients
            # would send one client's requests on through the other's policies (its guard refused them).
            # Sub-second jittered waits: azure-storage's default (3 tries, 15 s apart) would eat the budget.
            # Its annotations say int, but it draws the wait with random.uniform: floats work.
            "retry_policy": LinearRetry(
                backoff=RETRY_BACKOFF_SECONDS,  # type: ignore[arg-type]
                random_jitter_range=RETRY_BACKOFF_SECONDS / 2,  # type: ignore[arg-type]
                retry_total=RETRY_TOTAL,
            ),
            "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
            "max_single_get_size": DOWNLOAD_CHUNK_BYTES,
            "max_chunk_get_size": DOWNLOAD_CHUNK_BYTES,
            # azure-storage calls this from StorageRequestHook, the policy just before its credential policy,
            # on every try: a request that would leave for another place stops here, before any token is added.
            "raw_request_hook": hook,
            "raw_response_hook": self._response_hook,
            # Never follow a redirect: storage does not send them, and one could lead elsewhere.
            "permit_redirects": False,
        }

    def container(self, access: Access) -> ContainerClient:
        from azure.storage.blob import ContainerClient

        target = access.target
        self._allow(target.endpoint)
        guard = TargetGuard(target.endpoint, path_prefix=f"{target.account_path}/{target.container}")
        if access.credential is Credential.SAS:
            if target.sas is None:
                raise TargetRejected(f"{target.url} has no SAS")
            return ContainerClient(target.account_url, target.container, credential=target.sas, **self._options(guard))
        credential = managed_identity_credential(self._client_id)
        return ContainerClient(target.account_url, target.container, credential=credential, **self._options(guard))

    def state_container(self, storage: StateStorage, container: str) -> ContainerClient:
        """The state container in AzureWebJobsStorage: by connection string, or by account URL and identity."""
        from azure.storage.blob import ContainerClient

        if storage.connection_string is not None:
            client = ContainerClient.from_connection_string(storage.connection_string, container)
            account_url = client.primary_endpoint.rsplit("/", 1)[0]
        elif storage.account_url is not None:
            account_url = storage.account_url
        else:
            raise TargetRejected("no state storage configured")
        parsed = parse_uri(account_url, what="AzureWebJobsStorage")
        self._allow(parsed.endpoint)
        guard = TargetGuard(parsed.endpoint, path_prefix=f"{parsed.path.rstrip('/')}/{container}")
        if storage.connection_string is not None:
            return ContainerClient.from_connection_string(storage.connection_string, container, **self._options(guard))
        # The identity the host itself uses for AzureWebJobsStorage, when it names a user-assigned one.
        credential = managed_identity_credential(storage.client_id or self._client_id)
        return ContainerClient(account_url, container, credential=credential, **self._options(guard))
