"""The managed identity endpoint speaks App Service's protocol as azure-identity expects it."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobServiceClient

from devstack import processes, tokens
from devstack.azurite import AzuriteInfo
from devstack.identity import FaultKind, IdentityControl, IdentityEndpoint
from devstack.identity.identities import SYSTEM_ASSIGNED
from devstack.wellknown import (
    IOTHUB_AUDIENCE,
    STORAGE_AUDIENCE,
    SYSTEM_ASSIGNED_CLIENT_ID,
    TENANT_ID,
    TOKEN_ISSUER,
    TOKEN_SIGNING_KEY,
    USER_ASSIGNED_CLIENT_IDS,
)

USER_CLIENT_ID = sorted(USER_ASSIGNED_CLIENT_IDS)[0]
FAST_RETRY: dict[str, Any] = {"retry_backoff_factor": 0.01, "retry_backoff_max": 0.05}


@pytest.fixture
def msi_env(monkeypatch: pytest.MonkeyPatch, identity_endpoint: IdentityEndpoint, identity_control: IdentityControl):
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity_endpoint.url)
    monkeypatch.setenv("IDENTITY_HEADER", identity_endpoint.header)
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return identity_control


@pytest.mark.parametrize("audience", [IOTHUB_AUDIENCE, STORAGE_AUDIENCE])
def test_system_assigned_tokens_verify_for_both_audiences(msi_env: IdentityControl, audience: str) -> None:
    token = ManagedIdentityCredential().get_token(f"{audience}/.default")
    claims = tokens.verify(token.token, key=TOKEN_SIGNING_KEY, audience=audience)
    assert claims["iss"] == TOKEN_ISSUER
    assert claims["tid"] == TENANT_ID
    assert claims["appid"] == SYSTEM_ASSIGNED_CLIENT_ID
    assert claims["oid"] == SYSTEM_ASSIGNED.object_id
    assert claims["nbf"] <= claims["iat"] + 1 < claims["exp"]
    assert abs(token.expires_on - claims["exp"]) <= 2
    assert msi_env.counters().issued(audience) == 1


def test_user_assigned_by_client_id(msi_env: IdentityControl) -> None:
    token = ManagedIdentityCredential(client_id=USER_CLIENT_ID).get_token(f"{IOTHUB_AUDIENCE}/.default")
    claims = tokens.verify(token.token, key=TOKEN_SIGNING_KEY, audience=IOTHUB_AUDIENCE)
    assert claims["appid"] == USER_CLIENT_ID
    assert claims["client_id"] == USER_CLIENT_ID
    assert claims["oid"] != SYSTEM_ASSIGNED.object_id


def test_unknown_client_id_is_refused(msi_env: IdentityControl) -> None:
    credential = ManagedIdentityCredential(client_id="00000000-0000-0000-0000-00000000dead")
    with pytest.raises(ClientAuthenticationError, match="client_id"):
        credential.get_token(f"{IOTHUB_AUDIENCE}/.default")


def test_unknown_resource_is_refused(msi_env: IdentityControl) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        ManagedIdentityCredential().get_token("https://vault.azure.net/.default")
    assert msi_env.counters().rejected == 1


def test_token_cache_reuses_tokens(msi_env: IdentityControl) -> None:
    credential = ManagedIdentityCredential()
    first = credential.get_token(f"{STORAGE_AUDIENCE}/.default")
    second = credential.get_token(f"{STORAGE_AUDIENCE}/.default")
    assert first.token == second.token
    assert msi_env.counters().issued(STORAGE_AUDIENCE) == 1


def test_short_lifetime_forces_renewal(msi_env: IdentityControl) -> None:
    # MSAL treats tokens with less than five minutes left as expired, so each call fetches anew.
    msi_env.set_token_lifetime(60)
    credential = ManagedIdentityCredential()
    first: AccessToken = credential.get_token(f"{STORAGE_AUDIENCE}/.default")
    credential.get_token(f"{STORAGE_AUDIENCE}/.default")
    assert msi_env.counters().issued(STORAGE_AUDIENCE) == 2
    claims = tokens.verify(first.token, key=TOKEN_SIGNING_KEY, audience=STORAGE_AUDIENCE)
    assert 55 <= claims["exp"] - claims["iat"] - 300 <= 61


def test_wrong_header_fails_fast(msi_env: IdentityControl, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    with pytest.raises(ClientAuthenticationError, match="X-IDENTITY-HEADER"):
        ManagedIdentityCredential().get_token(f"{IOTHUB_AUDIENCE}/.default")
    assert msi_env.counters().rejected == 1


def test_transient_500_is_retried(msi_env: IdentityControl) -> None:
    msi_env.add_fault(FaultKind.ERROR_500, count=2)
    token = ManagedIdentityCredential(**FAST_RETRY).get_token(f"{IOTHUB_AUDIENCE}/.default")
    tokens.verify(token.token, key=TOKEN_SIGNING_KEY, audience=IOTHUB_AUDIENCE)
    counters = msi_env.counters()
    assert counters.faults_served == {FaultKind.ERROR_500.value: 2}
    assert counters.issued(IOTHUB_AUDIENCE) == 1


def test_persistent_500_surfaces_an_error(msi_env: IdentityControl) -> None:
    msi_env.add_fault(FaultKind.ERROR_500, count=50)
    credential = ManagedIdentityCredential(retry_total=2, **FAST_RETRY)
    with pytest.raises(ClientAuthenticationError, match="unexpected error"):
        credential.get_token(f"{IOTHUB_AUDIENCE}/.default")
    assert msi_env.counters().faults_served == {FaultKind.ERROR_500.value: 3}


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {"api-version": "2019-08-01", "resource": IOTHUB_AUDIENCE}, 400),
        ({"X-IDENTITY-HEADER": "wrong"}, {"api-version": "2019-08-01", "resource": IOTHUB_AUDIENCE}, 401),
        (None, {"resource": IOTHUB_AUDIENCE}, 400),
        (None, {"api-version": "2017-09-01", "resource": IOTHUB_AUDIENCE}, 400),
        (None, {"api-version": "2019-08-01"}, 400),
        (None, {"api-version": "2019-08-01", "resource": IOTHUB_AUDIENCE, "object_id": "x"}, 400),
    ],
)
def test_protocol_errors_have_app_service_shape(
    identity_endpoint: IdentityEndpoint, identity_control: IdentityControl, headers, params, status
) -> None:
    sent = {"X-IDENTITY-HEADER": identity_endpoint.header} if headers is None else headers
    response = requests.get(identity_endpoint.url, headers=sent, params=params, timeout=5)
    assert response.status_code == status
    body = response.json()
    assert body["statusCode"] == status
    assert body["message"]
    assert body["error"]
    assert "access_token" not in body


def test_raw_response_shape(identity_endpoint: IdentityEndpoint, identity_control: IdentityControl) -> None:
    response = requests.get(
        identity_endpoint.url,
        headers={"X-IDENTITY-HEADER": identity_endpoint.header},
        params={"api-version": "2019-08-01", "resource": f"{STORAGE_AUDIENCE}/", "client_id": USER_CLIENT_ID},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str)
    assert body["expires_on"].isdigit()
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == USER_CLIENT_ID
    tokens.verify(body["access_token"], key=TOKEN_SIGNING_KEY, audience=STORAGE_AUDIENCE)


def test_control_validates_faults(identity_endpoint: IdentityEndpoint, identity_control: IdentityControl) -> None:
    response = requests.post(f"{identity_endpoint.base_url}/devstack/faults", json={"kind": "nope"}, timeout=5)
    assert response.status_code == 400
    assert "error500" in response.json()["message"]


def test_storage_token_works_with_azurite(msi_env: IdentityControl, azurite_oauth: AzuriteInfo) -> None:
    assert azurite_oauth.ca_bundle is not None
    service = BlobServiceClient(
        account_url=azurite_oauth.account_url,
        credential=ManagedIdentityCredential(),
        connection_verify=str(azurite_oauth.ca_bundle),
    )
    container = service.create_container("identity-oauth")
    container.upload_blob("hello.txt", b"hello")
    assert container.download_blob("hello.txt").readall() == b"hello"
    assert msi_env.counters().issued(STORAGE_AUDIENCE) == 1


class _IotHubAudience:
    """A credential that asks the endpoint for an IoT Hub token whatever scope the client wants."""

    def __init__(self) -> None:
        self._inner = ManagedIdentityCredential()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token: AccessToken = self._inner.get_token(f"{IOTHUB_AUDIENCE}/.default")
        return token


def test_iothub_token_is_refused_by_azurite(msi_env: IdentityControl, azurite_oauth: AzuriteInfo) -> None:
    assert azurite_oauth.ca_bundle is not None
    service = BlobServiceClient(
        account_url=azurite_oauth.account_url,
        credential=_IotHubAudience(),
        connection_verify=str(azurite_oauth.ca_bundle),
    )
    with pytest.raises(HttpResponseError) as refused:
        service.create_container("identity-wrong-audience")
    assert refused.value.status_code in (401, 403)
    assert msi_env.counters().issued(IOTHUB_AUDIENCE) == 1


def test_cli_serves_until_sigterm_and_never_prints_tokens() -> None:
    port = processes.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.identity", "--port", str(port), "--verbose"],
        cwd=processes.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        processes.wait_for_port(port, timeout=10)
        response = requests.get(
            f"http://127.0.0.1:{port}/msi/token",
            headers={"X-IDENTITY-HEADER": IdentityEndpoint().header},
            params={"api-version": "2019-08-01", "resource": IOTHUB_AUDIENCE},
            timeout=5,
        )
        assert response.status_code == 200
        token = response.json()["access_token"]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    text = output.decode()
    assert f"IDENTITY_ENDPOINT=http://127.0.0.1:{port}/msi/token" in text
    assert token not in text
    assert token.split(".")[2] not in text
