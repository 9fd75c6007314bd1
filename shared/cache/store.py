"""The shared store: small JSON blobs in the app's container in AzureWebJobsStorage, read and written with ETag
conditions, by the app's storage clients (shared/poller/storage.py's BlobClients: the guarded session, the
TargetGuard on every request, the one TLS rule; its `state_container` opens a container of the app's own).

Every call is short (1 s to connect, 2 s to read, no retry) and goes through the circuit of health.py: when
storage is slow or down, callers get SharedStoreUnavailable at once and go on per instance. Concurrency
outcomes are answers, not failures: a write whose condition fails returns None, a missing blob reads as None.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from shared.blob_reads import STORED_BYTES, BodyRefused, Cut, expires_in, read_seconds, read_whole
from shared.cache.health import StoreHealth
from shared.errors import SharedStoreUnavailable
from shared.poller.storage import EMPTY_BLOB_RANGE_CODE, BlobClients, storage_error_text
from shared.settings import SharedCacheSettings

if TYPE_CHECKING:
    import datetime

    from azure.storage.blob import ContainerClient

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0
# An entry is a few KiB (a job's properties); anything much larger is not one of ours.
MAX_BLOB_BYTES = 256 * 1024
# A hub's job list (its 30 days, redacted): a few MiB for thousands of jobs.
MAX_LIST_BLOB_BYTES = 16 << 20
_CALL_OPTIONS: dict[str, Any] = {
    "connection_timeout": CONNECT_TIMEOUT_SECONDS, "read_timeout": READ_TIMEOUT_SECONDS, "retry_total": 0,
    # azure-core logs every request and answer at INFO, which Application Insights would ingest (and bill) for
    # each of these small, frequent calls: DEBUG here. Failures are the circuit's one line per outage.
    "http_logging_level": logging.DEBUG,
}


@dataclass(frozen=True)
class StoredBlob:
    """A blob as read: `data` None if it does not exist (then `etag` is None too), b"" if it is too large to be
    one of ours (it is then replaced like a corrupt one)."""

    data: bytes | None
    etag: str | None


@dataclass(frozen=True)
class Listed:
    name: str
    etag: str
    last_modified: datetime.datetime
    metadata: Mapping[str, str]


class SharedStore:
    """One container in AzureWebJobsStorage, shared by every instance of the app (one store per process)."""

    def __init__(self, *, settings: SharedCacheSettings, blobs: BlobClients | None = None,
                 health: StoreHealth | None = None) -> None:
        self._settings = settings
        self._blobs = blobs or BlobClients(storage_client_id=settings.storage_client_id)
        self.health = health or StoreHealth()
        self._lock = threading.Lock()
        self._container: ContainerClient | None = None

    @property
    def available(self) -> bool:
        """False while the circuit is open and no probe is due: do not even try."""
        return self.health.worth_trying

    def read(self, name: str, *, max_bytes: int = MAX_BLOB_BYTES) -> StoredBlob:
        def call(container: ContainerClient) -> StoredBlob:
            from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

            try:
                downloader = container.download_blob(name, offset=0, length=max_bytes + 1, **_CALL_OPTIONS,
                                                     **STORED_BYTES)
            except ResourceNotFoundError:
                return StoredBlob(None, None)
            except HttpResponseError as error:
                if _error_code(error) != EMPTY_BLOB_RANGE_CODE:
                    raise
                # An empty blob refuses a ranged read: not one of ours, replaced like a corrupt one.
                return StoredBlob(b"", str(container.get_blob_client(name).get_blob_properties(**_CALL_OPTIONS).etag))
            etag = str(downloader.properties.etag)
            try:
                return StoredBlob(read_whole(downloader, name=name, max_bytes=max_bytes,
                                             expired=expires_in(read_seconds(_CALL_OPTIONS, READ_TIMEOUT_SECONDS))),
                                  etag)
            except BodyRefused as refused:
                if refused.cut is Cut.TIME:
                    raise  # slow storage: a failure of the store, like a timeout
                return StoredBlob(b"", etag)  # too large once decoded, or encoded: not one of ours

        return self._call(call)

    def write(self, name: str, data: bytes, *, etag: str | None, metadata: Mapping[str, str] | None = None
              ) -> str | None:
        """Write `data` if the blob still has `etag` (None: only if it does not exist yet); the new ETag, or None
        if someone else wrote (or deleted) it first."""

        def call(container: ContainerClient) -> str | None:
            from azure.core import MatchConditions
            from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

            blob = container.get_blob_client(name)
            conditions: dict[str, Any] = (
                {"overwrite": False} if etag is None
                else {"overwrite": True, "etag": etag, "match_condition": MatchConditions.IfNotModified}
            )
            for _ in range(2):
                try:
                    result = blob.upload_blob(data, metadata=dict(metadata or {}), **conditions, **_CALL_OPTIONS)
                    return str(result["etag"])
                except (ResourceExistsError, ResourceModifiedError):
                    return None
                except ResourceNotFoundError as exc:
                    if etag is not None and _error_code(exc) != "ContainerNotFound":
                        return None  # deleted since it was read (the sweep): someone else's move
                    self._ensure_container(container)
            return None

        return self._call(call)

    def delete(self, name: str, *, etag: str) -> bool:
        """Delete the blob if it still has `etag`."""

        def call(container: ContainerClient) -> bool:
            from azure.core import MatchConditions
            from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

            try:
                container.delete_blob(name, etag=etag, match_condition=MatchConditions.IfNotModified, **_CALL_OPTIONS)
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
            return True

        return self._call(call)

    def listing(self, prefix: str) -> list[Listed]:
        """Every blob under `prefix`, with its metadata."""

        def call(container: ContainerClient) -> list[Listed]:
            return [
                Listed(name=str(item.name), etag=str(item.etag), last_modified=item.last_modified,
                       metadata=dict(item.metadata or {}))
                for item in container.list_blobs(name_starts_with=prefix, include=["metadata"], **_CALL_OPTIONS)
            ]

        return self._call(call)

    def _ensure_container(self, container: ContainerClient) -> None:
        # Locally (Azurite) nobody else creates it; in Azure the template does, and this is never reached.
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            container.create_container(**_CALL_OPTIONS)

    def _client(self) -> ContainerClient:
        with self._lock:
            if self._container is None:
                self._container = self._blobs.state_container(self._settings.storage, self._settings.container)
            return self._container

    def _call(self, call: Callable[[ContainerClient], T]) -> T:
        ticket = self.health.ticket()
        if ticket is None:
            raise SharedStoreUnavailable("the shared store is given time to recover")
        try:
            result = call(self._client())
        except Exception as exc:  # any failure of storage (TargetRejected too): go on without it
            reason = storage_error_text(exc)
            self.health.failed(ticket, reason)
            raise SharedStoreUnavailable(reason) from None
        self.health.succeeded(ticket)
        return result


def _error_code(exc: Exception) -> str | None:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code)) if code is not None else None


_default_lock = threading.Lock()
_default_stores: dict[SharedCacheSettings, SharedStore] = {}


def default_shared_store(settings: SharedCacheSettings) -> SharedStore:
    """The process's store for these settings: the call budget and get_job's cache share one (and so one circuit
    and one log line per outage)."""
    with _default_lock:
        store = _default_stores.get(settings)
        if store is None:
            store = SharedStore(settings=settings)
            _default_stores[settings] = store
        return store
