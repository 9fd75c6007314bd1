"""Regressions from review: each test pins a defect that was found and fixed."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind
from shared.credentials import forget_credentials
from shared.http.retry import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from shared.proxy.handler import JobProxy
from tests.fixtures.listeners import TcpListener
from tests.get_job.conftest import get, hub_calls, seed


@pytest.fixture
def silent_identity_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A managed-identity endpoint that accepts connections and never answers."""
    listener = TcpListener(hold=True)
    url = f"http://127.0.0.1:{listener.port}/msi/token"
    monkeypatch.setenv("IDENTITY_ENDPOINT", url)
    monkeypatch.setenv("IDENTITY_HEADER", "h")
    forget_credentials()
    yield url
    listener.close()
    forget_credentials()


def test_a_silent_token_endpoint_cannot_hold_requests_past_the_budget(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], silent_identity_endpoint: str
) -> None:
    """The token request has its own timeouts, and callers coalesced behind it wait no longer than
    their budget (azure-core's default 300 s read timeout once left every one of them hanging)."""
    seed(hubsim_clean)
    proxy = make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_RETRY_BUDGET_SECONDS="1", IOTHUB_MAX_ATTEMPTS="1")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(get, proxy) for _ in range(3)]
        responses = [f.result(timeout=60) for f in futures]
    assert {r.status_code for r in responses} <= {503, 504}
    assert hub_calls(hubsim_clean) == 0


@pytest.mark.parametrize("value", ["inf", "1e999", "nan", "-5"])
def test_absurd_retry_after_values_are_bounded(value: str) -> None:
    seconds = retry_after_seconds({"Retry-After": value}, "")
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds({}, "Wait " + "9" * 400 + " seconds") == MAX_RETRY_AFTER_SECONDS


def test_an_infinite_retry_after_from_the_hub_is_a_429_not_a_crash(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, count=3, wait_seconds=10**300)
    response = get(make_proxy())
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= MAX_RETRY_AFTER_SECONDS


def test_cached_errors_are_logged_as_cache_hits_with_no_upstream_attempts(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], caplog: pytest.LogCaptureFixture
) -> None:
    proxy = make_proxy()
    for _ in range(3):
        assert get(proxy, "no-such-job").status_code == 404
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "get_job" and r.levelno >= logging.INFO]
    assert [(line["cache"], line["attempts"]) for line in lines] == [("miss", 1), ("hit", 0), ("hit", 0)]
    assert hub_calls(hubsim_clean) == 1


def test_a_quota_403_is_an_upstream_error_not_a_credentials_problem(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.QUOTA_EXCEEDED)
    response = get(make_proxy())
    assert response.status_code == 502
    error = json.loads(response.body)["error"]
    assert error["code"] == "UpstreamError" and "IotHubQuotaExceeded" in error["message"]
    assert hub_calls(hubsim_clean) == 1
