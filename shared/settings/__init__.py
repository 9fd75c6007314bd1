"""App settings, read once into typed objects and validated with errors that name the setting.

`AppSettings.from_environ(os.environ)` reads everything; each part lives with its concern: names.py (every
setting name), cloud.py (AZURE_CLOUD), hub.py (IOTHUB_*), proxy.py (GET_JOB_*), poller.py (MONITOR_*,
AzureWebJobsStorage), shared_cache.py (SHARED_CACHE_*), status_page.py (STATUS_PAGE_*).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings.cloud import Cloud, read_cloud
from shared.settings.hub import (
    AZURE_HUB_SUFFIXES,
    ConnectionString,
    HubAuthMode,
    HubClientSettings,
    HubSettings,
    read_hub_settings,
)
from shared.settings.names import SETTING_NAMES
from shared.settings.poller import DEFAULT_STATE_CONTAINER, PollerSettings, StateStorage, read_poller_settings
from shared.settings.proxy import ProxySettings, read_proxy_settings
from shared.settings.reader import SettingsReader
from shared.settings.shared_cache import SharedCacheSettings, read_shared_cache_settings, read_shared_container
from shared.settings.status_page import StatusPageSettings, read_status_page_settings

__all__ = [
    "AZURE_HUB_SUFFIXES",
    "DEFAULT_STATE_CONTAINER",
    "SETTING_NAMES",
    "AppSettings",
    "Cloud",
    "ConnectionString",
    "HubAuthMode",
    "HubClientSettings",
    "HubSettings",
    "PollerSettings",
    "ProxySettings",
    "SharedCacheSettings",
    "StateStorage",
    "StatusPageSettings",
]


@dataclass(frozen=True, kw_only=True)
class AppSettings:
    hub: HubClientSettings
    proxy: ProxySettings
    poller: PollerSettings
    shared_cache: SharedCacheSettings
    status_page: StatusPageSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AppSettings:
        reader = SettingsReader(environ)
        cloud = read_cloud(reader)
        hub = read_hub_settings(reader, cloud)
        proxy = read_proxy_settings(reader)
        shared_container = read_shared_container(reader)
        poller = read_poller_settings(reader, cloud, app_containers=(shared_container,))
        shared_cache = read_shared_cache_settings(
            reader, container=shared_container, storage=poller.state_storage,
            storage_client_id=poller.storage_client_id, state_container=poller.state_container,
            reports_container=poller.reports_container,
        )
        # The hub client keeps the call budget, so it is told where the instances share it.
        return cls(hub=dataclasses.replace(hub, shared_cache=shared_cache), proxy=proxy, poller=poller,
                   shared_cache=shared_cache, status_page=read_status_page_settings(reader))
