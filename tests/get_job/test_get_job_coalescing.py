"""Throttle protection under real concurrency: coalescing of active jobs, terminal jobs fetched once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.hubsim import FaultKind, HubSimulator, Operation
from shared.proxy.handler import JobProxy
from tests.support.get_job import get, hub_calls, seed


def test_fifty_concurrent_requests_for_an_active_job_reach_the_hub_once(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], caplog: pytest.LogCaptureFixture
) -> None:
    """The hub holds the first request's answer (a gate, not a delay) until the other 49 requests are parked on
    that call: all fifty get its one answer, from one hub call, 49 of them coalesced."""
    seed(hubsim_clean, status="running")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.HOLD, operation=Operation.GET, count=50)
    proxy = make_proxy()
    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(get, proxy) for _ in range(50)]
        deadline = time.monotonic() + 10
        while proxy.callers_waiting() < 49:
            assert control.counters()["get"] <= 1, "a second request reached the hub"
            assert time.monotonic() < deadline, f"only {proxy.callers_waiting()} requests parked on the call"
            time.sleep(0.001)
        assert control.counters()["held"] == 1
        control.release()
        responses = [f.result(timeout=10) for f in futures]
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.body for r in responses}) == 1
    assert hub_calls(hubsim_clean) == 1
    outcomes = [json.loads(r.getMessage())["cache"] for r in caplog.records if r.name == "get_job"]
    assert sorted(outcomes) == ["coalesced"] * 49 + ["miss"]


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_a_terminal_job_reaches_the_hub_once_per_process(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], final: str
) -> None:
    seed(hubsim_clean, status=final, progress=100, failureReason="ErrorCode:ImportErrors;bad lines")
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0")
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: get(proxy), range(60)))
    assert {r.status_code for r in responses} == {200}
    assert json.loads(responses[0].body)["status"] == final
    assert hub_calls(hubsim_clean) == 1


def test_an_active_job_is_fetched_again_after_the_ttl(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean, status="running", progress=10)
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0")
    assert json.loads(get(proxy).body)["progress"] == 10
    seed(hubsim_clean, status="running", progress=60)
    assert json.loads(get(proxy).body)["progress"] == 60
    assert hub_calls(hubsim_clean) == 2


def test_cached_errors_are_logged_as_cache_hits_with_no_upstream_attempts(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], caplog: pytest.LogCaptureFixture
) -> None:
    proxy = make_proxy()
    for _ in range(3):
        assert get(proxy, "no-such-job").status_code == 404
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "get_job" and r.levelno >= logging.INFO]
    assert [(line["cache"], line["attempts"]) for line in lines] == [("miss", 1), ("hit", 0), ("hit", 0)]
    assert hub_calls(hubsim_clean) == 1
