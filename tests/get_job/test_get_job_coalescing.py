"""Throttle protection under real concurrency: coalescing of active jobs, terminal jobs fetched once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.hubsim import HubSimulator
from shared.proxy.handler import JobProxy
from tests.support.get_job import get, hub_calls, seed


def test_fifty_concurrent_requests_for_an_active_job_reach_the_hub_at_most_twice(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean, status="running")
    hubsim_clean.control("devhub").set_latency(100)  # keep the first call in flight while the others arrive
    proxy = make_proxy()
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: get(proxy), range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.body for r in responses}) == 1
    assert hub_calls(hubsim_clean) <= 2


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
