"""The poller's settings (POLL_SCHEDULE, MONITOR_*) and where it keeps its state (AzureWebJobsStorage)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.errors import SettingsError, TargetRejected
from shared.http.targets import (
    ACCOUNT_NAME,
    ANY_CONTAINER,
    CONTAINER_NAME,
    ContainerTarget,
    Endpoint,
    HostEntry,
    parse_container_uri,
    parse_host_entry,
    parse_uri,
    reserved_container,
)
from shared.settings.cloud import Cloud, other_cloud_problem, read_cloud, storage_cloud_of
from shared.settings.names import (
    AZURE_WEBJOBS_STORAGE,
    AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME,
    AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI,
    AZURE_WEBJOBS_STORAGE_CLIENT_ID,
    AZURE_WEBJOBS_STORAGE_CREDENTIAL,
    IOTHUB_MANAGED_IDENTITY_CLIENT_ID,
    MONITOR_BACKFILL_HOURS,
    MONITOR_CONTAINER,
    MONITOR_IDENTITY_CONTAINERS,
    MONITOR_IDLE_LIST_SECONDS,
    MONITOR_PREFIX,
    MONITOR_RECENT_END_MINUTES,
    MONITOR_REPORTS_CONTAINER,
    MONITOR_STALL_AFTER_MINUTES,
    MONITOR_STATE_CONTAINER,
    MONITOR_STORAGE_CLIENT_ID,
    MONITOR_STORAGE_HOST_ALLOWLIST,
    MONITOR_TICK_BUDGET_SECONDS,
    POLL_SCHEDULE,
)
from shared.settings.reader import SettingsReader

_BLOB_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
DEFAULT_STATE_CONTAINER = "jobmonitor-state"
DEFAULT_REPORTS_CONTAINER = "jobmonitor-reports"
# The timer runs often; each run lists only the hubs that are due (shared/poller/cadence.py).
DEFAULT_SCHEDULE = "*/30 * * * * *"
DEFAULT_IDLE_LIST_SECONDS = 300.0  # an idle hub: at most 12 list calls an hour
DEFAULT_RECENT_END_MINUTES = 5.0


@dataclass(frozen=True, kw_only=True)
class PollerSettings:
    schedule: str
    prefix: str
    container: str | None
    state_container: str
    reports_container: str  # in AzureWebJobsStorage: the app's own copy of every report (served by the app)
    stall_after_seconds: float
    backfill_seconds: float
    storage_host_allowlist: tuple[HostEntry, ...]  # each with its port: 443 unless the operator wrote another
    identity_containers: tuple[ContainerTarget, ...]
    storage_client_id: str | None
    tick_budget_seconds: float
    state_storage: StateStorage
    idle_list_seconds: float = DEFAULT_IDLE_LIST_SECONDS  # 0: every hub on every run (no cadence)
    recent_end_seconds: float = 60 * DEFAULT_RECENT_END_MINUTES
    app_containers: tuple[str, ...] = ()  # the app's other containers in AzureWebJobsStorage (the shared cache)

    @property
    def own_containers(self) -> tuple[str, ...]:
        """The app's own containers: never a place to write a job's files into, with any credential."""
        return (self.state_container, self.reports_container, *self.app_containers)

    def host_allowed(self, endpoint: Endpoint) -> bool:
        """May the poller contact this storage endpoint at all (with a job's SAS, or its identity)?"""
        return any(entry.allows(endpoint) for entry in self.storage_host_allowlist) or any(
            entry.endpoint.same_as(endpoint) for entry in self.identity_containers
        )

    def identity_allows(self, target: ContainerTarget) -> bool:
        """May the app's own identity write into (and read from) this container? Only where the operator
        listed it (MONITOR_IDENTITY_CONTAINERS), over https, and never into a reserved container."""
        if target.endpoint.scheme != "https" or reserved_container(target.container, own=self.own_containers):
            return False
        return any(
            entry.same_account(target) and entry.container in (ANY_CONTAINER, target.container)
            for entry in self.identity_containers
        )


@dataclass(frozen=True, kw_only=True)
class StateStorage:
    """Where the poller keeps its state: AzureWebJobsStorage, by connection string or by identity."""

    connection_string: str | None = field(default=None, repr=False)
    account_url: str | None = None
    client_id: str | None = None  # AzureWebJobsStorage__clientId: the user-assigned identity the host uses


def _state_storage(reader: SettingsReader, cloud: Cloud) -> StateStorage:
    connection_string = reader.text(AZURE_WEBJOBS_STORAGE)
    if connection_string is not None:
        return StateStorage(connection_string=connection_string)
    service_uri = reader.text(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI)
    account = reader.text(AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME)
    client_id = None
    if (reader.text(AZURE_WEBJOBS_STORAGE_CREDENTIAL) or "").lower() == "managedidentity":
        client_id = reader.text(AZURE_WEBJOBS_STORAGE_CLIENT_ID)
    if service_uri is not None:
        try:
            parsed = parse_uri(service_uri.rstrip("/"), what="the blob service URI")
        except TargetRejected as exc:
            raise SettingsError(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI, exc.reason) from None
        if parsed.endpoint.scheme != "https" or parsed.query:
            raise SettingsError(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI, "must be an https URL (tokens are sent there)")
        problem = other_cloud_problem(storage_cloud_of(parsed.endpoint.host), cloud, "the blob service URI")
        if problem is not None:
            raise SettingsError(AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI, problem)
        return StateStorage(account_url=f"{parsed.endpoint.origin}{parsed.path}", client_id=client_id)
    if account is not None:
        if not ACCOUNT_NAME.fullmatch(account):  # it becomes the host the app's storage token is sent to
            raise SettingsError(AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME,
                                "is not a storage account name (3-24 lowercase letters and digits)")
        return StateStorage(account_url=f"https://{account}{cloud.storage_suffix}", client_id=client_id)
    raise SettingsError(
        AZURE_WEBJOBS_STORAGE,
        f"is required (or {AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME} for identity-based access)",
    )


def _container(reader: SettingsReader, name: str, default: str | None) -> str | None:
    value = reader.text(name, default)
    if value is not None and not CONTAINER_NAME.fullmatch(value):
        raise SettingsError(name, f"{value!r} is not a blob container name (3-63 lowercase letters, digits, hyphens)")
    return value


def read_poller_settings(
    reader: SettingsReader, cloud: Cloud | None = None, *, app_containers: tuple[str, ...] = ()
) -> PollerSettings:
    """`app_containers`: the app's other containers in AzureWebJobsStorage, reserved like the state container."""
    cloud = cloud or read_cloud(reader)
    prefix = (reader.text(MONITOR_PREFIX, "jobmonitor") or "jobmonitor").strip("/")
    if not _BLOB_PREFIX.match(prefix):
        raise SettingsError(MONITOR_PREFIX, f"{prefix!r} is not a blob path prefix")
    schedule = reader.text(POLL_SCHEDULE, DEFAULT_SCHEDULE) or DEFAULT_SCHEDULE
    if len(schedule.split()) != 6:
        raise SettingsError(POLL_SCHEDULE, "must be a 6-field NCRONTAB expression ({second} {minute} ...)")
    allowlist = _allowlist(reader, cloud)
    state_container = _container(reader, MONITOR_STATE_CONTAINER, DEFAULT_STATE_CONTAINER) or DEFAULT_STATE_CONTAINER
    reports_container = (_container(reader, MONITOR_REPORTS_CONTAINER, DEFAULT_REPORTS_CONTAINER)
                         or DEFAULT_REPORTS_CONTAINER)
    if reports_container == state_container:
        raise SettingsError(MONITOR_REPORTS_CONTAINER, f"must differ from {MONITOR_STATE_CONTAINER}")
    return PollerSettings(
        schedule=schedule,
        prefix=prefix,
        container=_container(reader, MONITOR_CONTAINER, None),
        state_container=state_container,
        reports_container=reports_container,
        stall_after_seconds=60 * reader.number(MONITOR_STALL_AFTER_MINUTES, 120.0, float, low=0, high=60 * 24 * 30),
        backfill_seconds=3600 * reader.number(MONITOR_BACKFILL_HOURS, 24.0, float, low=0, high=24 * 30),
        storage_host_allowlist=allowlist,
        identity_containers=_identity_containers(
            reader, own=(state_container, reports_container, *app_containers), cloud=cloud),
        storage_client_id=reader.text(MONITOR_STORAGE_CLIENT_ID) or reader.text(IOTHUB_MANAGED_IDENTITY_CLIENT_ID),
        tick_budget_seconds=reader.number(MONITOR_TICK_BUDGET_SECONDS, 240.0, float, low=5, high=3600),
        state_storage=_state_storage(reader, cloud),
        app_containers=app_containers,
        idle_list_seconds=reader.number(MONITOR_IDLE_LIST_SECONDS, DEFAULT_IDLE_LIST_SECONDS, float, low=0,
                                        high=3600),
        recent_end_seconds=60 * reader.number(MONITOR_RECENT_END_MINUTES, DEFAULT_RECENT_END_MINUTES, float, low=0,
                                              high=24 * 60),
    )


def _allowlist(reader: SettingsReader, cloud: Cloud) -> tuple[HostEntry, ...]:
    """MONITOR_STORAGE_HOST_ALLOWLIST: host patterns, each with the one port it allows (443 unless written)."""
    entries = []
    for item in reader.items(MONITOR_STORAGE_HOST_ALLOWLIST):
        try:
            entry = parse_host_entry(item)
        except TargetRejected as exc:
            raise SettingsError(MONITOR_STORAGE_HOST_ALLOWLIST, exc.reason) from None
        problem = other_cloud_problem(storage_cloud_of(entry.pattern), cloud, f"{entry.pattern!r}")
        if problem is not None:
            raise SettingsError(MONITOR_STORAGE_HOST_ALLOWLIST, problem)
        entries.append(entry)
    return tuple(entries)


def _identity_containers(
    reader: SettingsReader, *, own: tuple[str, ...], cloud: Cloud
) -> tuple[ContainerTarget, ...]:
    """MONITOR_IDENTITY_CONTAINERS: `https://{account host}/{container}` or `.../*` for every container."""
    entries = []
    for item in reader.items(MONITOR_IDENTITY_CONTAINERS):
        try:
            entry = parse_container_uri(item, what="an entry", allow_wildcard=True)
        except TargetRejected as exc:
            raise SettingsError(
                MONITOR_IDENTITY_CONTAINERS, f"{exc.reason} (expected https://host/container)"
            ) from None
        if entry.sas is not None or "?" in item:
            raise SettingsError(MONITOR_IDENTITY_CONTAINERS, "entries are plain container URLs, without a query or SAS")
        if entry.endpoint.scheme != "https":
            raise SettingsError(MONITOR_IDENTITY_CONTAINERS, "entries must be https (the identity's token goes there)")
        problem = other_cloud_problem(storage_cloud_of(entry.endpoint.host), cloud, f"the entry {entry.url!r}")
        if problem is not None:
            raise SettingsError(MONITOR_IDENTITY_CONTAINERS, problem)
        if entry.container != ANY_CONTAINER and reserved_container(entry.container, own=own):
            raise SettingsError(
                MONITOR_IDENTITY_CONTAINERS,
                f"{entry.container!r} is a container of the Functions host or of this app, never written into",
            )
        entries.append(entry)
    return tuple(entries)
