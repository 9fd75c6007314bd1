"""Where the poller writes a job's files, with which credential, and the clients that do it.

- The job's output container, with the SAS of its `outputBlobContainerUri` when it has one; without one
  (identityBased jobs, or a URI whose `sig` came back redacted) with the function's managed identity.
- MONITOR_CONTAINER puts the files in that container of the same storage account instead. A container SAS
  cannot open another container, so there the managed identity is used unless the URI carries an account
  SAS (`ss=` and `srt=`).
- Only hosts on MONITOR_STORAGE_HOST_ALLOWLIST are ever contacted (writes, and reading importErrors.log);
  plain http only to loopback hosts (the devstack's Azurite). A job pointing elsewhere is rejected here,
  before any client exists, so no token or data can be sent there.

TLS: every client shares one requests.Session with `trust_env` on, so `REQUESTS_CA_BUNDLE` is honoured
(azure-core passes `verify=True`, which requests replaces with that bundle). The devstack's HTTPS Azurite
with its self-signed certificate is trusted that way; nothing is needed in Azure.
"""

from __future__ import annotations

import random
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from shared.credentials import managed_identity_credential
from shared.jobs import StorageAuthenticationType
from shared.redaction import REDACTED
from shared.settings import PollerSettings, StateStorage

if TYPE_CHECKING:
    from azure.core.pipeline import PipelineRequest
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import BlobServiceClient, ContainerClient

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CONNECTION_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
RETRY_TOTAL = 2  # azure-storage's default (3 tries, 15 s apart) would eat the tick's budget
RETRY_BACKOFF_SECONDS = 0.5
MIN_TRY_SECONDS = 0.5  # a call started just before the deadline still gets one try this long
# Download in pieces this big so an importErrors.log of any size is read in bounded memory (the
# download path briefly holds several copies of a piece: about 10x, measured by bench/bench_poller.py).
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
POOL_SIZE = 64


class TargetRejected(Exception):
    """The job's container URI cannot or must not be used; `reason` says why (never the SAS)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class ContainerRef:
    """A container and how to open it. `sas` never shows in repr or `describe()`."""

    account_url: str
    container: str
    host: str
    sas: str | None = field(default=None, repr=False)

    @property
    def uses_identity(self) -> bool:
        return self.sas is None

    def describe(self) -> str:
        return f"{self.account_url}/{self.container}"


@dataclass(frozen=True, kw_only=True)
class JobTargets:
    """`monitor`: where the poller's files go; `output`: the job's own output container (importErrors.log)."""

    monitor: ContainerRef
    output: ContainerRef

    def with_identity(self) -> JobTargets | None:
        """The same containers opened with the managed identity instead of the SAS (which storage refused,
        typically because it expired); None where the identity cannot be used (it requires https)."""
        if self.monitor.uses_identity and self.output.uses_identity:
            return None
        monitor, output = (
            ContainerRef(account_url=ref.account_url, container=ref.container, host=ref.host)
            for ref in (self.monitor, self.output)
        )
        if not monitor.account_url.startswith("https://") or not output.account_url.startswith("https://"):
            return None
        return JobTargets(monitor=monitor, output=output)


# What storage answers (403) when it refuses a SAS: expired, not yet valid, wrong signature or permissions.
SAS_REFUSED_CODES = frozenset({"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch"})


def sas_refused(exc: BaseException) -> bool:
    """True if storage refused the request's credential (HTTP 403 with an authentication/authorization code)."""
    from azure.core.exceptions import HttpResponseError

    if not isinstance(exc, HttpResponseError) or exc.status_code != 403:
        return False
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code)) in SAS_REFUSED_CODES


def _usable_sas(query: str) -> str | None:
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    signature = params.get("sig", [""])[0]
    if not signature or signature == REDACTED:
        return None
    return query


def _is_account_sas(sas: str) -> bool:
    params = urllib.parse.parse_qs(sas)
    return "ss" in params and "srt" in params


