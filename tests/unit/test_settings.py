"""Settings: read once, typed, and every invalid value named by its setting."""

from __future__ import annotations

import pytest

from devstack.wellknown import hub_connection_string
from shared.errors import SettingsError
from shared.http.targets import Endpoint
from shared.settings import AppSettings, HubAuthMode

BASE = {"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_defaults() -> None:
    settings = AppSettings.from_environ(BASE)
    hub = settings.hub.default_hub
    assert (hub.name, hub.endpoint) == ("devhub", "https://devhub.azure-devices.net")
    assert hub.host_name == "devhub.azure-devices.net"
    assert settings.hub.auth_mode is HubAuthMode.MANAGED_IDENTITY
    assert settings.hub.api_version == "2021-04-12"
    assert settings.proxy.cache_ttl_seconds == 2.0
    assert settings.proxy.redact_sas is True
    # The timer runs every 30 s; an idle hub is listed every 300 s (12 calls an hour), a busy one on every run.
    assert settings.poller.schedule == "*/30 * * * * *"
    assert (settings.poller.idle_list_seconds, settings.poller.recent_end_seconds) == (300, 300)
    assert settings.poller.stall_after_seconds == 7200
    # Nothing is written anywhere until the operator names output storage.
    assert (settings.poller.storage_host_allowlist, settings.poller.identity_containers) == ((), ())
    assert not settings.poller.host_allowed(Endpoint(scheme="https", host="acct.blob.core.windows.net"))


def test_storage_hosts_allowed_by_pattern_or_by_an_identity_container() -> None:
    poller = AppSettings.from_environ({
        **BASE, "MONITOR_STORAGE_HOST_ALLOWLIST": "acct*.blob.core.windows.net",
        "MONITOR_IDENTITY_CONTAINERS": "https://exports.blob.core.windows.net/*",
    }).poller
    assert poller.host_allowed(Endpoint(scheme="https", host="acct1.blob.core.windows.net"))
    assert poller.host_allowed(Endpoint(scheme="https", host="exports.blob.core.windows.net"))
    assert not poller.host_allowed(Endpoint(scheme="https", host="evil.example.com"))
    assert not poller.host_allowed(Endpoint(scheme="https", host="other.blob.core.windows.net"))


def test_several_hubs_endpoint_override_and_connection_strings() -> None:
    settings = AppSettings.from_environ(
        {
            **BASE,
            "IOTHUB_HUBS": "devhub, hub-eu",
            "IOTHUB_ENDPOINTS": "devhub=http://127.0.0.1:7081",
            "IOTHUB_AUTH": "sharedAccessPolicy",
            "IOTHUB_CONNECTION_STRINGS": "|".join(
                [hub_connection_string("devhub"), hub_connection_string("hub-eu", "service")]
            ),
        }
    )
    devhub, eu = settings.hub.hubs
    assert devhub.endpoint == "http://127.0.0.1:7081"
    assert eu.endpoint == "https://hub-eu.azure-devices.net"
    assert eu.connection_string is not None and eu.connection_string.policy_name == "service"
    assert settings.hub.hub("HUB-EU") is eu
    assert "SharedAccessKey" not in repr(settings) and "key=" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"IOTHUB_HUBS": ""}, "IOTHUB_HUBS"),
        ({"IOTHUB_HUBS": "a"}, "IOTHUB_HUBS"),
        ({"IOTHUB_HUBS": "good,bad_name"}, "IOTHUB_HUBS"),
        ({"IOTHUB_HUBS": "devhub,DEVHUB"}, "IOTHUB_HUBS"),
        ({"IOTHUB_AUTH": "password"}, "IOTHUB_AUTH"),
        ({"IOTHUB_ENDPOINTS": "devhub=ftp://x"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "other=http://127.0.0.1:1"}, "IOTHUB_ENDPOINTS"),
        # Credentials are sent to the endpoint: only the hub's own Azure name over https, or loopback.
        ({"IOTHUB_ENDPOINTS": "devhub=http://10.1.2.3:80"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "devhub=http://devhub.azure-devices.net"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "devhub=https://devhub.azure-devices.net.evil.com"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "devhub=https://otherhub.azure-devices.net"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "devhub=https://evil\\.devhub.azure-devices.net"}, "IOTHUB_ENDPOINTS"),
        ({"IOTHUB_ENDPOINTS": "devhub=https://127.0.0.1:1\\@devhub.azure-devices.net"}, "IOTHUB_ENDPOINTS"),
        ({"AzureWebJobsStorage": "", "AzureWebJobsStorage__blobServiceUri": "http://acct.blob.core.windows.net"},
         "AzureWebJobsStorage__blobServiceUri"),
        ({"IOTHUB_AUTH": "sharedAccessPolicy"}, "IOTHUB_CONNECTION_STRINGS"),
        ({"IOTHUB_AUTH": "sharedAccessPolicy", "IOTHUB_CONNECTION_STRINGS": "HostName=devhub.azure-devices.net"},
         "IOTHUB_CONNECTION_STRINGS"),
        ({"IOTHUB_API_VERSION": "2099-01-01"}, "IOTHUB_API_VERSION"),
        ({"IOTHUB_SAS_TTL_SECONDS": "ten"}, "IOTHUB_SAS_TTL_SECONDS"),
        ({"IOTHUB_RETRY_BUDGET_SECONDS": "500"}, "IOTHUB_RETRY_BUDGET_SECONDS"),
        ({"GET_JOB_REDACT_SAS": "maybe"}, "GET_JOB_REDACT_SAS"),
        ({"POLL_SCHEDULE": "*/5 * * * *"}, "POLL_SCHEDULE"),
        ({"MONITOR_CONTAINER": "Bad_Container"}, "MONITOR_CONTAINER"),
        ({"MONITOR_PREFIX": "a//b"}, "MONITOR_PREFIX"),
        ({"MONITOR_IDLE_LIST_SECONDS": "-1"}, "MONITOR_IDLE_LIST_SECONDS"),
        ({"MONITOR_IDLE_LIST_SECONDS": "3601"}, "MONITOR_IDLE_LIST_SECONDS"),
        ({"MONITOR_IDLE_LIST_SECONDS": "nan"}, "MONITOR_IDLE_LIST_SECONDS"),
        ({"MONITOR_IDLE_LIST_SECONDS": "five minutes"}, "MONITOR_IDLE_LIST_SECONDS"),
        ({"MONITOR_RECENT_END_MINUTES": "-0.5"}, "MONITOR_RECENT_END_MINUTES"),
        ({"MONITOR_RECENT_END_MINUTES": "1441"}, "MONITOR_RECENT_END_MINUTES"),
        ({"AzureWebJobsStorage": ""}, "AzureWebJobsStorage"),
    ],
)
def test_invalid_settings_name_the_setting(overrides: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({**BASE, **overrides})
    assert raised.value.setting == setting
    assert setting in str(raised.value)


@pytest.mark.parametrize(
    "endpoint",
    ["https://devhub.azure-devices.net", "http://127.0.0.1:7081", "http://localhost:7081", "https://[::1]:8443"],
)
def test_allowed_endpoint_overrides(endpoint: str) -> None:
    settings = AppSettings.from_environ({**BASE, "IOTHUB_ENDPOINTS": f"devhub={endpoint}"})
    assert settings.hub.default_hub.endpoint == endpoint


def test_a_connection_string_for_another_host_is_refused_by_name() -> None:
    """`devhub.evil.example` passes as hub devhub's string by its first label; its token would sign that host."""
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ(
            {**BASE, "IOTHUB_AUTH": "sharedAccessPolicy",
             "IOTHUB_CONNECTION_STRINGS": "HostName=devhub.evil.example;SharedAccessKeyName=x;SharedAccessKey=eA=="}
        )
    assert raised.value.setting == "IOTHUB_CONNECTION_STRINGS" and "devhub.azure-devices.net" in str(raised.value)


def test_connection_string_key_never_in_error_text() -> None:
    secret = "c2VjcmV0LWtleS12YWx1ZQ=="
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ(
            {**BASE, "IOTHUB_AUTH": "sharedAccessPolicy",
             "IOTHUB_CONNECTION_STRINGS":
                 f"HostName=other.azure-devices.net;SharedAccessKeyName=x;SharedAccessKey={secret}"}
        )
    assert secret not in str(raised.value)


def test_identity_based_state_storage() -> None:
    settings = AppSettings.from_environ(
        {"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage__accountName": "monitorstate"}
    )
    assert settings.poller.state_storage.account_url == "https://monitorstate.blob.core.windows.net"
    assert settings.poller.state_storage.connection_string is None


@pytest.mark.parametrize("account", ["evil.example.com/x", "UPPER", "ab", "a" * 25, "state-1", "x@y"])
def test_a_state_account_name_that_is_not_one_is_refused_by_name(account: str) -> None:
    """It becomes the host the app's storage token goes to: only a storage account name is taken."""
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage__accountName": account})
    assert raised.value.setting == "AzureWebJobsStorage__accountName"


def test_the_call_budget_and_the_shared_cache_default_to_a_safe_share_in_the_apps_own_storage() -> None:
    settings = AppSettings.from_environ(BASE)
    assert settings.hub.calls_per_minute_for("devhub") == 50  # half of one S1 unit's 100 a minute
    shared = settings.shared_cache
    assert (shared.enabled, shared.container, shared.max_entries) == (True, "jobmonitor-cache", 10_000)
    assert shared.storage == settings.poller.state_storage
    assert settings.hub.shared_cache == shared  # the hub client keeps the budget there
    # The shared container is the app's own: never a place the poller writes a job's files into.
    assert settings.poller.own_containers == ("jobmonitor-state", "jobmonitor-reports", "jobmonitor-cache")


def test_the_call_budget_per_hub() -> None:
    settings = AppSettings.from_environ({**BASE, "IOTHUB_HUBS": "devhub,otherhub",
                                         "IOTHUB_CALLS_PER_MINUTE": "20, OtherHub=80"})
    assert (settings.hub.calls_per_minute_for("DEVHUB"), settings.hub.calls_per_minute_for("otherhub")) == (20, 80)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"IOTHUB_CALLS_PER_MINUTE": "many"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"IOTHUB_CALLS_PER_MINUTE": "0"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"IOTHUB_CALLS_PER_MINUTE": "10001"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"IOTHUB_CALLS_PER_MINUTE": "nohub=5"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"IOTHUB_CALLS_PER_MINUTE": "5,6"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"IOTHUB_CALLS_PER_MINUTE": "devhub=5,devhub=6"}, "IOTHUB_CALLS_PER_MINUTE"),
        ({"SHARED_CACHE_ENABLED": "sometimes"}, "SHARED_CACHE_ENABLED"),
        ({"SHARED_CACHE_CONTAINER": "Cache"}, "SHARED_CACHE_CONTAINER"),
        ({"SHARED_CACHE_CONTAINER": "azure-webjobs-cache"}, "SHARED_CACHE_CONTAINER"),
        ({"SHARED_CACHE_CONTAINER": "jobmonitor-state"}, "SHARED_CACHE_CONTAINER"),
        ({"SHARED_CACHE_CONTAINER": "jobmonitor-reports"}, "SHARED_CACHE_CONTAINER"),
        ({"SHARED_CACHE_MAX_ENTRIES": "10"}, "SHARED_CACHE_MAX_ENTRIES"),
        # The operator cannot hand the app's identity the shared cache as a job's output container.
        ({"MONITOR_IDENTITY_CONTAINERS": "https://acct.blob.core.windows.net/jobmonitor-cache"},
         "MONITOR_IDENTITY_CONTAINERS"),
        # A token audience is an https origin: no plain http, no path, no query.
        ({"IOTHUB_AUDIENCE": "http://iothubs.azure.net"}, "IOTHUB_AUDIENCE"),
        ({"IOTHUB_AUDIENCE": "https://iothubs.azure.net/.default"}, "IOTHUB_AUDIENCE"),
        ({"IOTHUB_AUDIENCE": "https://iothubs.azure.net?x=1"}, "IOTHUB_AUDIENCE"),
        ({"IOTHUB_AUDIENCE": "iothubs.azure.net"}, "IOTHUB_AUDIENCE"),
    ],
)
def test_invalid_shared_settings_name_the_setting(overrides: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({**BASE, **overrides})
    assert raised.value.setting == setting
# -- AZURE_CLOUD ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cloud", "host", "scope", "state_account"),
    [
        (None, "devhub.azure-devices.net", "https://iothubs.azure.net/.default",
         "https://state.blob.core.windows.net"),
        ("AzureCloud", "devhub.azure-devices.net", "https://iothubs.azure.net/.default",
         "https://state.blob.core.windows.net"),
        # The SDKs' audience for every cloud but US Government (IotHubAuthenticationScopes).
        ("AzureChinaCloud", "devhub.azure-devices.cn", "https://iothubs.azure.net/.default",
         "https://state.blob.core.chinacloudapi.cn"),
        ("azureusgovernment", "devhub.azure-devices.us", "https://iothubs.azure.us/.default",
         "https://state.blob.core.usgovcloudapi.net"),
    ],
)
def test_the_cloud_sets_hub_suffix_token_audience_and_storage_suffix(
    cloud: str | None, host: str, scope: str, state_account: str
) -> None:
    from shared.iothub.auth import TokenAuth, build_hub_auth

    environ = {"IOTHUB_HUBS": "DevHub", "AzureWebJobsStorage__accountName": "state"}
    if cloud is not None:
        environ["AZURE_CLOUD"] = cloud
    settings = AppSettings.from_environ(environ)
    hub = settings.hub.default_hub
    assert (hub.host_name, hub.endpoint) == (host, f"https://{host}")
    auth = build_hub_auth(settings.hub)
    assert isinstance(auth, TokenAuth) and auth.scope == scope
    assert settings.poller.state_storage.account_url == state_account
    # The cloud's own hosts are accepted where the settings name hosts.
    sibling = state_account.replace("state", "exports")
    same_cloud = AppSettings.from_environ({**environ, "IOTHUB_ENDPOINTS": f"devhub=https://{host}",
                                           "MONITOR_IDENTITY_CONTAINERS": f"{sibling}/*"})
    assert same_cloud.poller.identity_containers[0].endpoint.host == sibling.removeprefix("https://")


