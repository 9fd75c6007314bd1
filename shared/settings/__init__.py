"""App settings, read once into typed objects and validated with errors that name the setting.

`AppSettings.from_environ(os.environ)` reads everything; each part lives with its concern: names.py (every
setting name), cloud.py (AZURE_CLOUD), hub.py (IOTHUB_*), proxy.py (GET_JOB_*), poller.py (MONITOR_*,
AzureWebJobsStorage).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings.cloud import Cloud, read_cloud
from shared.settings.hub import (
    AZURE_HUB_SUFFIX,
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

__all__ = [
    "AZURE_HUB_SUFFIX",
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
    "StateStorage",
]


@dataclass(frozen=True, kw_only=True)
class AppSettings:
    hub: HubClientSettings
    proxy: ProxySettings
    poller: PollerSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AppSettings:
        reader = SettingsReader(environ)
        cloud = read_cloud(reader)
        return cls(
            hub=read_hub_settings(reader, cloud), proxy=read_proxy_settings(reader),
            poller=read_poller_settings(reader, cloud),
        )
