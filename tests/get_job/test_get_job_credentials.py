"""Each credential mode end to end against the simulator and the identity endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from devstack.hubsim import HubSimulator
from devstack.identity import IdentityControl
from devstack.identity.state import FaultKind
from devstack.wellknown import IOTHUB_AUDIENCE, USER_ASSIGNED_CLIENT_IDS, hub_connection_string
from shared.credentials import forget_credentials
from shared.iothub.auth import SasAuth, TokenAuth, build_hub_auth
from shared.iothub.client import HubClient
from shared.proxy.handler import JobProxy
from shared.settings import AppSettings
from tests.support.get_job import FAST_BACKOFF, get, hub_calls, seed


def test_managed_identity_system_assigned(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl
) -> None:
    seed(hubsim_clean)
    proxy = make_proxy(IOTHUB_AUTH="managedIdentity", GET_JOB_CACHE_TTL_SECONDS="0")
    for _ in range(3):
        assert get(proxy).status_code == 200
    assert hub_calls(hubsim_clean) == 3
    assert managed_identity.counters().issued(IOTHUB_AUDIENCE) == 1  # one token, cached by the credential


def test_managed_identity_user_assigned(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl
) -> None:
    seed(hubsim_clean)
    client_id = next(iter(USER_ASSIGNED_CLIENT_IDS))
    proxy = make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_MANAGED_IDENTITY_CLIENT_ID=client_id)
    assert get(proxy).status_code == 200
    forget_credentials()
    unknown = get(make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_MANAGED_IDENTITY_CLIENT_ID="not-a-known-client",
                             IOTHUB_RETRY_BUDGET_SECONDS="1"))
    assert unknown.status_code == 503
    error = json.loads(unknown.body)["error"]
    assert error["code"] == "CredentialUnavailable" and "managedIdentity" in error["message"]
    assert unknown.headers["Retry-After"]


def test_token_endpoint_failing_then_recovering(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl
) -> None:
    seed(hubsim_clean)
    managed_identity.add_fault(FaultKind.ERROR_500, count=3)
    assert get(make_proxy(IOTHUB_AUTH="managedIdentity")).status_code == 200
    assert managed_identity.counters().faults_pending == 0
    assert hub_calls(hubsim_clean) == 1


def test_token_endpoint_down_is_503_and_the_hub_is_never_called(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl
) -> None:
    seed(hubsim_clean)
    managed_identity.add_fault(FaultKind.ERROR_500, count=100)
    response = get(make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_MAX_ATTEMPTS="2"))
    assert response.status_code == 503
    assert json.loads(response.body)["error"]["code"] == "CredentialUnavailable"
    assert hub_calls(hubsim_clean) == 0
    managed_identity.reset()
    assert get(make_proxy(IOTHUB_AUTH="managedIdentity")).status_code == 200  # and it recovers


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.01)


def test_a_token_that_outlives_its_caller_serves_the_next_one(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl
) -> None:
    """The identity endpoint answers a second late; the caller's budget is half a second: it gets 503 at its
    budget, the token request goes on, and the next caller is served with that token (no second request)."""
    seed(hubsim_clean)
    managed_identity.add_fault(FaultKind.SLOW)
    proxy = make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_RETRY_BUDGET_SECONDS="0.5", IOTHUB_MAX_ATTEMPTS="1",
                       GET_JOB_CACHE_TTL_SECONDS="0")
    first = get(proxy)
    assert (first.status_code, json.loads(first.body)["error"]["code"]) == (503, "CredentialUnavailable")
    _wait_until(lambda: managed_identity.counters().issued(IOTHUB_AUDIENCE) == 1, "the late token issued")
    assert get(proxy).status_code == 200
    assert managed_identity.counters().issued(IOTHUB_AUDIENCE) == 1
    assert hub_calls(hubsim_clean) == 1


def test_a_token_request_that_fails_after_its_caller_gave_up_does_not_fail_the_next_one(
    hubsim_clean: HubSimulator, hub_env: dict[str, str], managed_identity: IdentityControl
) -> None:
    """The late answer is a 500 (twice: azure-identity tries again once), after which azure-identity holds the
    credential unusable for good: the next caller gets a fresh credential, and its token, in one attempt."""
    seed(hubsim_clean)
    managed_identity.add_fault(FaultKind.SLOW_500, count=2)
    settings = AppSettings.from_environ({**hub_env, "IOTHUB_AUTH": "managedIdentity", "IOTHUB_MAX_ATTEMPTS": "1",
                                         "IOTHUB_RETRY_BUDGET_SECONDS": "0.5", "GET_JOB_CACHE_TTL_SECONDS": "0"})
    auth = build_hub_auth(settings.hub)
    assert isinstance(auth, TokenAuth)
    client = HubClient(settings=settings.hub, auth=auth, backoff=FAST_BACKOFF)
    proxy = JobProxy(settings=settings, client=client)
    assert get(proxy).status_code == 503  # gave up at its budget
    _wait_until(lambda: not auth.requesting, "the abandoned token request ended (in failure)")
    assert managed_identity.counters().faults_pending == 0
    later = get(proxy)
    assert later.status_code == 200
    assert managed_identity.counters().issued(IOTHUB_AUDIENCE) == 1
    client.close()


def test_sas_is_renewed_across_expiry(hubsim_clean: HubSimulator, hub_env: dict[str, str]) -> None:
    """A SAS minted with a 120 s TTL, on a clock that then moves past its renewal point: the next
    call carries a new SAS, which the simulator (on the real clock) accepts."""
    seed(hubsim_clean, status="running")
    settings = AppSettings.from_environ({**hub_env, "IOTHUB_SAS_TTL_SECONDS": "120", "GET_JOB_CACHE_TTL_SECONDS": "0"})
    clock = [time.time() - 100]  # the first SAS expires 20 s from now
    auth = SasAuth(ttl_seconds=120, clock=lambda: clock[0])
    proxy = JobProxy(settings=settings, client=HubClient(settings=settings.hub, auth=auth, backoff=FAST_BACKOFF))
    assert get(proxy).status_code == 200
    assert get(proxy).status_code == 200 and auth.minted == 1  # reused
    clock[0] = time.time()  # past the renewal point (30 s before expiry)
    assert get(proxy).status_code == 200 and auth.minted == 2


def test_an_expired_sas_is_refused_by_the_hub(hubsim_clean: HubSimulator, hub_env: dict[str, str]) -> None:
    seed(hubsim_clean)
    settings = AppSettings.from_environ(hub_env)
    stale = SasAuth(ttl_seconds=60, clock=lambda: time.time() - 3600)
    proxy = JobProxy(settings=settings, client=HubClient(settings=settings.hub, auth=stale, backoff=FAST_BACKOFF))
    response = get(proxy)
    assert response.status_code == 502
    assert json.loads(response.body)["error"]["code"] == "UpstreamUnauthorized"


def test_a_policy_without_read_rights_is_not_needed_registry_read_suffices(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    proxy = make_proxy(IOTHUB_HUBS="devhub", IOTHUB_ENDPOINTS=f"devhub={hubsim_clean.hub_url('devhub')}",
                       IOTHUB_CONNECTION_STRINGS=hub_connection_string("devhub", "registryRead"))
    assert get(proxy).status_code == 200


@pytest.mark.parametrize(("cloud", "override", "audience", "status"), [
    ("AzureCloud", None, IOTHUB_AUDIENCE, 200),
    # The SDKs use the public audience for every cloud but US Government (IotHubAuthenticationScopes).
    ("AzureChinaCloud", None, IOTHUB_AUDIENCE, 200),
    ("AzureUSGovernment", None, "https://iothubs.azure.us", 502),
    # IOTHUB_AUDIENCE overrides the cloud's, should a cloud turn out otherwise.
    ("AzureChinaCloud", "https://iothubs.chinacloudapi.cn", "https://iothubs.chinacloudapi.cn", 502),
])
def test_the_token_is_asked_for_the_audience_of_azure_cloud_or_the_override(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: IdentityControl,
    cloud: str, override: str | None, audience: str, status: int,
) -> None:
    """The identity is asked for the audience the SDKs use in that cloud (or IOTHUB_AUDIENCE's). The simulator
    plays a public-cloud hub, so it refuses a token for another audience: a token of one cloud never works in
    another."""
    seed(hubsim_clean)
    extra = {} if override is None else {"IOTHUB_AUDIENCE": override}
    answer = get(make_proxy(IOTHUB_AUTH="managedIdentity", AZURE_CLOUD=cloud, IOTHUB_CONNECTION_STRINGS="", **extra))
    assert managed_identity.counters().issued(audience) == 1
    assert managed_identity.counters().total_issued == 1
    assert answer.status_code == status
    if status == 502:
        assert json.loads(answer.body)["error"]["code"] == "UpstreamUnauthorized"
