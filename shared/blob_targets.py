"""Where the poller writes a job's files, with which credential, and the clients that do it.

The job is written by whoever may create jobs on a hub, so every URI in it is untrusted. The rules:
- A container URI passes the one target parser (shared.targets) or the job is skipped.
- Its host must be on MONITOR_STORAGE_HOST_ALLOWLIST or in an account of MONITOR_IDENTITY_CONTAINERS.
- The job's own SAS is used for the job's own output container, and for nothing else.
- The app's managed identity is used only for containers the operator listed in MONITOR_IDENTITY_CONTAINERS
  (a container, or `*` for every container of an account), over https, never for a reserved container
  (the Functions host's, deployment packages, the app's own state). A refused SAS never widens that: the
  identity takes over only where it was allowed anyway; elsewhere the job is skipped.
- MONITOR_CONTAINER (a sibling container of the output's account) is always written with the identity,
  so it must be listed too.

Every client carries a `TargetGuard` (azure-storage's request hook, the policy just before its credential
policy, on every try) and the shared session's adapter refuses any host no client was built for.

TLS: every client shares one requests.Session with `trust_env` on, so `REQUESTS_CA_BUNDLE` is honoured
(azure-core passes `verify=True`, which requests replaces with that bundle). The devstack's HTTPS Azurite
with its self-signed certificate is trusted that way; nothing is needed in Azure.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.credentials import managed_identity_credential
from shared.errors import TargetRejected
from shared.jobs import StorageAuthenticationType
from shared.sessions import guarded_session
from shared.settings import PollerSettings, StateStorage
from shared.targets import ContainerTarget, Endpoint, TargetGuard, parse_container_uri, parse_uri, reserved_container

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


class Credential(str, Enum):
    SAS = "sas"  # the job's own SAS, for the job's own container only
    IDENTITY = "identity"  # the app's managed identity, only where MONITOR_IDENTITY_CONTAINERS allows


@dataclass(frozen=True, kw_only=True)
class Access:
    """A container and the credential to open it with."""

    target: ContainerTarget
    credential: Credential

    @property
    def uses_identity(self) -> bool:
        return self.credential is Credential.IDENTITY

    def describe(self) -> str:
        return self.target.url


@dataclass(frozen=True, kw_only=True)
class JobTargets:
    """`monitor`: where the poller's files go. `output`: the job's own output container, where
    importErrors.log is read (None when no allowed credential can read it). `fallback`: the same with the
    identity instead of a SAS that storage refused (None when the identity is not allowed there)."""

    monitor: Access
    output: Access | None
    fallback: JobTargets | None = None

    @property
    def uses_sas(self) -> bool:
        return not self.monitor.uses_identity or (self.output is not None and not self.output.uses_identity)

    def with_identity(self) -> JobTargets | None:
        return self.fallback


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


def job_targets(job: Mapping[str, Any], settings: PollerSettings) -> JobTargets:
    """Where this job's monitor files go and where its output is read; raises TargetRejected."""
    output = parse_container_uri(job.get("outputBlobContainerUri"), what="outputBlobContainerUri")
    if not settings.host_allowed(output.endpoint):
        raise TargetRejected(f"storage host {output.endpoint.host} is not on the allowlist")
    identity_based = str(job.get("storageAuthenticationType", "")).lower() == (
        StorageAuthenticationType.IDENTITY_BASED.value.lower()
    )
    if identity_based:
        # The hub uses its own identity for this job; a SAS left in the URI is not ours to rely on.
        output = output.without_sas()
    plain = output.without_sas()
    identity_output = Access(target=plain, credential=Credential.IDENTITY) if settings.identity_allows(plain) else None
    sas_output = Access(target=output, credential=Credential.SAS) if output.sas is not None else None
    if settings.container is not None and settings.container != output.container:
        sibling = output.sibling(settings.container)
        if not settings.identity_allows(sibling):
            raise TargetRejected(
                f"MONITOR_CONTAINER {sibling.url} is not in MONITOR_IDENTITY_CONTAINERS (it is written with the "
                "app's identity)"
            )
        monitor = Access(target=sibling, credential=Credential.IDENTITY)
        return JobTargets(
            monitor=monitor, output=sas_output or identity_output,
            fallback=JobTargets(monitor=monitor, output=identity_output) if sas_output is not None else None,
        )
    if reserved_container(output.container, own=settings.own_containers):
        raise TargetRejected(f"container {output.container} is reserved (the Functions host's or this app's own)")
    if sas_output is not None:
        fallback = JobTargets(monitor=identity_output, output=identity_output) if identity_output else None
        return JobTargets(monitor=sas_output, output=sas_output, fallback=fallback)
    if identity_output is not None:
        return JobTargets(monitor=identity_output, output=identity_output)
    raise TargetRejected(
        f"{plain.url} has no usable SAS and is not in MONITOR_IDENTITY_CONTAINERS (the app's identity writes only "
        "where the operator listed)"
    )


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
        from azure.core.pipeline.transport import RequestsTransport

        with self._lock:
            if self._transport is None:
                # trust_env: REQUESTS_CA_BUNDLE (devstack certificates).
                session = guarded_session(check=self._check_url, pool_connections=16, pool_maxsize=POOL_SIZE,
                                          trust_env=True)
                self._transport = RequestsTransport(session=session, session_owner=False)
            return self._transport

    def _options(self, guard: TargetGuard) -> dict[str, Any]:
        counting = self._request_hook

        def hook(request: PipelineRequest[Any]) -> None:
            guard.check(request.http_request.url)
            if counting is not None:
                counting(request)

        return {
            "transport": self._shared_transport(),
            "retry_policy": _short_retry(),
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
