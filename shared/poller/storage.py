"""The storage clients the poller uses: one pooled session per process, short retries, bounded timeouts,
and a guard on every request (see shared/http/targets.py).

Every client carries a `TargetGuard` (azure-storage's request hook, the policy just before its credential
policy, on every try) and the shared session's adapter refuses any host no client was built for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.blob_reads import STORED_BYTES, BodyRefused, Cut, StoredBody, read_whole
from shared.clock import Deadline
from shared.credentials import managed_identity_credential
from shared.errors import JobMonitorError, TargetRejected, TickBudgetExhausted
from shared.http.sessions import guarded_session, tls_verify
from shared.http.targets import Endpoint, TargetGuard, parse_uri
from shared.poller.targets import Access, Credential
from shared.reports.failure_reasons import Hint
from shared.settings import StateStorage

if TYPE_CHECKING:
    from azure.core.pipeline import PipelineRequest, PipelineResponse
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import BlobClient, BlobProperties, ContainerClient

CONNECTION_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
RETRY_TOTAL = 2  # azure-storage's default (3 tries, 15 s apart) would eat the tick's budget
RETRY_BACKOFF_SECONDS = 0.5
MIN_TRY_SECONDS = 0.5  # a call started just before the deadline still gets one try this long
# Download in pieces this big so an importErrors.log of any size is read in bounded memory (the
# download path briefly holds several copies of a piece: about 10x, measured by bench/bench_poller.py).
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
POOL_SIZE = 64
# Storage refuses a ranged read of an empty blob (416 InvalidRange): the reader decides what empty means.
EMPTY_BLOB_RANGE_CODE = "InvalidRange"
# A job's folder holds one snapshot per (status, progress) the poller saw: at most a few hundred for a real job.
MAX_FOLDER_BLOBS = 10_000
LIST_PAGE_SIZE = 1000

class StorageRefusal(str, Enum):
    """Why storage answered 403, by its error code (`.value`). They look alike and call for different fixes:

    - FIREWALL (AuthorizationFailure): the account's firewall or network rules refused the caller, whatever its
      credential. No credential helps: the managed identity is never tried instead (it cannot pass a firewall).
    - SAS_REFUSED (AuthenticationFailed): a bad or expired SAS (or a token storage could not authenticate).
      The only refusal after which the identity may take over, and only where the operator listed the
      container (shared/poller/targets.py).
    - PERMISSION (AuthorizationPermissionMismatch): the credential was accepted but may not do this: an
      identity without a data role, or a SAS without the permission.
    - SHARED_KEY_DISALLOWED (KeyBasedAuthenticationNotPermitted): the account allows no Shared Key, so it refuses
      every SAS but a user-delegation SAS. SOURCE_IP_MISMATCH (AuthorizationSourceIPMismatch): the SAS's `sip`
      excludes the caller. PROTOCOL_MISMATCH (AuthorizationProtocolMismatch): a `spr=https` SAS sent over http.
      Each is the SAS's own limit, told apart so the advice fits (storage error codes).
    """

    FIREWALL = "AuthorizationFailure"
    SAS_REFUSED = "AuthenticationFailed"
    PERMISSION = "AuthorizationPermissionMismatch"
    SHARED_KEY_DISALLOWED = "KeyBasedAuthenticationNotPermitted"
    SOURCE_IP_MISMATCH = "AuthorizationSourceIPMismatch"
    PROTOCOL_MISMATCH = "AuthorizationProtocolMismatch"


APP_STORAGE_ROLE = "Storage Blob Data Contributor"


def storage_error_code(exc: BaseException) -> str | None:
    """Storage's error code (`x-ms-error-code`) of an azure-core HttpResponseError, as a plain string."""
    from azure.core.exceptions import HttpResponseError

    if not isinstance(exc, HttpResponseError):
        return None
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # azure-storage's StorageErrorCode enum: its value, not its name
    return str(code) if code else None


