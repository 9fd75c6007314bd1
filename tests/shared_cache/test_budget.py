"""The hub call budget (IOTHUB_CALLS_PER_MINUTE) is the app's, not an instance's: instances, get_job and the poller
all count against it; beyond it a caller gets the last answer (with Age) or 429 with Retry-After."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind, Operation
from shared.cache.budget import BudgetLog, SharedBudget
from shared.cache.store import SharedStore
from shared.errors import HubBudgetExhausted
from shared.settings import SharedCacheSettings, StateStorage
from tests.shared_cache.conftest import Fleet
from tests.support import served
from tests.support.shared_cache import all_at_once, blobs, events, get, new_shared_container, statuses


def _new(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _counters(hubsim: HubSimulator) -> dict[str, int]:
    return hubsim.control("devhub").counters()


def _assert_refused(response: requests.Response, *, by_hub: bool = False) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "UpstreamThrottled"
    # Which said no, the hub or the app's own budget (no call reached the hub), is in the message.
    assert ("call budget" in response.json()["error"]["message"]) is not by_hub
    assert int(response.headers["Retry-After"]) >= 1


def test_four_instances_together_send_the_hub_no_more_than_the_budget(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    instances = fleet(4, IOTHUB_CALLS_PER_MINUTE="5")
    jobs = [_new("job") for _ in range(16)]
    served.seed(hubsim_clean, [served.job(job_id, "running") for job_id in jobs])
    responses = all_at_once(instances.hosts, jobs, clients=16)
    assert _counters(hubsim_clean)["get"] == 5
    assert statuses(responses) == {200: 5, 429: 11}
    for response in responses:
        if response.status_code != 200:
            _assert_refused(response)


def test_beyond_the_budget_a_caller_gets_the_last_answer_with_its_age(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    instances = fleet(2, IOTHUB_CALLS_PER_MINUTE="2", GET_JOB_CACHE_TTL_SECONDS="1")
    first, second, never_seen = _new("first"), _new("second"), _new("unseen")
    served.seed(hubsim_clean, [served.job(first, "running", progress=40), served.job(second, "running"),
                               served.job(never_seen, "running")])
    one, other = instances.hosts
    assert get(one, first).json()["progress"] == 40
    assert get(other, second).status_code == 200  # the budget is spent
    served.seed(hubsim_clean, [served.job(first, "running", progress=80)])
    time.sleep(1.2)  # past the TTL
    for host in (other, one):  # past the TTL, on an instance that never asked the hub for it, and on the one that did
        response = get(host, first)
        assert response.status_code == 200
        assert response.json()["progress"] == 40  # the last answer the app had, not a new call
        assert int(response.headers["Age"]) >= 1
    _assert_refused(get(other, never_seen))  # nothing to fall back on
    assert _counters(hubsim_clean)["get"] == 2
    assert "stale" in [e["cache"] for e in events(other.log(), "get_job")]


def test_the_pollers_list_calls_count_against_the_same_budget(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    instances = fleet(2, IOTHUB_CALLS_PER_MINUTE="2", MONITOR_STATE_CONTAINER=new_shared_container(),
                      POLL_SCHEDULE="0 0 0 1 1 *")  # run here on demand only
    poller_host, api_host = instances.hosts
    for _ in range(2):  # two ticks: two list calls to each hub
        response = requests.post(
            f"{poller_host.url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
            headers={"x-functions-key": poller_host.master_key}, timeout=60,
        )
        assert response.status_code < 300, response.text
    job_id = _new("after-ticks")
    served.seed(hubsim_clean, [served.job(job_id, "running")])
    _assert_refused(get(api_host, job_id))
    assert (_counters(hubsim_clean)["list"], _counters(hubsim_clean)["get"]) == (2, 0)


def test_a_hub_429_holds_every_instance_back_for_its_retry_after(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    instances = fleet(2, IOTHUB_MAX_ATTEMPTS="1")
    throttled, other_job = _new("throttled"), _new("other")
    served.seed(hubsim_clean, [served.job(throttled, "running"), served.job(other_job, "running")])
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, retry_after=30, operation=Operation.GET)
    _assert_refused(get(instances.hosts[0], throttled), by_hub=True)
    response = get(instances.hosts[1], other_job)  # another instance, another job: held back, not sent
    _assert_refused(response)
    assert int(response.headers["Retry-After"]) > 20
    assert _counters(hubsim_clean)["get"] == 1


def test_instances_racing_for_the_last_calls_never_take_more_than_the_budget(azurite: AzuriteInfo) -> None:
    """Eight instances' budgets (each its own store, session and circuit), 40 calls wanted at once, 10 allowed."""
    settings = SharedCacheSettings(enabled=True, container=new_shared_container(), max_entries=100,
                                   storage=StateStorage(connection_string=azurite.connection_string))
    budgets = [SharedBudget(lambda _hub: 10, store=SharedStore(settings=settings)) for _ in range(8)]

    def take(index: int) -> float:
        """0 if granted, else the wait it was told."""
        try:
            budgets[index % 8].acquire("devhub", wait_seconds=0.0)
        except HubBudgetExhausted as refused:
            return refused.retry_after
        return 0.0

    with ThreadPoolExecutor(max_workers=16) as pool:
        waits = list(pool.map(take, range(40)))
    assert waits.count(0.0) == 10
    assert all(wait > 0 for wait in waits if wait != 0.0)
    stored = BudgetLog.from_bytes(blobs(azurite, settings.container)["budget/devhub.json"])
    assert len(stored.ends) == 10


@pytest.mark.parametrize("limit", [1, 3])
def test_a_refused_caller_is_told_when_the_next_call_frees_up(azurite: AzuriteInfo, limit: int) -> None:
    settings = SharedCacheSettings(enabled=True, container=new_shared_container(), max_entries=100,
                                   storage=StateStorage(connection_string=azurite.connection_string))
    budget = SharedBudget(lambda _hub: limit, store=SharedStore(settings=settings))
    for _ in range(limit):
        budget.acquire("devhub", wait_seconds=0.0)
    with pytest.raises(HubBudgetExhausted) as refused:
        budget.acquire("devhub", wait_seconds=0.0)
    assert 55 < refused.value.retry_after <= 61
