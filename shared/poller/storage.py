"""The storage clients the poller uses: the app's clients (shared/http/blobs.py: one pooled session per process,
short retries, bounded timeouts, a guard on every request), plus a job's own containers, and the helpers a tick
uses around storage calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import Deadline
from shared.credentials import managed_identity_credential
from shared.errors import TargetRejected, TickBudgetExhausted
from shared.http.blobs import (
    CONNECTION_TIMEOUT_SECONDS,
    DOWNLOAD_CHUNK_BYTES,
    MIN_TRY_SECONDS,
    POOL_SIZE,
    READ_TIMEOUT_SECONDS,
    RETRY_BACKOFF_SECONDS,
    RETRY_TOTAL,
    request_options,
    storage_error_text,
)
from shared.http.blobs import BlobClients as AppBlobClients
from shared.http.targets import TargetGuard
from shared.poller.targets import Access, Credential

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

__all__ = [
    "CONNECTION_TIMEOUT_SECONDS",
    "DOWNLOAD_CHUNK_BYTES",
    "MIN_TRY_SECONDS",
    "POOL_SIZE",
    "READ_TIMEOUT_SECONDS",
    "RETRY_BACKOFF_SECONDS",
    "RETRY_TOTAL",
    "BlobClients",
    "blob_size",
    "call_options",
    "check_deadline",
    "not_found",
    "request_options",
    "sas_refused",
    "storage_error_text",
]

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


class BlobClients(AppBlobClients):
    """The app's storage clients (shared/http/blobs.py), plus the containers a job's files are written into."""

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
