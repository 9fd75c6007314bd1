"""Throttle protection under real concurrency: coalescing of active jobs, terminal jobs fetched once."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from devstack.hubsim import HubSimulator
from shared.proxy.handler import JobProxy
from tests.get_job.conftest import get, hub_calls, seed


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


def test_a_terminal_job_reaches_the_hub_once_per_process(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean, status="failed", progress=100, failureReason="ErrorCode:ImportErrors;bad lines")
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0")
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: get(proxy), range(60)))
    assert {r.status_code for r in responses} == {200}
    assert json.loads(responses[0].body)["status"] == "failed"
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
