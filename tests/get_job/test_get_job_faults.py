"""Upstream faults from the simulator's control API, each mapped to its answer, with call counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import ErrorShape, FaultKind
from devstack.wellknown import hub_connection_string
from shared.http.retry import MAX_RETRY_AFTER_SECONDS
from shared.proxy.handler import JobProxy
from tests.support.get_job import get, hub_calls, seed
from tests.support.listeners import TcpListener
from tests.support.secrets import Secrets

# A policy key of the right shape that the hub does not know.
WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
WRONG_KEY_CONNECTION_STRING = hub_connection_string("devhub").rsplit("SharedAccessKey=", 1)[0] + (
    f"SharedAccessKey={WRONG_KEY}"
)


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (FaultKind.THROTTLE, {"retry_after": 0}),
        (FaultKind.SERVER_ERROR, {}),
        (FaultKind.UNAVAILABLE, {}),
        (FaultKind.DROP, {}),
        (FaultKind.MALFORMED, {}),
        (FaultKind.SLOW, {"delay_ms": 300}),
    ],
)
def test_one_transient_fault_is_retried(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], kind: FaultKind, extra: dict[str, int]
) -> None:
    seed(hubsim_clean)
    control = hubsim_clean.control("devhub")
    control.queue_fault(kind, retry_after=extra.get("retry_after"), delay_ms=extra.get("delay_ms", 0))
    response = get(make_proxy(IOTHUB_READ_TIMEOUT_SECONDS="0.2"))
    assert response.status_code == 200
    assert json.loads(response.body)["jobId"] == "job-1"
    assert hub_calls(hubsim_clean) == 2


def test_throttle_wait_text_is_honoured_without_retry_after(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, wait_seconds=1)
    response = get(make_proxy())
    assert response.status_code == 200 and hub_calls(hubsim_clean) == 2


def test_persistent_throttle_is_429_with_retry_after(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, count=10, retry_after=0)
    response = get(make_proxy(IOTHUB_MAX_ATTEMPTS="3"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    error = json.loads(response.body)["error"]
    assert error["code"] == "UpstreamThrottled" and error["upstreamTrackingId"]
    assert hub_calls(hubsim_clean) == 3


def test_throttle_longer_than_the_budget_is_answered_at_once(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, count=5, wait_seconds=30)
    response = get(make_proxy(IOTHUB_RETRY_BUDGET_SECONDS="2"))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 30
    assert hub_calls(hubsim_clean) == 1


def test_the_real_per_minute_throttle(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    seed(hubsim_clean)
    control = hubsim_clean.control("devhub")
    control.set_rate_limit(3)
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0", IOTHUB_MAX_ATTEMPTS="2", IOTHUB_RETRY_BUDGET_SECONDS="1")
    statuses = [get(proxy).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3] == 429


@pytest.mark.parametrize(("kind", "status", "code"), [
    (FaultKind.SERVER_ERROR, 502, "UpstreamError"),
    (FaultKind.UNAVAILABLE, 503, "UpstreamError"),
    (FaultKind.MALFORMED, 502, "UpstreamError"),
    (FaultKind.DROP, 502, "UpstreamError"),
])
def test_persistent_faults_end_in_a_clear_error(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], kind: FaultKind, status: int, code: str
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(kind, count=10)
    response = get(make_proxy(IOTHUB_MAX_ATTEMPTS="3"))
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == code
    if status == 503:
        assert int(response.headers["Retry-After"]) >= 1
    assert hub_calls(hubsim_clean) == 3


@pytest.mark.parametrize(("kind", "status", "code"), [
    (FaultKind.THROTTLE, 429, "UpstreamThrottled"),
    (FaultKind.SERVER_ERROR, 502, "UpstreamError"),
    (FaultKind.UNAVAILABLE, 503, "UpstreamError"),
    (FaultKind.MALFORMED, 502, "UpstreamError"),
    (FaultKind.DROP, 502, "UpstreamError"),
    (FaultKind.SLOW, 504, "UpstreamTimeout"),
    (FaultKind.QUOTA_EXCEEDED, 502, "UpstreamError"),
])
def test_an_upstream_error_is_not_kept_the_next_call_reaches_the_hub(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], kind: FaultKind, status: int, code: str
) -> None:
    """Only a 404 is answered from the cache for its TTL: after any other upstream error, the next request
    asks the hub again (an error kept for the TTL would answer it from memory, with the hub fine again)."""
    seed(hubsim_clean)
    proxy = make_proxy(IOTHUB_MAX_ATTEMPTS="1", IOTHUB_READ_TIMEOUT_SECONDS="0.2", GET_JOB_CACHE_TTL_SECONDS="60")
    hubsim_clean.control("devhub").queue_fault(kind, retry_after=0, delay_ms=600 if kind is FaultKind.SLOW else 0)
    failed = get(proxy)
    assert (failed.status_code, json.loads(failed.body)["error"]["code"]) == (status, code)
    assert hub_calls(hubsim_clean) == 1
    again = get(proxy)
    assert again.status_code == 200 and json.loads(again.body)["jobId"] == "job-1"
    assert hub_calls(hubsim_clean) == 2


def test_upstream_timeout_is_504(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.SLOW, count=5, delay_ms=600)
    response = get(make_proxy(IOTHUB_READ_TIMEOUT_SECONDS="0.2", IOTHUB_MAX_ATTEMPTS="2"))
    assert response.status_code == 504
    assert json.loads(response.body)["error"]["code"] == "UpstreamTimeout"
    assert hub_calls(hubsim_clean) == 2


def test_hub_refusing_our_credentials_is_502_without_retry(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], planted_secrets: Secrets
) -> None:
    planted_secrets.add("the refused policy key", WRONG_KEY)  # looked for in the answer and the logs
    seed(hubsim_clean)
    response = get(make_proxy(IOTHUB_HUBS="devhub", IOTHUB_ENDPOINTS=f"devhub={hubsim_clean.hub_url('devhub')}",
                              IOTHUB_CONNECTION_STRINGS=WRONG_KEY_CONNECTION_STRING))
    assert response.status_code == 502
    error = json.loads(response.body)["error"]
    assert error["code"] == "UpstreamUnauthorized"
    assert "sharedAccessPolicy" in error["message"]
    assert "SharedAccessKey" not in response.body.decode()
    assert hub_calls(hubsim_clean) == 1


@pytest.fixture
def elsewhere() -> Iterator[TcpListener]:
    """Another host (127.0.0.2), counting every connection made to it."""
    listener = TcpListener(hold=False, host="127.0.0.2")
    yield listener
    listener.close()


def test_the_hub_get_never_follows_a_redirect(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], elsewhere: TcpListener
) -> None:
    """A 307 from the hub is an error answer, not a pointer: following it would answer with another job (on
    the hub) or carry the hub's credential to another host. Neither target is ever asked."""
    seed(hubsim_clean)
    seed(hubsim_clean, jobId="job-2", status="failed", progress=100)
    control = hubsim_clean.control("devhub")
    on_the_hub = f"{hubsim_clean.hub_url('devhub')}/jobs/job-2?api-version=2021-04-12"
    proxy = make_proxy(IOTHUB_MAX_ATTEMPTS="3")
    for location in (on_the_hub, f"http://127.0.0.2:{elsewhere.port}/jobs/job-1?api-version=2021-04-12"):
        control.reset()
        control.queue_fault(FaultKind.REDIRECT, location=location)
        response = get(proxy)
        assert response.status_code == 502
        error = json.loads(response.body)["error"]
        assert error["code"] == "UpstreamError" and "307" in error["message"]
        assert hub_calls(hubsim_clean) == 1  # neither retried nor followed to job-2
    assert elsewhere.connections == 0


