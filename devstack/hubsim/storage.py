"""Blob I/O for import/export jobs against Azurite (or Azure Storage) with azure-storage-blob.

keyBased jobs use the SAS in the container URI; identityBased jobs use a bearer token for
https://storage.azure.com from a `StorageTokenProvider` (the devstack managed-identity endpoint, or a
callable given by tests). Failures become `StorageFailure` whose text is a failureReason worded like IoT
Hub's, never containing the SAS.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from devstack import wellknown
from devstack.hubsim.errors import ErrorCode
from devstack.hubsim.vocab import StorageAuthenticationType

IDENTITY_API_VERSION = "2019-08-01"
IDENTITY_HEADER_NAME = "X-IDENTITY-HEADER"
STORAGE_RESOURCE = wellknown.STORAGE_AUDIENCE
BLOB_TIMEOUT_SECONDS = 10
NO_TOKEN = "the IoT hub's managed identity could not get a token for storage"  # noqa: S105 - a message


class StorageToken(NamedTuple):
    token: str
    expires_on: int


StorageTokenProvider = Callable[[], StorageToken]


class StorageFailure(Exception):
    """Blob work failed; str(self) is the job's failureReason."""


@dataclass(frozen=True)
class IdentityEndpoint:
    url: str
    header: str


def identity_endpoint_provider(endpoint: IdentityEndpoint, *, timeout: float = 10.0) -> StorageTokenProvider:
    """Tokens for https://storage.azure.com from an App Service-style managed-identity endpoint."""

    def provide() -> StorageToken:
        query = urllib.parse.urlencode({"api-version": IDENTITY_API_VERSION, "resource": STORAGE_RESOURCE})
        request = urllib.request.Request(  # noqa: S310 - the configured devstack endpoint
            f"{endpoint.url}?{query}", headers={IDENTITY_HEADER_NAME: endpoint.header}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            payload = json.loads(response.read())
        return StorageToken(str(payload["access_token"]), int(payload["expires_on"]))

    return provide


class _ProviderCredential:
    """azure-core TokenCredential over a StorageTokenProvider."""

    def __init__(self, provider: StorageTokenProvider) -> None:
        self._provider = provider

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            token = self._provider()
        except Exception as exc:  # any provider failure (HTTP error, bad JSON, refused): no token
            raise ClientAuthenticationError(message=f"{NO_TOKEN}: {type(exc).__name__}") from None
        return AccessToken(token.token, token.expires_on)


def strip_sas(uri: str) -> str:
    """The container URI without its query (the SAS), for failure texts and logs."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _container_name(uri: str) -> str:
    return urllib.parse.urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1]


class BlobAccess:
    """Opens job containers with the job's storage authentication type."""

    def __init__(
        self, *, ca_bundle: Path | None = None, token_provider: StorageTokenProvider | None = None
    ) -> None:
        self._ca_bundle = ca_bundle
        self._token_provider = token_provider

    @property
    def identity_enabled(self) -> bool:
        return self._token_provider is not None

    def _container(self, uri: str, auth: StorageAuthenticationType) -> ContainerClient:
        options: dict[str, Any] = {"retry_total": 0, "connection_timeout": BLOB_TIMEOUT_SECONDS}
        if self._ca_bundle is not None:
            options["connection_verify"] = str(self._ca_bundle)
        if auth is StorageAuthenticationType.IDENTITY_BASED:
            if self._token_provider is None:
                raise StorageFailure(
                    f"ErrorCode:{ErrorCode.MANAGED_IDENTITY_NOT_ENABLED.code_name};"
                    "The IoT hub has no managed identity to access storage."
                )
            return ContainerClient.from_container_url(
                strip_sas(uri), credential=_ProviderCredential(self._token_provider), **options
            )
        return ContainerClient.from_container_url(uri, **options)

    def write(self, uri: str, auth: StorageAuthenticationType, blob: str, text: str) -> None:
        try:
            container = self._container(uri, auth)
            container.upload_blob(blob, text.encode(), overwrite=True)
        except (AzureError, OSError, ValueError, KeyError) as exc:
            raise StorageFailure(_failure_reason(uri, exc, action="write to")) from None

    def read(self, uri: str, auth: StorageAuthenticationType, blob: str) -> str:
        try:
            container = self._container(uri, auth)
            return container.download_blob(blob).readall().decode("utf-8-sig")
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "BlobNotFound":
                raise StorageFailure(
                    f"ErrorCode:{ErrorCode.BLOB_CONTAINER_VALIDATION_ERROR.code_name};"
                    f"Unable to read blob '{blob}' in blob container '{_container_name(uri)}' "
                    f"({strip_sas(uri)}): the blob does not exist or is not committed."
                ) from None
            raise StorageFailure(_failure_reason(uri, exc, action="read from")) from None
        except UnicodeDecodeError:
            raise StorageFailure(
                f"ErrorCode:{ErrorCode.ARGUMENT_INVALID.code_name};"
                f"Unable to read blob '{blob}' in blob container '{_container_name(uri)}' ({strip_sas(uri)}): it is "
                "not UTF-8 text."
            ) from None
        except (AzureError, OSError, ValueError, KeyError) as exc:
            raise StorageFailure(_failure_reason(uri, exc, action="read from")) from None


def _failure_reason(uri: str, exc: Exception, *, action: str) -> str:
    if isinstance(exc, StorageFailure):
        return str(exc)
    detail = type(exc).__name__
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        detail = exc.message
    elif isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None)
        code_text = str(getattr(code, "value", code) or exc.reason or "")
        detail = f"HTTP {exc.status_code} {code_text}".strip()
    return (
        f"ErrorCode:{ErrorCode.BLOB_CONTAINER_VALIDATION_ERROR.code_name};"
        f"Unable to access blob container '{_container_name(uri)}' ({strip_sas(uri)}) to {action.split()[0]} "
        f"job data: {detail}. Check that the container exists and that the SAS token or the hub's "
        f"managed identity grants access. Tracking time: {time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime())}"
    )
