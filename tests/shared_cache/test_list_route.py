"""GET /api/jobs on four instances: one hub list call serves every caller of every instance within the TTL, the
shared entry holds the redacted list only (and a planted unredacted one is never served), a 5,000-job list is
answered whole, and beyond the call budget the last list comes back with Age."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.shared_cache.conftest import Fleet, Instances
from tests.support import served
from tests.support.routes import ago
from tests.support.shared_cache import blobs, put_blob

LIST_ENTRY = "jobs/devhub/list/2021-04-12.json"


def _lists(hubsim: HubSimulator) -> int:
    return hubsim.control("devhub").counters()["list"]


def _list(host_url: str, key: str, **params: str) -> requests.Response:
    return requests.get(f"{host_url}/api/jobs", params=params, headers={"x-functions-key": key}, timeout=60)


def _many(count: int) -> list[dict[str, object]]:
    return [served.job(f"bulk-{i:05d}", ("running", "completed", "failed")[i % 3], startTimeUtc=ago(seconds=i))
            for i in range(count)]


def test_one_hub_list_call_serves_every_instance_within_the_ttl(
    fleet: Fleet, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    instances: Instances = fleet(4, GET_JOB_CACHE_TTL_SECONDS="30")
    served.seed(hubsim_clean, _many(12))
    key = instances.hosts[0].function_key
    barrier = threading.Barrier(24)

    def one(index: int) -> requests.Response:
        barrier.wait()
        params = ({}, {"status": "failed"}, {"top": "3"})[index % 3]
        return _list(instances.hosts[index % 4].url, key, **params)

    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(one, range(24)))
    assert {r.status_code for r in responses} == {200}
    assert {len(r.json()["jobs"]) for r in responses} == {12, 4, 3}
    assert _lists(hubsim_clean) == 1
    stored = blobs(azurite, instances.container, "jobs/")
    assert list(stored) == [LIST_ENTRY]
    served.secrets(hubsim_clean).assert_absent(stored[LIST_ENTRY].decode(), "the shared list entry")
    assert "sig=REDACTED" in stored[LIST_ENTRY].decode()


def test_a_planted_unredacted_list_is_never_served(
    fleet: Fleet, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    instances: Instances = fleet(1, GET_JOB_CACHE_TTL_SECONDS="30")
    served.seed(hubsim_clean, _many(2))
    body = json.dumps([served.job("planted", "failed")], separators=(",", ":"))
    put_blob(azurite, instances.container, LIST_ENTRY,
             json.dumps({"v": 1, "answer": {"fetchedAt": time.time(), "body": body}}).encode())
    response = _list(instances.hosts[0].url, instances.hosts[0].function_key)
    assert [job["jobId"] for job in response.json()["jobs"]] == ["bulk-00000", "bulk-00001"]
    served.secrets(hubsim_clean).assert_absent(response.text, "the list")
    assert _lists(hubsim_clean) == 1


def test_lists_stay_redacted_when_get_job_serves_signatures(
    fleet: Fleet, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    """GET_JOB_REDACT_SAS=false opens one job's signatures to get_job's callers; a list (30 days of every job's
    signatures) stays redacted, and so it is still shared between instances."""
    instances: Instances = fleet(2, GET_JOB_REDACT_SAS="false")
    served.seed(hubsim_clean, _many(3))
    key = instances.hosts[0].function_key
    responses = [_list(host.url, key) for host in instances.hosts]
    assert [r.status_code for r in responses] == [200, 200]
    for response in responses:
        assert "sig=REDACTED" in response.text
        served.secrets(hubsim_clean).assert_absent(response.text, "a list with GET_JOB_REDACT_SAS=false")
    assert _lists(hubsim_clean) == 1
    assert list(blobs(azurite, instances.container, "jobs/")) == [LIST_ENTRY]


def test_five_thousand_jobs_are_listed_whole_newest_first(fleet: Fleet, hubsim_clean: HubSimulator) -> None:
    instances: Instances = fleet(1, GET_JOB_CACHE_TTL_SECONDS="30")
    served.seed(hubsim_clean, _many(5000))
    host = instances.hosts[0]
    response = _list(host.url, host.function_key)
    assert response.status_code == 200
    ids = [job["jobId"] for job in response.json()["jobs"]]
    assert ids == [f"bulk-{i:05d}" for i in range(5000)]
    served.secrets(hubsim_clean).assert_absent(response.text, "5,000 jobs")
    top = _list(host.url, host.function_key, status="failed", top="10")
    assert [job["jobId"] for job in top.json()["jobs"]] == [f"bulk-{i:05d}" for i in range(2, 30, 3)]
    page = requests.get(f"{host.url}/api/status", headers={"x-functions-key": host.function_key}, timeout=60)
    assert page.status_code == 200
    # The page stays bounded: the newest 50, and a link to the older ones (issue 23).
    assert len(re.findall(r'"status/jobs/bulk-[0-9]+\?', page.text)) == 50 and 'rel="next"' in page.text
    assert _lists(hubsim_clean) == 1


def test_beyond_the_budget_the_last_list_comes_with_age(fleet: Fleet, hubsim_clean: HubSimulator) -> None:
    instances: Instances = fleet(2, GET_JOB_CACHE_TTL_SECONDS="1", IOTHUB_CALLS_PER_MINUTE="1")
    served.seed(hubsim_clean, _many(3))
    one, other = instances.hosts
    assert _list(one.url, one.function_key).status_code == 200
    time.sleep(1.2)  # past the TTL: the budget (1 a minute) is spent
    response = _list(other.url, other.function_key)
    assert response.status_code == 200
    assert int(response.headers["Age"]) >= 1
    assert _lists(hubsim_clean) == 1


def test_a_hub_that_throttles_everything_still_lists_its_last_known_jobs_on_every_instance(
    fleet: Fleet, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    """One instance listed the hub; then the hub throttles everything. Another instance, which never listed it, still
    answers with the last known jobs from the shared entry (kept a day, not swept with the TTL), their age and
    why, at the cost of one 429 at most."""
    from devstack.hubsim.vocab import FaultKind, Operation
    from shared.cache.sweep import EXPIRES

    instances: Instances = fleet(2, GET_JOB_CACHE_TTL_SECONDS="1")
    served.seed(hubsim_clean, _many(3))
    one, other = instances.hosts
    listed = _list(one.url, one.function_key).json()
    hubsim_clean.control("devhub").queue_fault(FaultKind.THROTTLE, count=1000, operation=Operation.LIST,
                                               retry_after=120)
    time.sleep(1.2)  # past the TTL
    answers = [_list(other.url, other.function_key) for _ in range(3)]
    assert {r.status_code for r in answers} == {200}
    for response in answers:
        body = response.json()
        assert body["jobs"] == listed["jobs"]
        assert (body["trouble"]["error"], body["trouble"]["lastKnown"]) == ("UpstreamThrottled", True)
        assert body["trouble"]["ageSeconds"] >= 1
    assert _lists(hubsim_clean) == 2  # the first list, then one 429: Retry-After 120 pauses every instance
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(azurite.connection_string, instances.container)
    expires = float(container.get_blob_client(LIST_ENTRY).get_blob_properties().metadata[EXPIRES])
    assert expires - time.time() > 23 * 3600  # not swept while the hub may stay in trouble

