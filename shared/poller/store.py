"""Where the poller's per-hub state lives: one blob per hub in AzureWebJobsStorage, saved ETag-conditionally."""

from __future__ import annotations

import contextlib
import datetime
from typing import TYPE_CHECKING, Any

from shared.clock import utc_iso
from shared.errors import StateConflict
from shared.poller.state import HubState

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient


class StateStore:
    """Hub state blobs in the state container; ETag-conditional saves."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self._container_ready = False

    @staticmethod
    def blob_name(hub: str) -> str:
        return f"hubs/{hub.lower()}.json"

    def load(self, hub: str, *, now: datetime.datetime, **options: Any) -> tuple[HubState, str | None]:
        """The hub's state and its ETag; a fresh state and None on the first run. `options` go to the
        storage call (per-call timeouts)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._container.download_blob(self.blob_name(hub), **options)
            data = downloader.readall()
        except ResourceNotFoundError:
            return HubState(hub=hub, created_at=utc_iso(now)), None
        etag = downloader.properties.etag
        return HubState.from_bytes(data), etag

    def save(self, state: HubState, etag: str | None, **options: Any) -> str:
        """Write the state if nobody changed it since `etag` (None: only if it does not exist yet)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        data = state.to_bytes()
        name = self.blob_name(state.hub)
        for _ in range(2):
            try:
                blob = self._container.get_blob_client(name)
                if etag is None:
                    result = blob.upload_blob(data, overwrite=False, **options)
                else:
                    result = blob.upload_blob(
                        data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified, **options
                    )
                return str(result["etag"])
            except (ResourceModifiedError, ResourceExistsError):
                raise StateConflict(state.hub) from None
            except ResourceNotFoundError:
                if self._container_ready:
                    raise
                self.ensure_container(**options)
        raise StateConflict(state.hub)

    def ensure_container(self, **options: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self._container.create_container(**options)
        self._container_ready = True
