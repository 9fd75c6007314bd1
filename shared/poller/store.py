"""Where the poller's per-hub state lives: one blob per hub in AzureWebJobsStorage, saved ETag-conditionally.

What can happen to that blob, and what the store does:
- missing (first run, or the state lost): a fresh state; the first writes find what the job folders already
  hold and claim above it (shared/poller/confirm.py, Recovery), so nothing is numbered twice;
- its container deleted while the app runs: created again on the next save;
- unreadable (corrupt): moved aside (`hubs/{hub}.unreadable-{time}.json`, kept for diagnosis), rebuilt as a
  fresh state, and said once (`poller.state_recovered`);
- written by a later version of the app: neither planned on nor rewritten (StateTooNew): instances of the
  later version carry on, this one reports the hub as failed until it is replaced.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.blob_reads import STORED_BYTES, BodyRefused, Cut, expires_in, read_seconds, read_whole
from shared.clock import utc_iso
from shared.errors import StateConflict, StateUnreadable, TickBudgetExhausted
from shared.poller.state import HubState
from shared.poller.storage import EMPTY_BLOB_RANGE_CODE, storage_error_code

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient, StorageStreamDownloader

SAVE_ATTEMPTS = 3
# A hub's state is a few hundred bytes a job (30 days of jobs); anything larger is not read, by the poller (it is
# then unreadable: moved aside and rebuilt from the jobs' folders) or by the status page.
MAX_STATE_BYTES = 32 << 20
STATE_READ_SECONDS = 30.0  # reading the state whole, when the caller gave no timeouts


@dataclass(frozen=True, kw_only=True)
class Peeked:
    """A hub's job records as stored, and the ETag of the state they were read from."""

    records: dict[str, dict[str, Any]]
    etag: str


@dataclass(frozen=True, kw_only=True)
class Loaded:
    state: HubState
    etag: str | None  # None: no state blob (the next save creates it)
    moved_aside: str | None = None  # the blob an unreadable state was moved to (this load rebuilt it)


class StateStore:
    """Hub state blobs in the state container; ETag-conditional saves."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    @staticmethod
    def blob_name(hub: str) -> str:
        return f"hubs/{hub.lower()}.json"

    def load(self, hub: str, *, now: datetime.datetime, **options: Any) -> Loaded:
        """The hub's state and its ETag; a fresh state on the first run or after the state was lost or
        moved aside. `options` go to the storage calls (per-call timeouts). Raises StateTooNew."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        name = self.blob_name(hub)
        try:
            downloader = self._container.download_blob(name, offset=0, length=MAX_STATE_BYTES + 1, **options,
                                                       **STORED_BYTES)
            etag = str(downloader.properties.etag)
            data = _state_bytes(downloader, name, options)
        except ResourceNotFoundError:
            return Loaded(state=HubState(hub=hub, created_at=utc_iso(now)), etag=None)
        except HttpResponseError as error:
            if storage_error_code(error) != EMPTY_BLOB_RANGE_CODE:
                raise
            data, etag = b"", str(self._container.get_blob_client(name).get_blob_properties(**options).etag)
        try:
            if data is None:
                raise StateUnreadable(f"the state blob is larger than {MAX_STATE_BYTES} bytes or encoded")
            return Loaded(state=HubState.from_bytes(data), etag=etag)
        except StateUnreadable:
            aside = f"hubs/{hub.lower()}.unreadable-{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
            with contextlib.suppress(Exception):  # a copy for diagnosis: its failure must not stop the rebuild
                self._container.upload_blob(aside, data or b"", overwrite=True, **options)
            # The fresh state replaces the unreadable one conditionally on its ETag (the next save).
            return Loaded(state=HubState(hub=hub, created_at=utc_iso(now)), etag=etag, moved_aside=aside)

    def peek_records(self, hub: str, *, known: Peeked | None = None, **options: Any) -> Peeked | None:
        """The hub's job records as stored (their JSON form, state.py's JobRecord.to_json), for reading only (the
        status page): None when there is no state yet. Never moves, rebuilds or writes anything, and builds no
        JobRecord (a hub of 500 jobs is read on every page). With `known` (an earlier peek), an unchanged state
        is not downloaded again (If-None-Match): `known` comes back. Raises StateUnreadable (also for a blob
        over MAX_STATE_BYTES) or StateTooNew."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError, ResourceNotModifiedError

        unless: dict[str, Any] = {} if known is None else {
            "etag": known.etag, "match_condition": MatchConditions.IfModified}
        try:
            downloader = self._container.download_blob(self.blob_name(hub), offset=0, length=MAX_STATE_BYTES + 1,
                                                       **unless, **options, **STORED_BYTES)
            data = _state_bytes(downloader, self.blob_name(hub), options)
        except (ResourceNotModifiedError, ResourceModifiedError):
            # Unchanged: storage answers 304 with the code ConditionNotMet, which azure-storage raises as
            # ResourceModifiedError (its code mapping wins over the status).
            return known
        except ResourceNotFoundError:
            return None
        if data is None:
            raise StateUnreadable("the state blob is larger than the status page reads, or encoded")
        return Peeked(records=HubState.records_of(data), etag=str(downloader.properties.etag))

    def save(self, state: HubState, etag: str | None, **options: Any) -> str:
        """Write the state if nobody changed it since `etag` (None: only if it does not exist yet). A missing
        container (deleted while the app runs) is created again."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        data = state.to_bytes()
        blob = self._container.get_blob_client(self.blob_name(state.hub))
        # Three tries: when many hubs' first saves race to create the container, a loser's create answers
        # "exists" before the winner's container takes writes (seen with 20 hubs on Azurite).
        for attempt in range(SAVE_ATTEMPTS):
            try:
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
                self.ensure_container(**options)
                if etag is not None:
                    # The blob (or its container) went away since it was read: plan again from what is
                    # there now rather than write over it blindly.
                    raise StateConflict(state.hub) from None
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise StateConflict(state.hub)

    def ensure_container(self, **options: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self._container.create_container(**options)


def _state_bytes(downloader: StorageStreamDownloader[bytes], name: str, options: dict[str, Any]) -> bytes | None:
    """The state blob's bytes; None when it is not one we wrote (over MAX_STATE_BYTES once decoded, or stored
    with an encoding we do not decode). Out of time raises TickBudgetExhausted: the next tick reads it again."""
    expired = expires_in(read_seconds(options, STATE_READ_SECONDS))
    try:
        return read_whole(downloader, name=name, max_bytes=MAX_STATE_BYTES, expired=expired)
    except BodyRefused as refused:
        if refused.cut is Cut.TIME:
            raise TickBudgetExhausted from None
        return None
