"""The hubs to monitor and how to reach them (IOTHUB_*)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from shared.errors import SettingsError, TargetRejected
from shared.http.targets import parse_uri
from shared.jobs import DEFAULT_API_VERSION, KNOWN_API_VERSIONS, is_valid_hub_name
from shared.settings.cloud import RETIRED_HUB_SUFFIXES, Cloud, hub_cloud_of, other_cloud_problem, read_cloud
from shared.settings.names import (
    IOTHUB_API_VERSION,
    IOTHUB_AUDIENCE,
    IOTHUB_AUTH,
    IOTHUB_CALLS_PER_MINUTE,
    IOTHUB_CONNECT_TIMEOUT_SECONDS,
    IOTHUB_CONNECTION_STRINGS,
    IOTHUB_ENDPOINTS,
    IOTHUB_HUBS,
    IOTHUB_MANAGED_IDENTITY_CLIENT_ID,
    IOTHUB_MAX_ATTEMPTS,
    IOTHUB_READ_TIMEOUT_SECONDS,
    IOTHUB_RETRY_BUDGET_SECONDS,
    IOTHUB_SAS_TTL_SECONDS,
)
from shared.settings.reader import SettingsReader

if TYPE_CHECKING:
    from shared.settings.shared_cache import SharedCacheSettings

# IoT Hub's DNS suffixes in every cloud. An endpoint override may only name `{hub}` under its AZURE_CLOUD's
# suffix (over https), or a loopback address (the devstack), so that a mistyped setting never sends the
# hub's credentials to another host, another cloud or over plain http.
AZURE_HUB_SUFFIXES = (*(cloud.hub_suffix for cloud in Cloud), *RETIRED_HUB_SUFFIXES)
# Half of one S1/S2 unit's jobs throttle (100 a minute): the other half stays for whatever else the customer
# runs against the hub, whose throttle this app shares.
DEFAULT_CALLS_PER_MINUTE = 50
MAX_CALLS_PER_MINUTE = 10_000


class HubAuthMode(str, Enum):
    MANAGED_IDENTITY = "managedIdentity"
    SHARED_ACCESS_POLICY = "sharedAccessPolicy"
    DEFAULT_AZURE_CREDENTIAL = "defaultAzureCredential"


@dataclass(frozen=True, kw_only=True)
class ConnectionString:
    """An IoT Hub shared access policy connection string. The key never shows in repr."""

    host_name: str
    policy_name: str
    key: str = field(repr=False)

    @classmethod
    def parse(cls, text: str, *, setting: str) -> ConnectionString:
        from azure.core.utils import parse_connection_string  # here: only shared-access-policy mode needs it

        try:
            raw = parse_connection_string(text.strip())
        except ValueError:
            raise SettingsError(setting, "is not a connection string (expected Name=value pairs)") from None
        parts = {name.strip().lower(): value.strip() for name, value in raw.items()}
        missing = [n for n in ("HostName", "SharedAccessKeyName", "SharedAccessKey") if not parts.get(n.lower())]
        if missing:
            raise SettingsError(setting, f"connection string lacks {', '.join(missing)}")
        return cls(
            host_name=parts["hostname"].lower(),
            policy_name=parts["sharedaccesskeyname"],
            key=parts["sharedaccesskey"],
        )

    @property
    def hub_name(self) -> str:
        return self.host_name.split(".", 1)[0]


@dataclass(frozen=True, kw_only=True)
class HubSettings:
    """One monitored hub. `endpoint` is where requests go; `host_name` is the hub's name in its cloud (what a
    SAS token signs: a connection string's HostName must be this)."""

    name: str
    host_name: str
    endpoint: str
    connection_string: ConnectionString | None = None


@dataclass(frozen=True, kw_only=True)
class HubClientSettings:
    hubs: tuple[HubSettings, ...]
    cloud: Cloud
    auth_mode: HubAuthMode
    managed_identity_client_id: str | None
    api_version: str
    sas_ttl_seconds: int
    connect_timeout_seconds: float
    read_timeout_seconds: float
    retry_budget_seconds: float
    max_attempts: int
    default_calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE
    calls_per_minute: tuple[tuple[str, int], ...] = ()  # (hub name in lower case, calls a minute)
    # Where the call budget is kept across instances (None: per instance); set by AppSettings.
    shared_cache: SharedCacheSettings | None = None
    # IOTHUB_AUDIENCE: the token audience when it must differ from the cloud's (None: the cloud's).
    audience: str | None = None

    @property
    def iothub_scope(self) -> str:
        """The scope tokens for the hubs are asked for: IOTHUB_AUDIENCE's, else AZURE_CLOUD's."""
        return f"{self.audience}/.default" if self.audience is not None else self.cloud.iothub_scope

    @property
    def default_hub(self) -> HubSettings:
        return self.hubs[0]

    def hub(self, name: str) -> HubSettings | None:
        wanted = name.lower()
        return next((h for h in self.hubs if h.name.lower() == wanted), None)

    def calls_per_minute_for(self, hub_name: str) -> int:
        """The hub's call budget: what the whole app (every instance, get_job and the poller) may send it."""
        return dict(self.calls_per_minute).get(hub_name.lower(), self.default_calls_per_minute)


