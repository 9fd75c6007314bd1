"""Budgets that bound: a hub that answers slowly or at length cannot hold get_job past its budget."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind
from shared.credentials import forget_credentials
from shared.iothub.client import MAX_JOB_BYTES
from shared.proxy.answers import ProxyResponse
from shared.proxy.handler import JobProxy
from tests.support.get_job import get, hub_calls, seed
from tests.support.listeners import TcpListener

BUDGET_SECONDS = 3.0


def test_a_hub_that_sends_one_byte_at_a_time_is_cut_off_at_the_budget(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    """requests' read timeout is per socket read: a body trickled one byte every 0.25 s held get_job for
    18.5 s against a 3 s budget. The whole answer is now read under the invocation's deadline."""
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.TRICKLE, count=10, delay_ms=250)
    proxy = make_proxy(IOTHUB_RETRY_BUDGET_SECONDS=str(BUDGET_SECONDS), IOTHUB_READ_TIMEOUT_SECONDS="2")
    started = time.monotonic()
    response = get(proxy)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert json.loads(response.body)["error"]["code"] == "UpstreamTimeout"
    # Measured against the budget (the trickled body alone would take over a minute): the budget plus one
    # socket read's slack, never the body's length.
    assert elapsed < BUDGET_SECONDS + 1.0, elapsed


def test_an_answer_larger_than_a_job_can_be_is_not_read(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean, statusMessage="x" * (MAX_JOB_BYTES + 1))
    response = get(make_proxy(IOTHUB_MAX_ATTEMPTS="2"))
    assert response.status_code == 502
    assert "larger than" in json.loads(response.body)["error"]["message"]
    assert hub_calls(hubsim_clean) == 2


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
    budget = 1.0
    proxy = make_proxy(IOTHUB_AUTH="managedIdentity", IOTHUB_RETRY_BUDGET_SECONDS=str(budget), IOTHUB_MAX_ATTEMPTS="1")

    def timed_get() -> tuple[ProxyResponse, float]:
        started = time.monotonic()
        response = get(proxy)
        return response, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = [f.result(timeout=60) for f in [pool.submit(timed_get) for _ in range(3)]]
    # Measured against the budget, as above: the budget plus one socket read's slack.
    assert max(elapsed for _, elapsed in answers) < budget + 1.0, [elapsed for _, elapsed in answers]
    codes = sorted((r.status_code, json.loads(r.body)["error"]["code"]) for r, _ in answers)
    assert codes[0] == (503, "CredentialUnavailable")  # the caller that asked for the token
    assert set(codes[1:]) <= {(503, "CredentialUnavailable"), (504, "UpstreamTimeout")}  # its waiters
    assert hub_calls(hubsim_clean) == 0
