"""get_job under the hub's throttle played as traffic shaping (devstack/hubsim PUT /devstack/rate-limit with
"shaping"; the IoT Hub quotas and throttling doc: over the limit, requests are held first and answered 429 only
once the queue is full). Each way the hub can answer gets a clear answer from get_job: a hold that outlasts the
read timeout is a 504, never a hang; a full queue is a 429 with Retry-After, as with the immediate throttle."""

from __future__ import annotations

import json
from collections.abc import Callable

from devstack.hubsim import HubSimulator
from shared.proxy.handler import JobProxy
from tests.support.get_job import get, hub_calls, seed


def test_a_hold_longer_than_the_read_timeout_is_504_within_the_attempts(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    control = hubsim_clean.control("devhub")
    control.set_rate_limit(1, shaping_queue=5, shaping_max_hold_ms=1500)
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0", IOTHUB_READ_TIMEOUT_SECONDS="0.3", IOTHUB_MAX_ATTEMPTS="2")
    assert get(proxy).status_code == 200  # the one call the minute allows
    held = get(proxy)
    assert held.status_code == 504
    assert json.loads(held.body)["error"]["code"] == "UpstreamTimeout"
    assert hub_calls(hubsim_clean) == 3  # one served, two attempts held: no more than IOTHUB_MAX_ATTEMPTS


def test_a_full_queue_is_429_with_retry_after(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean)
    control = hubsim_clean.control("devhub")
    control.set_rate_limit(1, shaping_queue=1, shaping_max_hold_ms=400)
    proxy = make_proxy(GET_JOB_CACHE_TTL_SECONDS="0", IOTHUB_MAX_ATTEMPTS="2", IOTHUB_RETRY_BUDGET_SECONDS="1")
    assert get(proxy).status_code == 200
    # Held for the whole hold (no room frees within a minute's window), then 429, as Azure answers a full queue.
    answer = get(proxy)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    assert hub_calls(hubsim_clean) == 2  # a 429 whose wait outlasts the budget is not tried again