def _calls_per_minute(reader: SettingsReader, names: list[str]) -> tuple[int, tuple[tuple[str, int], ...]]:
    """IOTHUB_CALLS_PER_MINUTE: `N` for every hub, and/or `hub=N` for one."""
    default = DEFAULT_CALLS_PER_MINUTE
    per_hub: dict[str, int] = {}
    bare = 0
    known = {n.lower() for n in names}
    for item in reader.items(IOTHUB_CALLS_PER_MINUTE):
        name, sep, raw = item.rpartition("=")
        name = name.strip().lower()
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(IOTHUB_CALLS_PER_MINUTE, f"{item!r} is not N or hub=N") from None
        if not 1 <= value <= MAX_CALLS_PER_MINUTE:
            raise SettingsError(IOTHUB_CALLS_PER_MINUTE, f"must be between 1 and {MAX_CALLS_PER_MINUTE}, got {value}")
        if not sep:
            bare += 1
            default = value
        elif name not in known:
            raise SettingsError(IOTHUB_CALLS_PER_MINUTE, f"names a hub not in {IOTHUB_HUBS}: {name!r}")
        elif name in per_hub:
            raise SettingsError(IOTHUB_CALLS_PER_MINUTE, f"names hub {name!r} twice")
        else:
            per_hub[name] = value
    if bare > 1:
        raise SettingsError(IOTHUB_CALLS_PER_MINUTE, "gives more than one value for every hub")
    return default, tuple(sorted(per_hub.items()))


def _endpoint_overrides(reader: SettingsReader, cloud: Cloud) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in reader.items(IOTHUB_ENDPOINTS):
        name, sep, url = item.partition("=")
        name = name.strip().lower()
        try:
            parsed = parse_uri(url.strip().rstrip("/"), what=f"the entry for {name!r}")
        except TargetRejected as exc:
            raise SettingsError(IOTHUB_ENDPOINTS, f"{exc.reason} (expected name=https://host[:port])") from None
        if not sep or parsed.path or parsed.query:
            raise SettingsError(IOTHUB_ENDPOINTS, f"entry for {name!r} is not name=http(s)://host[:port]")
        endpoint = parsed.endpoint
        problem = other_cloud_problem(hub_cloud_of(endpoint.host), cloud, f"the entry for {name!r}")
        if problem is not None:
            raise SettingsError(IOTHUB_ENDPOINTS, problem)
        azure = endpoint.scheme == "https" and endpoint.host == cloud.hub_host(name)
        if not (endpoint.is_loopback or azure):
            raise SettingsError(
                IOTHUB_ENDPOINTS,
                f"entry for {name!r} must be https://{cloud.hub_host(name)} ({cloud.cloud_name}) or a loopback "
                "address: the hub's credentials are sent there",
            )
        overrides[name] = endpoint.origin
    return overrides


def _connection_strings(reader: SettingsReader, cloud: Cloud) -> dict[str, ConnectionString]:
    raw = reader.text(IOTHUB_CONNECTION_STRINGS)
    if raw is None:
        return {}
    texts = [text for text in raw.split("|") if text.strip()]
    parsed = [ConnectionString.parse(text, setting=IOTHUB_CONNECTION_STRINGS) for text in texts]
    for connection_string in parsed:
        problem = other_cloud_problem(hub_cloud_of(connection_string.host_name), cloud,
                                      f"the HostName of hub {connection_string.hub_name!r}")
        if problem is not None:
            raise SettingsError(IOTHUB_CONNECTION_STRINGS, problem)
    return {cs.hub_name: cs for cs in parsed}


