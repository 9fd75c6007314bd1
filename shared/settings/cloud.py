"""Which Azure cloud the app runs in (AZURE_CLOUD), and what derives from it: the IoT Hub DNS suffix, the
IoT Hub token audience, the blob storage suffix and the Entra ID authority.

One setting, so that a hub of one cloud is never asked for a token of another (it cannot work) and a host
of another cloud is never trusted by accident. The template sets it from Bicep's `environment().name`.
The IoT Hub token audience follows the official service SDKs: the C# SDK's
`IotHubAuthenticationScopes.DefaultAuthenticationScopes` (`https://iothubs.azure.net/.default`, "any public or
private cloud other than Azure US Government"), the Java and Node SDKs alike; US Government uses
`https://iothubs.azure.us/.default`. No SDK uses `iothubs.chinacloudapi.cn`, so China gets the public audience.
IOTHUB_AUDIENCE overrides it (shared/settings/hub.py) should a cloud turn out otherwise. The storage token
audience is `https://storage.azure.com` in every cloud (the SDKs' only known storage audience), so it does not
derive.
"""

from __future__ import annotations

from enum import Enum

from shared.errors import SettingsError
from shared.settings.names import AZURE_CLOUD
from shared.settings.reader import SettingsReader


class Cloud(Enum):
    """`.value` is the name Azure gives the cloud (`environment().name`, `az cloud show --query name`)."""

    PUBLIC = ("AzureCloud", ".azure-devices.net", "https://iothubs.azure.net", ".blob.core.windows.net",
              "login.microsoftonline.com")
    CHINA = ("AzureChinaCloud", ".azure-devices.cn", "https://iothubs.azure.net",
             ".blob.core.chinacloudapi.cn", "login.chinacloudapi.cn")
    US_GOVERNMENT = ("AzureUSGovernment", ".azure-devices.us", "https://iothubs.azure.us",
                     ".blob.core.usgovcloudapi.net", "login.microsoftonline.us")

    def __init__(self, name: str, hub_suffix: str, iothub_audience: str, storage_suffix: str, authority: str) -> None:
        self.cloud_name = name
        self.hub_suffix = hub_suffix
        self.iothub_audience = iothub_audience
        self.storage_suffix = storage_suffix
        self.authority = authority

    @property
    def iothub_scope(self) -> str:
        return f"{self.iothub_audience}/.default"

    def hub_host(self, hub: str) -> str:
        return f"{hub.lower()}{self.hub_suffix}"


DEFAULT_CLOUD = Cloud.PUBLIC
# Germany's cloud (.azure-devices.de) was retired: a host there belongs to no cloud the app can run in.
RETIRED_HUB_SUFFIXES = (".azure-devices.de",)


def read_cloud(reader: SettingsReader) -> Cloud:
    raw = reader.text(AZURE_CLOUD, DEFAULT_CLOUD.cloud_name) or DEFAULT_CLOUD.cloud_name
    for cloud in Cloud:
        if raw.lower() == cloud.cloud_name.lower():
            return cloud
    raise SettingsError(AZURE_CLOUD, f"must be one of {', '.join(c.cloud_name for c in Cloud)}, got {raw!r}")


def hub_cloud_of(host: str) -> Cloud | None:
    """The cloud whose IoT Hub suffix `host` ends with (None: no cloud's)."""
    return next((cloud for cloud in Cloud if host.lower().endswith(cloud.hub_suffix)), None)


def storage_cloud_of(host: str) -> Cloud | None:
    """The cloud whose blob storage suffix `host` ends with (None: no cloud's, e.g. loopback or a custom
    domain)."""
    return next((cloud for cloud in Cloud if host.lower().endswith(cloud.storage_suffix)), None)


def other_cloud_problem(found: Cloud | None, cloud: Cloud, what: str) -> str | None:
    """The message for a host of another cloud than AZURE_CLOUD's, or None when it is not one."""
    if found is None or found is cloud:
        return None
    return (f"{what} belongs to {found.cloud_name}, but {AZURE_CLOUD} is {cloud.cloud_name}: set {AZURE_CLOUD}="
            f"{found.cloud_name} or name a host of {cloud.cloud_name} (a token of one cloud never works in another)")