def storage_refusal(exc: BaseException) -> StorageRefusal | None:
    """Which kind of 403 refusal `exc` is; None for anything else."""
    from azure.core.exceptions import HttpResponseError

    if not isinstance(exc, HttpResponseError) or exc.status_code != 403:
        return None
    code = storage_error_code(exc)
    return next((refusal for refusal in StorageRefusal if refusal.value == code), None)


def sas_refused(exc: BaseException) -> bool:
    """True if storage refused the request's SAS as such (403 AuthenticationFailed): the one refusal after
    which the writer may retry with the managed identity, where that is allowed. A firewall
    (AuthorizationFailure) or a missing permission (AuthorizationPermissionMismatch) is not: the identity
    cannot pass the one and is no answer to the other."""
    return storage_refusal(exc) is StorageRefusal.SAS_REFUSED


@dataclass(frozen=True, kw_only=True)
class StorageHint:
    """What to do about a storage error: `key` is a hint key of docs/operations.md, `text` the advice."""

    key: str
    text: str
    code: str


def list_refused(exc: BaseException, access: Access) -> bool:
    """Storage refused to list through a job's own SAS that grants no List: IoT Hub needs Read, Write and Delete on
    its output container, and a SAS made for it often stops there. The writes work; only the folder cannot be
    looked at."""
    return not access.uses_identity and storage_refusal(exc) is StorageRefusal.PERMISSION


def storage_error_hint(exc: BaseException, access: Access | None = None) -> StorageHint | None:
    """The hint for a storage refusal met while reading or writing through `access` (its credential and
    container make the advice precise); None when `exc` is no 403 refusal."""
    refusal = storage_refusal(exc)
    if refusal is None:
        return None
    where = access.target.url if access is not None else "the container"
    identity = access is not None and access.uses_identity
    if refusal is StorageRefusal.FIREWALL:
        hint = Hint.STORAGE_FIREWALL
        return StorageHint(key=hint.key, code=refusal.value, text=(
            f"{hint.advice} Refused: {where}. The template's vnetSubnetId gives the app VNet integration; then add "
            "a private endpoint to the account or a rule for that subnet (docs/deploy.md, \"Firewalled output "
            "storage\")."))
    if refusal in _SAS_LIMITS:
        return StorageHint(key=Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS.key, code=refusal.value,
                           text=f"{_SAS_LIMITS[refusal]} Refused: {where}.")
    if refusal is StorageRefusal.PERMISSION and identity:
        hint = Hint.APP_IDENTITY_LACKS_STORAGE_ROLE
        return StorageHint(key=hint.key, code=refusal.value, text=(
            f"Storage accepted the monitor's managed identity but refused the operation (403 "
            f"AuthorizationPermissionMismatch): give the identity '{APP_STORAGE_ROLE}' on the container {where} "
            "(or on its storage account)."))
    if refusal is StorageRefusal.PERMISSION:
        hint = Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
        return StorageHint(key=hint.key, code=refusal.value, text=(
            f"The job's SAS for {where} lacks a permission the monitor needs (403 AuthorizationPermissionMismatch):"
            " it writes with Create and Write and reads the errors log with Read (and lists the job's folder with "
            "List when it may). A SAS with Read, Write and Delete, as IoT Hub needs for the output container, is "
            "enough."))
    if identity:
        return StorageHint(key=Hint.UNKNOWN.key, code=refusal.value, text=(
            f"Storage could not authenticate the monitor's managed-identity token for {where} (403 "
            "AuthenticationFailed): check that the account is in the app's tenant and cloud (AZURE_CLOUD)."))
    hint = Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    return StorageHint(key=hint.key, code=refusal.value, text=(
        f"Storage refused the job's SAS for {where} (403 AuthenticationFailed): it has expired or its signature "
        "is wrong. The monitor writes with the managed identity instead only where MONITOR_IDENTITY_CONTAINERS "
        "lists the container."))


