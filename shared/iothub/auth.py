"""How the app authenticates to IoT Hub: bearer tokens from the process's credential, or SAS tokens it
mints from a shared access policy held server-side."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared.credentials import default_azure_credential, discard_credential, managed_identity_credential
from shared.errors import CredentialError
from shared.logs import carried
from shared.settings import Cloud, ConnectionString, HubAuthMode, HubClientSettings, HubSettings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

# The public cloud's scope; a hub's scope comes from AZURE_CLOUD or IOTHUB_AUDIENCE (HubClientSettings.iothub_scope).
IOTHUB_SCOPE = Cloud.PUBLIC.iothub_scope
# Renew a SAS this long before it expires (or a quarter of its TTL, if shorter), so a token is
# never sent in its last moments and never minted per request.
SAS_RENEW_MARGIN_SECONDS = 300.0
# A bearer token is reused without asking the credential until this long before it expires (azure-identity
# refreshes its own cache earlier than that: the credential is asked again from then on).
TOKEN_RENEW_MARGIN_SECONDS = 300.0
# Token requests run here, so that a caller waits for one no longer than its own time budget.
TOKEN_WORKERS = 4


class HubAuth(Protocol):
    """Produces the Authorization header for a hub, within `timeout` seconds (None: no bound of its own)."""

    kind: str

    def authorization(self, hub: HubSettings, *, timeout: float | None = None) -> str: ...


_token_pool_lock = threading.Lock()
_token_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _token_requests() -> concurrent.futures.ThreadPoolExecutor:
    global _token_pool
    with _token_pool_lock:
        if _token_pool is None:
            _token_pool = concurrent.futures.ThreadPoolExecutor(max_workers=TOKEN_WORKERS,
                                                                thread_name_prefix="token-request")
        return _token_pool


@dataclass(frozen=True)
class _TokenFlight:
    credential: TokenCredential
    future: concurrent.futures.Future[AccessToken]


class TokenAuth:
    """Bearer tokens from an azure-identity credential for IoT Hub's audience in the app's cloud
    (https://iothubs.azure.net in the public cloud).

    The credential's own timeouts (a connect and a read of 3 s, one retry) would hold a caller for seconds past
    a budget of one: a token request runs on a worker, one at a time per TokenAuth (callers share the one in
    flight), and each caller waits for it no longer than its `timeout`. A request that outlives its caller
    goes on, and its token serves the next one."""

    def __init__(
        self, *, kind: str, credential_factory: Callable[[], TokenCredential], scope: str = IOTHUB_SCOPE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kind = kind
        self.scope = scope
        self._credential_factory = credential_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._flight: _TokenFlight | None = None

    @property
    def requesting(self) -> bool:
        """A token request is in flight (a diagnostic; tests wait on it)."""
        with self._lock:
            return self._flight is not None and not self._flight.future.done()

    def authorization(self, hub: HubSettings, *, timeout: float | None = None) -> str:
        with self._lock:
            token = self._token
            if token is not None and self._clock() < token.expires_on - TOKEN_RENEW_MARGIN_SECONDS:
                return f"Bearer {token.token}"
            flight = self._flight
            if flight is None or flight.future.done():
                if flight is not None and flight.future.exception() is not None:
                    # Failed after its callers gave up waiting: azure-identity holds that credential unusable.
                    discard_credential(flight.credential)
                credential = self._credential_factory()
                flight = _TokenFlight(credential, _token_requests().submit(carried(credential.get_token), self.scope))
                self._flight = flight
        try:
            token = flight.future.result(timeout=None if timeout is None else max(timeout, 0.0))
        except concurrent.futures.TimeoutError:
            raise CredentialError(
                self.kind, f"could not get a token for {self.scope} within the time budget (no answer)"
            ) from None
        except Exception as exc:
            discard_credential(flight.credential)
            # The exception text of azure-identity can quote endpoint responses: keep only its type.
            raise CredentialError(
                self.kind, f"could not get a token for {self.scope} ({type(exc).__name__})"
            ) from None
        with self._lock:
            if self._token is None or token.expires_on > self._token.expires_on:
                self._token = token
        return f"Bearer {token.token}"


@dataclass(frozen=True)
class _CachedSas:
    token: str
    renew_at: float


class SasAuth:
    """SAS tokens minted from each hub's shared access policy, reused until shortly before expiry."""

    kind = HubAuthMode.SHARED_ACCESS_POLICY.value

    def __init__(self, *, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _CachedSas] = {}
        self.minted = 0

    def authorization(self, hub: HubSettings, *, timeout: float | None = None) -> str:
        """Minted here, with no I/O: `timeout` has nothing to bound."""
        if hub.connection_string is None:
            raise CredentialError(self.kind, f"no connection string for hub {hub.name}")
        now = self._clock()
        with self._lock:
            cached = self._cache.get(hub.name)
            if cached is None or now >= cached.renew_at:
                expiry = int(now + self._ttl)
                margin = min(SAS_RENEW_MARGIN_SECONDS, self._ttl / 4)
                cached = _CachedSas(sas_token(hub.connection_string, expiry=expiry), expiry - margin)
                self._cache[hub.name] = cached
                self.minted += 1
            return cached.token


def sas_token(connection_string: ConnectionString, *, expiry: int) -> str:
    """`SharedAccessSignature sr=&sig=&se=&skn=` for the hub, as IoT Hub documents it."""
    resource = urllib.parse.quote(connection_string.host_name.lower(), safe="")
    try:
        key = base64.b64decode(connection_string.key, validate=True)
    except ValueError:
        raise CredentialError(HubAuthMode.SHARED_ACCESS_POLICY.value, "the SharedAccessKey is not base64") from None
    signature = base64.b64encode(hmac.new(key, f"{resource}\n{expiry}".encode(), hashlib.sha256).digest())
    return (
        f"SharedAccessSignature sr={resource}&sig={urllib.parse.quote(signature, safe='')}"
        f"&se={expiry}&skn={urllib.parse.quote(connection_string.policy_name, safe='')}"
    )


def build_hub_auth(settings: HubClientSettings) -> HubAuth:
    client_id = settings.managed_identity_client_id
    scope = settings.iothub_scope
    if settings.auth_mode is HubAuthMode.SHARED_ACCESS_POLICY:
        return SasAuth(ttl_seconds=settings.sas_ttl_seconds)
    if settings.auth_mode is HubAuthMode.DEFAULT_AZURE_CREDENTIAL:
        authority = settings.cloud.authority
        return TokenAuth(kind=settings.auth_mode.value, scope=scope,
                         credential_factory=lambda: default_azure_credential(client_id, authority=authority))
    # A managed identity needs no authority: its endpoint is local to the host, in whatever cloud.
    return TokenAuth(kind=settings.auth_mode.value, scope=scope,
                     credential_factory=lambda: managed_identity_credential(client_id))