def test_unreachable_hub_is_502(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    from devstack.processes import free_port

    response = get(make_proxy(IOTHUB_HUBS="devhub", IOTHUB_ENDPOINTS=f"devhub=http://127.0.0.1:{free_port()}",
                              IOTHUB_CONNECTION_STRINGS=hub_connection_string("devhub"), IOTHUB_MAX_ATTEMPTS="2"))
    assert response.status_code == 502
    assert json.loads(response.body)["error"]["code"] == "UpstreamError"


@pytest.mark.parametrize("shape", list(ErrorShape))
def test_every_error_body_shape_is_understood(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], shape: ErrorShape
) -> None:
    """IoT Hub answers errors in three body shapes (and sometimes none): each maps the same way."""
    seed(hubsim_clean)
    control = hubsim_clean.control("devhub")
    control.set_error_shape(shape)
    proxy = make_proxy(IOTHUB_MAX_ATTEMPTS="2")
    missing = get(proxy, "no-such-job")
    assert missing.status_code == 404
    assert json.loads(missing.body)["error"]["upstreamTrackingId"]
    control.queue_fault(FaultKind.THROTTLE, count=2, wait_seconds=7)
    throttled = get(proxy, "job-1")
    assert throttled.status_code == 429
    # The "Wait 7 seconds" text is honoured wherever the shape puts it; with no body, backoff decides.
    assert int(throttled.headers["Retry-After"]) >= (1 if shape is ErrorShape.HEADER_ONLY else 7)


def test_a_hub_with_shared_access_policies_disabled(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], managed_identity: object
) -> None:
    seed(hubsim_clean)
    hubsim_clean.control("devhub").set_local_auth_disabled(True)
    refused = get(make_proxy())
    assert refused.status_code == 502
    assert json.loads(refused.body)["error"]["code"] == "UpstreamUnauthorized"
    assert get(make_proxy(IOTHUB_AUTH="managedIdentity")).status_code == 200


def test_an_infinite_retry_after_from_the_hub_is_a_429_not_a_crash(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    """"Wait 10^300 seconds": held to the longest wait, which is longer than the budget, so answered at once
    with that wait (dropped as absurd, it would have been retried at once, and succeeded, against the hub's
    word)."""
    seed(hubsim_clean)
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, count=3, wait_seconds=10**300)
    response = get(make_proxy())
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == MAX_RETRY_AFTER_SECONDS
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


def test_a_hub_that_would_compress_its_answers_is_asked_not_to(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    """Bodies are read raw, under a size limit: a gzipped answer would not parse (retried, then a 502). Whether
    IoT Hub compresses is unknown, so the simulator can, for any client that accepts gzip, as requests does."""
    import requests

    seed(hubsim_clean)
    hubsim_clean.control("devhub").set_gzip(True)
    plain = requests.get(f"{hubsim_clean.hub_url('devhub')}/jobs/job-1?api-version=2021-04-12", timeout=5)
    assert plain.headers.get("Content-Encoding") == "gzip"  # the switch bites for a client that accepts it
    response = get(make_proxy())
    assert response.status_code == 200
    assert json.loads(response.body)["jobId"] == "job-1"
    assert hub_calls(hubsim_clean) == 2  # the plain request and get_job's one call: no retry
