"""SAS tokens: identical to the official SDK's, reused, and renewed before they expire."""

from __future__ import annotations

import urllib.parse

from azure.iot.hub.sastoken import SasToken

from devstack.wellknown import HUB_POLICY_KEYS, hub_connection_string
from shared.iothub.auth import SasAuth, sas_token
from shared.settings import AppSettings


def _fields(token: str) -> dict[str, str]:
    assert token.startswith("SharedAccessSignature ")
    pairs = urllib.parse.parse_qs(token.removeprefix("SharedAccessSignature "), strict_parsing=True)
    return {name: values[0] for name, values in pairs.items()}


def test_sas_token_matches_the_official_sdk() -> None:
    settings = AppSettings.from_environ(
        {"IOTHUB_HUBS": "devhub", "IOTHUB_AUTH": "sharedAccessPolicy", "AzureWebJobsStorage": "x=y",
         "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub", "registryRead")}
    )
    connection_string = settings.hub.default_hub.connection_string
    assert connection_string is not None
    ours = _fields(sas_token(connection_string, expiry=1_900_000_000))
    sdk = SasToken("devhub.azure-devices.net", HUB_POLICY_KEYS["registryRead"], "registryRead")
    sdk.expiry_time = 1_900_000_000
    theirs = _fields(sdk._build_token())
    assert ours == theirs


def test_sas_is_reused_then_renewed_before_expiry() -> None:
    settings = AppSettings.from_environ(
        {"IOTHUB_HUBS": "devhub", "IOTHUB_AUTH": "sharedAccessPolicy", "AzureWebJobsStorage": "x=y",
         "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub")}
    )
    now = [1_000_000.0]
    auth = SasAuth(ttl_seconds=600, clock=lambda: now[0])
    hub = settings.hub.default_hub
    first = auth.authorization(hub)
    now[0] += 400
    assert auth.authorization(hub) == first and auth.minted == 1
    now[0] += 60  # 150 s before expiry: inside the renewal margin (a quarter of the TTL)
    renewed = auth.authorization(hub)
    assert renewed != first and auth.minted == 2
    assert int(_fields(renewed)["se"]) == int(now[0]) + 600
