"""The devstack's well-known development values, documented in the README like Azurite's key.

None of these is a secret: they only open the local stand-ins on 127.0.0.1.
"""

from __future__ import annotations

# IoT Hub simulator: the hub's shared access policies and their keys.
HUB_POLICY_KEYS: dict[str, str] = {
    "iothubowner": "VO+ZmoZhk3uIEy5ssu1oWe/utX3IOzbwXtwrpZRp/vs=",
    "service": "aB+zKvifcr7R1B8CAGclzcnAafdiVQ2fi5POoRH2c8g=",
    "registryRead": "HhDC2MsecQPRvA/Ha1eO1SI6gqNGLde4je473Biw3pw=",
    "registryReadWrite": "ISFlH9Qzobf1weZaMl0JUau4AMhHaXM2RZpWhEA/MTc=",
}
# Policies whose rights include reading import/export jobs (registryRead is presumed enough) and
# creating/cancelling them (Registry Read + Write). `service` has only ServiceConnect: it may not read
# jobs (the harder case, where the real service is undocumented).
HUB_READ_POLICIES = frozenset({"iothubowner", "registryRead", "registryReadWrite"})
HUB_WRITE_POLICIES = frozenset({"iothubowner", "registryReadWrite"})

DEFAULT_HUB_NAME = "devhub"
DEFAULT_HUB_PORT = 7081
IDENTITY_PORT = 7082
FUNCTIONS_HOST_PORT = 7071
AZURITE_BLOB_PORT = 10000


def hub_connection_string(hub: str, policy: str = "iothubowner") -> str:
    return (
        f"HostName={hub}.azure-devices.net;SharedAccessKeyName={policy};"
        f"SharedAccessKey={HUB_POLICY_KEYS[policy]}"
    )


# Managed-identity endpoint (App Service protocol).
IDENTITY_HEADER = "devstack-identity-header"
# HS256 key the identity endpoint signs tokens with and the hub simulator verifies them with.
TOKEN_SIGNING_KEY = b"devstack-token-signing-key-not-a-secret"
TENANT_ID = "11111111-2222-3333-4444-555555555555"
TOKEN_ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
SYSTEM_ASSIGNED_CLIENT_ID = "5a5a5a5a-0000-4000-8000-000000000001"
USER_ASSIGNED_CLIENT_IDS = frozenset({"5a5a5a5a-0000-4000-8000-000000000002"})
IOTHUB_AUDIENCE = "https://iothubs.azure.net"
STORAGE_AUDIENCE = "https://storage.azure.com"
# IoT Hub's audiences in Azure China and US Government: the identity endpoint issues tokens for them too, so
# that a test can see which cloud's audience the app asked for (no hub of those clouds runs here).
SOVEREIGN_IOTHUB_AUDIENCES = ("https://iothubs.chinacloudapi.cn", "https://iothubs.azure.us")

# Azurite's documented well-known account.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(blob_endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={blob_endpoint};"
    )
