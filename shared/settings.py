"""App settings, read once into typed objects and validated with errors that name the setting.

Every setting the app reads is named in `SETTING_NAMES`; README, local.settings.sample.json and
infra/main.bicep are checked against it by tests/test_settings_sources.py.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

from shared.errors import SettingsError
from shared.jobs import DEFAULT_API_VERSION, KNOWN_API_VERSIONS
from shared.validation import is_valid_hub_name

T = TypeVar("T")

# Setting names (app settings in Azure, "Values" in local.settings.json).
IOTHUB_HUBS = "IOTHUB_HUBS"
IOTHUB_ENDPOINTS = "IOTHUB_ENDPOINTS"
IOTHUB_AUTH = "IOTHUB_AUTH"
IOTHUB_MANAGED_IDENTITY_CLIENT_ID = "IOTHUB_MANAGED_IDENTITY_CLIENT_ID"
IOTHUB_CONNECTION_STRINGS = "IOTHUB_CONNECTION_STRINGS"
IOTHUB_SAS_TTL_SECONDS = "IOTHUB_SAS_TTL_SECONDS"
IOTHUB_API_VERSION = "IOTHUB_API_VERSION"
IOTHUB_CONNECT_TIMEOUT_SECONDS = "IOTHUB_CONNECT_TIMEOUT_SECONDS"
IOTHUB_READ_TIMEOUT_SECONDS = "IOTHUB_READ_TIMEOUT_SECONDS"
IOTHUB_RETRY_BUDGET_SECONDS = "IOTHUB_RETRY_BUDGET_SECONDS"
IOTHUB_MAX_ATTEMPTS = "IOTHUB_MAX_ATTEMPTS"
GET_JOB_CACHE_TTL_SECONDS = "GET_JOB_CACHE_TTL_SECONDS"
GET_JOB_TERMINAL_CACHE_SIZE = "GET_JOB_TERMINAL_CACHE_SIZE"
GET_JOB_REDACT_SAS = "GET_JOB_REDACT_SAS"
POLL_SCHEDULE = "POLL_SCHEDULE"
MONITOR_PREFIX = "MONITOR_PREFIX"
MONITOR_CONTAINER = "MONITOR_CONTAINER"
MONITOR_STATE_CONTAINER = "MONITOR_STATE_CONTAINER"
MONITOR_STALL_AFTER_MINUTES = "MONITOR_STALL_AFTER_MINUTES"
MONITOR_BACKFILL_HOURS = "MONITOR_BACKFILL_HOURS"
MONITOR_STORAGE_HOST_ALLOWLIST = "MONITOR_STORAGE_HOST_ALLOWLIST"
MONITOR_IDENTITY_CONTAINERS = "MONITOR_IDENTITY_CONTAINERS"
MONITOR_STORAGE_CLIENT_ID = "MONITOR_STORAGE_CLIENT_ID"
MONITOR_TICK_BUDGET_SECONDS = "MONITOR_TICK_BUDGET_SECONDS"
AZURE_WEBJOBS_STORAGE = "AzureWebJobsStorage"
AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME = "AzureWebJobsStorage__accountName"
AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI = "AzureWebJobsStorage__blobServiceUri"
# The host's identity-based binding settings for AzureWebJobsStorage (platform settings, not the app's own,
# so not in SETTING_NAMES): a user-assigned identity is `__credential=managedidentity` plus `__clientId`.
AZURE_WEBJOBS_STORAGE_CREDENTIAL = "AzureWebJobsStorage__credential"
AZURE_WEBJOBS_STORAGE_CLIENT_ID = "AzureWebJobsStorage__clientId"

SETTING_NAMES: tuple[str, ...] = (
    IOTHUB_HUBS,
    IOTHUB_ENDPOINTS,
    IOTHUB_AUTH,
    IOTHUB_MANAGED_IDENTITY_CLIENT_ID,
    IOTHUB_CONNECTION_STRINGS,
    IOTHUB_SAS_TTL_SECONDS,
    IOTHUB_API_VERSION,
    IOTHUB_CONNECT_TIMEOUT_SECONDS,
    IOTHUB_READ_TIMEOUT_SECONDS,
    IOTHUB_RETRY_BUDGET_SECONDS,
    IOTHUB_MAX_ATTEMPTS,
    GET_JOB_CACHE_TTL_SECONDS,
    GET_JOB_TERMINAL_CACHE_SIZE,
    GET_JOB_REDACT_SAS,
    POLL_SCHEDULE,
    MONITOR_PREFIX,
    MONITOR_CONTAINER,
    MONITOR_STATE_CONTAINER,
    MONITOR_STALL_AFTER_MINUTES,
    MONITOR_BACKFILL_HOURS,
    MONITOR_STORAGE_HOST_ALLOWLIST,
    MONITOR_IDENTITY_CONTAINERS,
    MONITOR_STORAGE_CLIENT_ID,
    MONITOR_TICK_BUDGET_SECONDS,
    AZURE_WEBJOBS_STORAGE,
)

# IoT Hub names: 3-50 characters, letters, digits and hyphens.
_CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_BLOB_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
AZURE_HUB_SUFFIX = ".azure-devices.net"
# IoT Hub's DNS suffixes in the public and sovereign clouds: an endpoint override may only name
# `{hub}` under one of these (over https), or a loopback address (the devstack), so that a mistyped
# setting never sends the hub's credentials to another host or over plain http.
AZURE_HUB_SUFFIXES = (".azure-devices.net", ".azure-devices.cn", ".azure-devices.us", ".azure-devices.de")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_STORAGE_HOST_ALLOWLIST = ("*.blob.core.windows.net",)
DEFAULT_STATE_CONTAINER = "jobmonitor-state"


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
        parts: dict[str, str] = {}
        for item in text.strip().split(";"):
            if not item:
                continue
            name, sep, value = item.partition("=")
            if not sep:
                raise SettingsError(setting, "is not a connection string (expected Name=value pairs)")
            parts[name.strip().lower()] = value.strip()
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
    """One monitored hub. `endpoint` is where requests go; `host_name` is what SAS tokens sign."""

    name: str
    host_name: str
    endpoint: str
    connection_string: ConnectionString | None = None


@dataclass(frozen=True, kw_only=True)
class HubClientSettings:
    hubs: tuple[HubSettings, ...]
    auth_mode: HubAuthMode
    managed_identity_client_id: str | None
    api_version: str
    sas_ttl_seconds: int
    connect_timeout_seconds: float
    read_timeout_seconds: float
    retry_budget_seconds: float
    max_attempts: int

    @property
    def default_hub(self) -> HubSettings:
        return self.hubs[0]

    def hub(self, name: str) -> HubSettings | None:
        wanted = name.lower()
        return next((h for h in self.hubs if h.name.lower() == wanted), None)


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    cache_ttl_seconds: float
    terminal_cache_size: int
    redact_sas: bool


@dataclass(frozen=True, kw_only=True)
class PollerSettings:
    schedule: str
    prefix: str
    container: str | None
    state_container: str
    stall_after_seconds: float
    backfill_seconds: float
    storage_host_allowlist: tuple[str, ...]
    storage_client_id: str | None
    tick_budget_seconds: float
    state_storage: StateStorage

    def host_allowed(self, host: str) -> bool:
        host = host.lower()
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.storage_host_allowlist)


@dataclass(frozen=True, kw_only=True)
class StateStorage:
    """Where the poller keeps its state: AzureWebJobsStorage, by connection string or by identity."""

    connection_string: str | None = field(default=None, repr=False)
    account_url: str | None = None
    client_id: str | None = None  # AzureWebJobsStorage__clientId: the user-assigned identity the host uses


@dataclass(frozen=True, kw_only=True)
class AppSettings:
    hub: HubClientSettings
    proxy: ProxySettings
    poller: PollerSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AppSettings:
        reader = _Reader(environ)
        return cls(hub=_hub_settings(reader), proxy=_proxy_settings(reader), poller=_poller_settings(reader))


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return default
        return value.strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise SettingsError(name, "is required")
        return value

    def number(self, name: str, default: T, convert: Callable[[str], T], *, low: float, high: float) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = convert(raw)
        except ValueError:
            raise SettingsError(name, f"must be a number, got {raw!r}") from None
        if not low <= value <= high:  # type: ignore[operator]
            raise SettingsError(name, f"must be between {low:g} and {high:g}, got {raw}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return _BOOL_WORDS[raw.lower()]
        except KeyError:
            raise SettingsError(name, f"must be true or false, got {raw!r}") from None

    def items(self, name: str) -> list[str]:
        raw = self.text(name)
        return [] if raw is None else [item.strip() for item in raw.split(",") if item.strip()]


def _endpoint_overrides(reader: _Reader) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in reader.items(IOTHUB_ENDPOINTS):
        name, sep, url = item.partition("=")
        name = name.strip().lower()
        parts = urlsplit(url.strip())
        if not sep or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(IOTHUB_ENDPOINTS, f"entry for {name!r} is not name=http(s)://host[:port]")
        host = parts.hostname.lower()
        loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
        azure = parts.scheme == "https" and any(host == f"{name}{suffix}" for suffix in AZURE_HUB_SUFFIXES)
        if not (loopback or azure):
            raise SettingsError(
                IOTHUB_ENDPOINTS,
                f"entry for {name!r} must be https://{name}.azure-devices.net (or a sovereign cloud's suffix) "
                "or a loopback address: the hub's credentials are sent there",
            )
        overrides[name] = url.strip().rstrip("/")
    return overrides


def _connection_strings(reader: _Reader) -> dict[str, ConnectionString]:
    raw = reader.text(IOTHUB_CONNECTION_STRINGS)
    if raw is None:
        return {}
    texts = [text for text in raw.split("|") if text.strip()]
    parsed = [ConnectionString.parse(text, setting=IOTHUB_CONNECTION_STRINGS) for text in texts]
    return {cs.hub_name: cs for cs in parsed}


def _hub_settings(reader: _Reader) -> HubClientSettings:
    names = reader.items(IOTHUB_HUBS)
    if not names:
        raise SettingsError(IOTHUB_HUBS, "is required: a comma-separated list of IoT Hub names")
    for name in names:
        if not is_valid_hub_name(name):
            raise SettingsError(IOTHUB_HUBS, f"{name!r} is not an IoT Hub name (3-50 letters, digits, hyphens)")
    if len({n.lower() for n in names}) != len(names):
        raise SettingsError(IOTHUB_HUBS, "names a hub twice")
    auth_raw = reader.text(IOTHUB_AUTH, HubAuthMode.MANAGED_IDENTITY.value)
    modes = {m.value.lower(): m for m in HubAuthMode}
    if auth_raw is None or auth_raw.lower() not in modes:
        raise SettingsError(IOTHUB_AUTH, f"must be one of {', '.join(m.value for m in HubAuthMode)}")
    auth_mode = modes[auth_raw.lower()]
    overrides = _endpoint_overrides(reader)
    unknown = set(overrides) - {n.lower() for n in names}
    if unknown:
        raise SettingsError(IOTHUB_ENDPOINTS, f"names hubs not in {IOTHUB_HUBS}: {', '.join(sorted(unknown))}")
    connection_strings = _connection_strings(reader)
    if auth_mode is HubAuthMode.SHARED_ACCESS_POLICY:
        missing = [n for n in names if n.lower() not in connection_strings]
        if missing:
            raise SettingsError(
                IOTHUB_CONNECTION_STRINGS,
                f"{IOTHUB_AUTH}={auth_mode.value} needs a connection string for hub(s) {', '.join(missing)}",
            )
    hubs = tuple(
        HubSettings(
            name=name,
            host_name=f"{name.lower()}{AZURE_HUB_SUFFIX}",
            endpoint=overrides.get(name.lower(), f"https://{name.lower()}{AZURE_HUB_SUFFIX}"),
            connection_string=connection_strings.get(name.lower())
            if auth_mode is HubAuthMode.SHARED_ACCESS_POLICY
            else None,
        )
        for name in names
    )
    api_version = reader.text(IOTHUB_API_VERSION, DEFAULT_API_VERSION) or DEFAULT_API_VERSION
    if api_version not in KNOWN_API_VERSIONS:
        raise SettingsError(IOTHUB_API_VERSION, f"{api_version!r} is not a known IoT Hub api-version")
    return HubClientSettings(
        hubs=hubs,
        auth_mode=auth_mode,
        managed_identity_client_id=reader.text(IOTHUB_MANAGED_IDENTITY_CLIENT_ID),
        api_version=api_version,
        sas_ttl_seconds=reader.number(IOTHUB_SAS_TTL_SECONDS, 3600, int, low=60, high=86400),
        connect_timeout_seconds=reader.number(IOTHUB_CONNECT_TIMEOUT_SECONDS, 3.05, float, low=0.1, high=60),
        read_timeout_seconds=reader.number(IOTHUB_READ_TIMEOUT_SECONDS, 10.0, float, low=0.1, high=120),
        retry_budget_seconds=reader.number(IOTHUB_RETRY_BUDGET_SECONDS, 20.0, float, low=0.5, high=200),
        max_attempts=reader.number(IOTHUB_MAX_ATTEMPTS, 4, int, low=1, high=10),
    )


def _proxy_settings(reader: _Reader) -> ProxySettings:
    return ProxySettings(
        cache_ttl_seconds=reader.number(GET_JOB_CACHE_TTL_SECONDS, 2.0, float, low=0, high=60),
        terminal_cache_size=reader.number(GET_JOB_TERMINAL_CACHE_SIZE, 1024, int, low=0, high=1_000_000),
        redact_sas=reader.flag(GET_JOB_REDACT_SAS, True),
    )


def _state_storage(reader: _Reader) -> StateStorage:
    connection_string = reader.text(AZURE_WEBJOBS_STORAGE)
    if connection_string is not None:
        return StateStorage(connection_string=connection_string)
    service_uri = reader.text(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI)
    account = reader.text(AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME)
    client_id = None
    if (reader.text(AZURE_WEBJOBS_STORAGE_CREDENTIAL) or "").lower() == "managedidentity":
        client_id = reader.text(AZURE_WEBJOBS_STORAGE_CLIENT_ID)
    if service_uri is not None:
        parts = urlsplit(service_uri)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" and not (host in LOOPBACK_HOSTS or host.startswith("127.")):
            raise SettingsError(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI, "must be an https URL (tokens are sent there)")
        return StateStorage(account_url=service_uri.rstrip("/"), client_id=client_id)
    if account is not None:
        return StateStorage(account_url=f"https://{account}.blob.core.windows.net", client_id=client_id)
    raise SettingsError(
        AZURE_WEBJOBS_STORAGE,
        f"is required (or {AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME} for identity-based access)",
    )


def _container(reader: _Reader, name: str, default: str | None) -> str | None:
    value = reader.text(name, default)
    if value is not None and not _CONTAINER_NAME.match(value):
        raise SettingsError(name, f"{value!r} is not a blob container name (3-63 lowercase letters, digits, hyphens)")
    return value


def _poller_settings(reader: _Reader) -> PollerSettings:
    prefix = (reader.text(MONITOR_PREFIX, "jobmonitor") or "jobmonitor").strip("/")
    if not _BLOB_PREFIX.match(prefix):
        raise SettingsError(MONITOR_PREFIX, f"{prefix!r} is not a blob path prefix")
    schedule = reader.text(POLL_SCHEDULE, "0 */5 * * * *") or "0 */5 * * * *"
    if len(schedule.split()) != 6:
        raise SettingsError(POLL_SCHEDULE, "must be a 6-field NCRONTAB expression ({second} {minute} ...)")
    allowlist = tuple(p.lower() for p in reader.items(MONITOR_STORAGE_HOST_ALLOWLIST)) or DEFAULT_STORAGE_HOST_ALLOWLIST
    state_container = _container(reader, MONITOR_STATE_CONTAINER, DEFAULT_STATE_CONTAINER) or DEFAULT_STATE_CONTAINER
    return PollerSettings(
        schedule=schedule,
        prefix=prefix,
        container=_container(reader, MONITOR_CONTAINER, None),
        state_container=state_container,
        stall_after_seconds=60 * reader.number(MONITOR_STALL_AFTER_MINUTES, 120.0, float, low=0, high=60 * 24 * 30),
        backfill_seconds=3600 * reader.number(MONITOR_BACKFILL_HOURS, 24.0, float, low=0, high=24 * 30),
        storage_host_allowlist=allowlist,
        storage_client_id=reader.text(MONITOR_STORAGE_CLIENT_ID) or reader.text(IOTHUB_MANAGED_IDENTITY_CLIENT_ID),
        tick_budget_seconds=reader.number(MONITOR_TICK_BUDGET_SECONDS, 240.0, float, low=5, high=3600),
        state_storage=_state_storage(reader),
    )
