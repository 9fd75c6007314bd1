"""Azurite runs, and azure-storage-blob talks to it with shared key and with SAS."""

from __future__ import annotations

import datetime

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContainerSasPermissions, generate_container_sas

from devstack.azurite import AzuriteInfo
from devstack.wellknown import AZURITE_ACCOUNT, AZURITE_KEY


def test_shared_key_and_sas_round_trip(azurite: AzuriteInfo) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("sas-round-trip")
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        "sas-round-trip",
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, write=True, list=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    by_sas = ContainerClient.from_container_url(f"{container.url}?{sas}")
    by_sas.upload_blob("hello.txt", b"hello")
    assert container.download_blob("hello.txt").readall() == b"hello"
    assert [b.name for b in by_sas.list_blobs()] == ["hello.txt"]


def test_expired_sas_is_refused(azurite: AzuriteInfo) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("sas-expired")
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        "sas-expired",
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, write=True),
        expiry=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5),
    )
    with pytest.raises(HttpResponseError) as refused:
        ContainerClient.from_container_url(f"{container.url}?{sas}").upload_blob("x.txt", b"x")
    assert refused.value.status_code == 403


def test_oauth_mode_serves_https_and_refuses_anonymous(azurite_oauth: AzuriteInfo) -> None:
    assert azurite_oauth.ca_bundle is not None
    response = requests.get(
        f"{azurite_oauth.account_url}?comp=list", verify=str(azurite_oauth.ca_bundle), timeout=10
    )
    assert response.status_code in (401, 403)
