"""MONITOR_STORAGE_HOST_ALLOWLIST entries carry the port (issue 21, point 7): 443, https's, unless the operator
writes another; a host on the list is refused on any other port."""

from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.http.targets import Endpoint
from shared.settings import AppSettings
from shared.settings.names import MONITOR_STORAGE_HOST_ALLOWLIST

BASE = {"IOTHUB_HUBS": "hub1", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def _allowed(allowlist: str, endpoint: Endpoint) -> bool:
    return AppSettings.from_environ({**BASE, MONITOR_STORAGE_HOST_ALLOWLIST: allowlist}).poller.host_allowed(endpoint)


@pytest.mark.parametrize(("allowlist", "endpoint", "allowed"), [
    ("acct.blob.core.windows.net", Endpoint(scheme="https", host="acct.blob.core.windows.net"), True),
    ("acct.blob.core.windows.net", Endpoint(scheme="https", host="acct.blob.core.windows.net", port=443), True),
    ("acct.blob.core.windows.net", Endpoint(scheme="https", host="acct.blob.core.windows.net", port=8443), False),
    ("*.blob.core.windows.net", Endpoint(scheme="https", host="acct.blob.core.windows.net", port=444), False),
    ("*.blob.core.windows.net:8443", Endpoint(scheme="https", host="acct.blob.core.windows.net", port=8443), True),
    ("*.blob.core.windows.net:8443", Endpoint(scheme="https", host="acct.blob.core.windows.net"), False),
    ("127.0.0.1:10000", Endpoint(scheme="http", host="127.0.0.1", port=10000), True),
    ("127.0.0.1:10000", Endpoint(scheme="http", host="127.0.0.1", port=10001), False),
    ("127.0.0.1:10000", Endpoint(scheme="http", host="127.0.0.1"), False),  # plain http's port 80
    ("127.0.0.1", Endpoint(scheme="http", host="127.0.0.1", port=10000), False),  # no port written: 443 only
    ("[::1]:10000", Endpoint(scheme="http", host="::1", port=10000), True),
    ("127.0.0.1:10000,127.0.0.1:10002", Endpoint(scheme="http", host="127.0.0.1", port=10002), True),
])
def test_an_entry_allows_its_host_on_its_port_only(allowlist: str, endpoint: Endpoint, allowed: bool) -> None:
    assert _allowed(allowlist, endpoint) is allowed


@pytest.mark.parametrize("entry", ["acct.blob.core.windows.net:0", "acct.blob.core.windows.net:65536",
                                   "acct.blob.core.windows.net:https", "acct.blob.core.windows.net:",
                                   "127.0.0.1:10000:1", "https://acct.blob.core.windows.net", "acct:+443",
                                   "acct.blob.core.windows.net:0443"])
def test_an_entry_that_is_no_host_and_port_is_refused_naming_the_setting(entry: str) -> None:
    with pytest.raises(SettingsError) as raised:
        AppSettings.from_environ({**BASE, MONITOR_STORAGE_HOST_ALLOWLIST: entry})
    assert raised.value.setting == MONITOR_STORAGE_HOST_ALLOWLIST
