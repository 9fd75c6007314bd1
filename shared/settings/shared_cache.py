"""What the instances share (SHARED_CACHE_*): a container in AzureWebJobsStorage holding get_job's shared cache
and the hubs' call budgets (shared/cache/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.errors import SettingsError
from shared.http.targets import CONTAINER_NAME, reserved_container
from shared.settings.names import (
    MONITOR_REPORTS_CONTAINER,
    MONITOR_STATE_CONTAINER,
    SHARED_CACHE_CONTAINER,
    SHARED_CACHE_ENABLED,
    SHARED_CACHE_MAX_ENTRIES,
)
from shared.settings.poller import StateStorage
from shared.settings.reader import SettingsReader

DEFAULT_SHARED_CONTAINER = "jobmonitor-cache"


@dataclass(frozen=True, kw_only=True)
class SharedCacheSettings:
    """`enabled` false: every instance on its own (its own cache, its own count of the call budget)."""

    enabled: bool
    container: str
    max_entries: int
    storage: StateStorage = field(repr=False)
    storage_client_id: str | None = None


def read_shared_container(reader: SettingsReader) -> str:
    """SHARED_CACHE_CONTAINER alone: the poller's settings reserve it before the rest is read."""
    value = reader.text(SHARED_CACHE_CONTAINER, DEFAULT_SHARED_CONTAINER) or DEFAULT_SHARED_CONTAINER
    if not CONTAINER_NAME.fullmatch(value):
        raise SettingsError(SHARED_CACHE_CONTAINER,
                            f"{value!r} is not a blob container name (3-63 lowercase letters, digits, hyphens)")
    if reserved_container(value):
        raise SettingsError(SHARED_CACHE_CONTAINER, f"{value!r} is a container of the Functions host")
    return value


def read_shared_cache_settings(
    reader: SettingsReader, *, container: str, storage: StateStorage, storage_client_id: str | None,
    state_container: str, reports_container: str,
) -> SharedCacheSettings:
    # The sweep deletes expired entries: never in the poller's state or the reports the app serves.
    if container == state_container:
        raise SettingsError(SHARED_CACHE_CONTAINER, f"must differ from {MONITOR_STATE_CONTAINER}")
    if container == reports_container:
        raise SettingsError(SHARED_CACHE_CONTAINER, f"must differ from {MONITOR_REPORTS_CONTAINER}")
    return SharedCacheSettings(
        enabled=reader.flag(SHARED_CACHE_ENABLED, True),
        container=container,
        max_entries=reader.number(SHARED_CACHE_MAX_ENTRIES, 10_000, int, low=100, high=1_000_000),
        storage=storage,
        storage_client_id=storage_client_id,
    )
