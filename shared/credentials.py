"""The process's azure-identity credentials (managed identity, or DefaultAzureCredential on a developer
machine), for IoT Hub and for storage: one of each per process.

azure-identity credentials cache their tokens per instance, so each is built once, lazily, and
shared between invocations. azure.identity is imported only when a credential is first needed,
which keeps it off the functions' cold start.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# Timeouts for the managed-identity endpoint.
TOKEN_ENDPOINT_CONNECT_TIMEOUT_SECONDS = 3.0
TOKEN_ENDPOINT_READ_TIMEOUT_SECONDS = 3.0


_credentials_lock = threading.Lock()
_credentials: dict[tuple[str, str | None], TokenCredential] = {}


def managed_identity_credential(client_id: str | None) -> TokenCredential:
    """The process's ManagedIdentityCredential for `client_id` (None: system-assigned)."""
    key = ("managedIdentity", client_id)
    with _credentials_lock:
        credential = _credentials.get(key)
        if credential is None:
            from azure.identity import ManagedIdentityCredential

            # One quick retry and short timeouts inside azure-identity; the hub client's budgeted loop
            # retries the rest (azure-core's defaults, ten retries and 300 s reads, would outlast an HTTP
            # request and leave coalesced callers waiting).
            credential = ManagedIdentityCredential(
                client_id=client_id,
                retry_total=1,
                retry_backoff_factor=0.2,
                connection_timeout=TOKEN_ENDPOINT_CONNECT_TIMEOUT_SECONDS,
                read_timeout=TOKEN_ENDPOINT_READ_TIMEOUT_SECONDS,
            )
            _credentials[key] = credential
        return credential


def default_azure_credential(client_id: str | None, *, authority: str | None = None) -> TokenCredential:
    """DefaultAzureCredential, opt-in for developer machines (it probes several sources); `authority` is the
    Entra ID host of the app's cloud (AZURE_CLOUD), None for azure-identity's default (the public cloud)."""
    key = ("defaultAzureCredential", client_id if authority is None else f"{client_id}@{authority}")
    with _credentials_lock:
        credential = _credentials.get(key)
        if credential is None:
            from azure.identity import DefaultAzureCredential

            options = {} if authority is None else {"authority": authority}
            credential = DefaultAzureCredential(managed_identity_client_id=client_id, **options)
            _credentials[key] = credential
        return credential


def discard_credential(credential: TokenCredential) -> None:
    """Drop one credential so the next call builds a fresh one.

    ManagedIdentityCredential marks itself unavailable for good after a failed token request (an
    intermittent 500 from the endpoint would otherwise break the process until it restarts).
    """
    with _credentials_lock:
        for key in [k for k, v in _credentials.items() if v is credential]:
            del _credentials[key]


def forget_credentials() -> None:
    """Drop the process's credentials (tests switch identity endpoints between sessions)."""
    with _credentials_lock:
        _credentials.clear()