# The SAS's own limits (storage error codes), each with its fix.
_SAS_LIMITS = {
    StorageRefusal.SHARED_KEY_DISALLOWED: (
        "The storage account disallows Shared Key authorization (403 KeyBasedAuthenticationNotPermitted), so it "
        "refuses every SAS signed with an account key: give the job a user-delegation SAS, or list the container "
        "in MONITOR_IDENTITY_CONTAINERS and grant the monitor's jobs identity 'Storage Blob Data Contributor' on "
        "it."),
    StorageRefusal.SOURCE_IP_MISMATCH: (
        "The job's SAS is limited to IP addresses the monitor does not call from (403 "
        "AuthorizationSourceIPMismatch, the SAS's sip field): issue the SAS without sip, or with a range that "
        "holds the app's outbound addresses (fixed only with VNet integration and a NAT gateway)."),
    StorageRefusal.PROTOCOL_MISMATCH: (
        "The job's SAS allows HTTPS only and was sent over plain http (403 AuthorizationProtocolMismatch, the "
        "SAS's spr=https): the container URI must be https."),
}


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
        return f"HTTP {exc.status_code} {storage_error_code(exc) or exc.reason or ''}".strip()
    if isinstance(exc, JobMonitorError):
        return f"{type(exc).__name__}: {exc}"  # the app's own messages never carry a secret
    return type(exc).__name__


def list_folder(
    container: ContainerClient, prefix: str, *, deadline: Deadline, limit: int | None = None
) -> list[BlobProperties]:
    """The blobs (with metadata) under `prefix` of a job's container, a page at a time under the deadline.

    Whoever writes the job's container can fill a folder: more than `limit` (default MAX_FOLDER_BLOBS) blobs
    is refused, not collected."""
    limit = MAX_FOLDER_BLOBS if limit is None else limit
    blobs: list[BlobProperties] = []
    pages = container.list_blobs(name_starts_with=prefix, include=["metadata"],
                                 results_per_page=min(limit + 1, LIST_PAGE_SIZE), **call_options(deadline)).by_page()
    for page in pages:
        blobs.extend(page)
        if len(blobs) > limit:
            raise TargetRejected(f"more than {limit} blobs under {prefix}")
        check_deadline(deadline)
    return blobs


def read_bounded_blob(
    container: ContainerClient, name: str, *, max_bytes: int, deadline: Deadline
) -> tuple[bytes, dict[str, str]]:
    """A small blob's content (a stored report, a snapshot) and metadata, refused (BodyRefused, a TargetRejected)
    beyond `max_bytes` once decoded, past the deadline, or in an encoding we do not decode (shared/blob_reads.py)."""
    downloader = container.download_blob(name, offset=0, length=max_bytes + 1, **call_options(deadline),
                                         **STORED_BYTES)
    try:
        data = read_whole(downloader, name=name, max_bytes=max_bytes, expired=lambda: deadline.expired)
    except BodyRefused as refused:
        if refused.cut is Cut.TIME:
            raise TickBudgetExhausted from None  # out of time, not a bad blob: the next tick reads it again
        raise
    return data, dict(downloader.properties.metadata or {})


def open_body(blob: BlobClient, *, max_bytes: int, deadline: Deadline) -> StoredBody:
    """A blob's body, read as it is iterated: at most `max_bytes` decoded, until the deadline (StoredBody says
    where and why it stopped). The download asks for at most `max_bytes` stored bytes too."""
    downloader = blob.download_blob(offset=0, length=max_bytes, **call_options(deadline), **STORED_BYTES)
    return StoredBody(downloader, max_bytes=max_bytes, expired=lambda: deadline.expired)


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
        # The identity the host itself uses for AzureWebJobsStorage (__clientId, else the system-assigned one),
        # never the jobs identity (MONITOR_STORAGE_CLIENT_ID), which holds no role on the app's own account.
        credential = managed_identity_credential(storage.client_id)
        return ContainerClient(account_url, container, credential=credential, **self._options(guard))