def _audience(reader: SettingsReader) -> str | None:
    """IOTHUB_AUDIENCE: an https origin (`https://iothubs.azure.net`), the resource a token is asked for."""
    raw = reader.text(IOTHUB_AUDIENCE)
    if raw is None:
        return None
    try:
        parsed = parse_uri(raw.rstrip("/"), what="the IoT Hub token audience")
    except TargetRejected as exc:
        raise SettingsError(IOTHUB_AUDIENCE, exc.reason) from None
    if parsed.endpoint.scheme != "https" or parsed.path.strip("/") or parsed.query:
        raise SettingsError(IOTHUB_AUDIENCE, "must be an https origin with no path, like https://iothubs.azure.net")
    return parsed.endpoint.origin


def read_hub_settings(reader: SettingsReader, cloud: Cloud | None = None) -> HubClientSettings:
    cloud = cloud or read_cloud(reader)
    names = reader.items(IOTHUB_HUBS)
    if not names:
        raise SettingsError(IOTHUB_HUBS, "is required: a comma-separated list of IoT Hub names")
    for name in names:
        problem = other_cloud_problem(hub_cloud_of(name), cloud, f"{name!r}")
        if problem is not None:
            raise SettingsError(IOTHUB_HUBS, f"{problem}; list the hub's name, not its host name")
        if not is_valid_hub_name(name):
            raise SettingsError(IOTHUB_HUBS, f"{name!r} is not an IoT Hub name (3-50 letters, digits, hyphens)")
    if len({n.lower() for n in names}) != len(names):
        raise SettingsError(IOTHUB_HUBS, "names a hub twice")
    auth_raw = reader.text(IOTHUB_AUTH, HubAuthMode.MANAGED_IDENTITY.value)
    modes = {m.value.lower(): m for m in HubAuthMode}
    if auth_raw is None or auth_raw.lower() not in modes:
        raise SettingsError(IOTHUB_AUTH, f"must be one of {', '.join(m.value for m in HubAuthMode)}")
    auth_mode = modes[auth_raw.lower()]
    overrides = _endpoint_overrides(reader, cloud)
    unknown = set(overrides) - {n.lower() for n in names}
    if unknown:
        raise SettingsError(IOTHUB_ENDPOINTS, f"names hubs not in {IOTHUB_HUBS}: {', '.join(sorted(unknown))}")
    connection_strings = _connection_strings(reader, cloud)
    if auth_mode is HubAuthMode.SHARED_ACCESS_POLICY:
        missing = [n for n in names if n.lower() not in connection_strings]
        if missing:
            raise SettingsError(
                IOTHUB_CONNECTION_STRINGS,
                f"{IOTHUB_AUTH}={auth_mode.value} needs a connection string for hub(s) {', '.join(missing)}",
            )
        for name in names:  # the token signs the HostName: another host's would only be refused, later, as a 401
            if connection_strings[name.lower()].host_name != cloud.hub_host(name).lower():
                raise SettingsError(IOTHUB_CONNECTION_STRINGS,
                                    f"the HostName of hub {name!r}'s connection string must be {cloud.hub_host(name)}")
    hubs = tuple(
        HubSettings(
            name=name,
            host_name=cloud.hub_host(name),
            endpoint=overrides.get(name.lower(), f"https://{cloud.hub_host(name)}"),
            connection_string=connection_strings.get(name.lower())
            if auth_mode is HubAuthMode.SHARED_ACCESS_POLICY
            else None,
        )
        for name in names
    )
    api_version = reader.text(IOTHUB_API_VERSION, DEFAULT_API_VERSION) or DEFAULT_API_VERSION
    if api_version not in KNOWN_API_VERSIONS:
        raise SettingsError(IOTHUB_API_VERSION, f"{api_version!r} is not a known IoT Hub api-version")
    default_calls, calls = _calls_per_minute(reader, names)
    return HubClientSettings(
        hubs=hubs,
        cloud=cloud,
        auth_mode=auth_mode,
        managed_identity_client_id=reader.text(IOTHUB_MANAGED_IDENTITY_CLIENT_ID),
        api_version=api_version,
        sas_ttl_seconds=reader.number(IOTHUB_SAS_TTL_SECONDS, 3600, int, low=60, high=86400),
        connect_timeout_seconds=reader.number(IOTHUB_CONNECT_TIMEOUT_SECONDS, 3.05, float, low=0.1, high=60),
        read_timeout_seconds=reader.number(IOTHUB_READ_TIMEOUT_SECONDS, 10.0, float, low=0.1, high=120),
        retry_budget_seconds=reader.number(IOTHUB_RETRY_BUDGET_SECONDS, 20.0, float, low=0.5, high=200),
        max_attempts=reader.number(IOTHUB_MAX_ATTEMPTS, 4, int, low=1, high=10),
        default_calls_per_minute=default_calls,
        calls_per_minute=calls,
        audience=_audience(reader),
    )