@pytest.mark.parametrize("cloud", ["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"])
def test_iothub_audience_overrides_the_clouds(cloud: str) -> None:
    from shared.iothub.auth import TokenAuth, build_hub_auth

    environ = {"IOTHUB_HUBS": "DevHub", "AzureWebJobsStorage__accountName": "state", "AZURE_CLOUD": cloud,
               "IOTHUB_AUDIENCE": "https://iothubs.example.net/"}
    auth = build_hub_auth(AppSettings.from_environ(environ).hub)
    assert isinstance(auth, TokenAuth) and auth.scope == "https://iothubs.example.net/.default"


@pytest.mark.parametrize(
    ("cloud", "overrides", "setting", "other"),
    [
        ("AzureCloud", {"IOTHUB_ENDPOINTS": "devhub=https://devhub.azure-devices.cn"}, "IOTHUB_ENDPOINTS",
         "AzureChinaCloud"),
        ("AzureChinaCloud", {"IOTHUB_ENDPOINTS": "devhub=https://devhub.azure-devices.net"}, "IOTHUB_ENDPOINTS",
         "AzureCloud"),
        ("AzureCloud", {"IOTHUB_HUBS": "devhub.azure-devices.us"}, "IOTHUB_HUBS", "AzureUSGovernment"),
        ("AzureChinaCloud", {"IOTHUB_AUTH": "sharedAccessPolicy", "IOTHUB_CONNECTION_STRINGS":
         "HostName=devhub.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey=a2V5"}, "IOTHUB_CONNECTION_STRINGS",
         "AzureCloud"),
        ("AzureCloud", {"MONITOR_IDENTITY_CONTAINERS": "https://acct.blob.core.chinacloudapi.cn/jobs"},
         "MONITOR_IDENTITY_CONTAINERS", "AzureChinaCloud"),
        ("AzureUSGovernment", {"MONITOR_IDENTITY_CONTAINERS": "https://acct.blob.core.windows.net/*"},
         "MONITOR_IDENTITY_CONTAINERS", "AzureCloud"),
        ("AzureUSGovernment", {"MONITOR_STORAGE_HOST_ALLOWLIST": "*.blob.core.windows.net"},
         "MONITOR_STORAGE_HOST_ALLOWLIST", "AzureCloud"),
        ("AzureCloud", {"AzureWebJobsStorage": "", "AzureWebJobsStorage__blobServiceUri":
         "https://state.blob.core.usgovcloudapi.net"}, "AzureWebJobsStorage__blobServiceUri", "AzureUSGovernment"),
    ],
)
def test_a_host_of_another_cloud_is_refused_naming_the_setting(
    cloud: str, overrides: dict[str, str], setting: str, other: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({**BASE, "AZURE_CLOUD": cloud, **overrides})
    assert raised.value.setting == setting
    assert other in raised.value.problem and "AZURE_CLOUD" in raised.value.problem


def test_an_unknown_cloud_is_refused() -> None:
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({**BASE, "AZURE_CLOUD": "AzureGermanCloud"})
    assert raised.value.setting == "AZURE_CLOUD"
    assert "AzureChinaCloud" in raised.value.problem