def parse_container_uri(uri: object, settings: PollerSettings, *, field_name: str) -> ContainerRef:
    """A container URI checked against the allowlist. Path-style URIs (`/account/container`, Azurite) too."""
    if not isinstance(uri, str) or not uri.strip():
        raise TargetRejected(f"{field_name} is missing")
    try:
        parts = urllib.parse.urlsplit(uri.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise TargetRejected(f"{field_name} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRejected(f"{field_name} is not an http(s) URL")
    if not settings.host_allowed(host):
        raise TargetRejected(f"storage host {host} is not on the allowlist")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise TargetRejected(f"storage host {host} is plain http (only loopback hosts may be)")
    if parts.username or parts.password:
        raise TargetRejected(f"{field_name} carries user information")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise TargetRejected(f"{field_name} names no container")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    account_path = "/".join(urllib.parse.quote(s, safe="") for s in segments[:-1])
    account_url = f"{parts.scheme}://{netloc}" + (f"/{account_path}" if account_path else "")
    container = urllib.parse.unquote(segments[-1])
    return ContainerRef(account_url=account_url, container=container, host=host, sas=_usable_sas(parts.query))


def job_targets(job: Mapping[str, Any], settings: PollerSettings) -> JobTargets:
    """Where this job's monitor files go and where its output is read; raises TargetRejected."""
    output = parse_container_uri(job.get("outputBlobContainerUri"), settings, field_name="outputBlobContainerUri")
    identity_based = str(job.get("storageAuthenticationType", "")).lower() == (
        StorageAuthenticationType.IDENTITY_BASED.value.lower()
    )
    if identity_based and output.sas is not None:
        # The hub uses its own identity for this job; a SAS left in the URI is not ours to rely on.
        output = ContainerRef(account_url=output.account_url, container=output.container, host=output.host)
    monitor = output
    if settings.container is not None and settings.container != output.container:
        sas = output.sas if output.sas is not None and _is_account_sas(output.sas) else None
        monitor = ContainerRef(account_url=output.account_url, container=settings.container, host=output.host, sas=sas)
    for ref in (monitor, output):
        if ref.uses_identity and ref.account_url.startswith("http://"):
            raise TargetRejected(f"storage host {ref.host} needs the managed identity, which requires https")
    return JobTargets(monitor=monitor, output=output)


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


def _short_retry() -> Any:
    from azure.storage.blob import LinearRetry

    class ShortRetry(LinearRetry):
        """azure-storage's LinearRetry with sub-second, jittered waits (its own take whole seconds)."""

        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            return RETRY_BACKOFF_SECONDS * (0.5 + random.random())  # noqa: S311 - jitter, not crypto

    return ShortRetry(retry_total=RETRY_TOTAL)


class BlobClients:
    """azure-storage-blob clients sharing one pooled session; short retries so a tick keeps its budget.

    `request_hook` is called with every request sent (azure-storage's `raw_request_hook`; the benchmark
    counts storage operations with it).
    """

    def __init__(
        self,
        *,
        storage_client_id: str | None,
        request_hook: Callable[[PipelineRequest[Any]], None] | None = None,
    ) -> None:
        self._client_id = storage_client_id
        self._request_hook = request_hook
        self._lock = threading.Lock()
        self._transport: RequestsTransport | None = None

    def _shared_transport(self) -> RequestsTransport:
        from azure.core.pipeline.transport import RequestsTransport

        with self._lock:
            if self._transport is None:
                session = requests.Session()
                session.trust_env = True  # REQUESTS_CA_BUNDLE (devstack certificates), proxies
                adapter = HTTPAdapter(pool_connections=16, pool_maxsize=POOL_SIZE, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._transport = RequestsTransport(session=session, session_owner=False)
            return self._transport

    def _options(self) -> dict[str, Any]:
        return {
            "transport": self._shared_transport(),
            "retry_policy": _short_retry(),
            "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
            "max_single_get_size": DOWNLOAD_CHUNK_BYTES,
            "max_chunk_get_size": DOWNLOAD_CHUNK_BYTES,
            "raw_request_hook": self._request_hook,
        }

    def container(self, ref: ContainerRef) -> ContainerClient:
        from azure.storage.blob import ContainerClient

        if ref.sas is not None:
            return ContainerClient.from_container_url(
                f"{ref.account_url}/{urllib.parse.quote(ref.container)}?{ref.sas}", **self._options()
            )
        credential = managed_identity_credential(self._client_id)
        return ContainerClient(ref.account_url, ref.container, credential=credential, **self._options())

    def state_service(self, storage: StateStorage) -> BlobServiceClient:
        """AzureWebJobsStorage: by connection string, or by account URL with the managed identity."""
        from azure.storage.blob import BlobServiceClient

        if storage.connection_string is not None:
            return BlobServiceClient.from_connection_string(storage.connection_string, **self._options())
        if storage.account_url is None:
            raise TargetRejected("no state storage configured")
        # The identity the host itself uses for AzureWebJobsStorage, when it names a user-assigned one.
        client_id = storage.client_id or self._client_id
        return BlobServiceClient(
            storage.account_url, credential=managed_identity_credential(client_id), **self._options()
        )
