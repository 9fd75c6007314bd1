"""get_job on several instances (local host processes) against one Azurite and one simulated hub: the hub sees
as few calls as if there were one instance.

Counts only, never times: hub calls are the simulator's counters, answers are the callers'.
"""

from __future__ import annotations

import json
import math
import time
import uuid

from bench.bench_load import run_load
from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.shared_cache.conftest import TTL_SECONDS, Instances
from tests.support import served
from tests.support.shared_cache import all_at_once, blobs, entry_name, events, get, put_blob, statuses


def _new(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _gets(hubsim: HubSimulator) -> int:
    return hubsim.control("devhub").counters()["get"]


def test_a_finished_job_is_fetched_from_the_hub_once_for_the_whole_app(
    four: Instances, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    job_id = _new("done")
    served.seed(hubsim_clean, [served.job(job_id, "completed")])
    first = all_at_once(four.hosts, [job_id], clients=40)
    later = [get(host, job_id) for host in four.hosts]
    assert statuses(first + later) == {200: 44}
    assert len({r.content for r in first + later}) == 1
    assert _gets(hubsim_clean) == 1
    # What the instances share holds the redacted document only.
    stored = blobs(azurite, four.container, "jobs/")
    assert list(stored) == [entry_name(job_id)]
    served.secrets(hubsim_clean).assert_absent(stored[entry_name(job_id)].decode(), "the shared entry")
    assert "sig=REDACTED" in stored[entry_name(job_id)].decode()


def test_an_active_job_reaches_the_hub_at_most_once_per_ttl_whatever_the_instances(
    four: Instances, hubsim_clean: HubSimulator
) -> None:
    job_id = _new("active")
    served.seed(hubsim_clean, [served.job(job_id, "running")])
    result = run_load(base_url=four.urls, function_key=four.hosts[0].function_key,
                      controls=[hubsim_clean.control("devhub")], clients=40, duration_seconds=4, jobs=[job_id])
    assert set(result.statuses) == {200}
    windows = math.ceil(result.seconds / TTL_SECONDS) + 1
    # One instance alone would make up to `windows` calls; four on their own, four times that.
    assert result.hub_calls <= windows, result.summary()
    for host in four.hosts:  # every instance answered some of them
        assert any(e["jobId"] == job_id for e in events(host.log(), "get_job"))


def test_callers_on_other_instances_wait_for_the_one_hub_call_in_flight(
    four: Instances, hubsim_clean: HubSimulator
) -> None:
    job_id = _new("slow")
    served.seed(hubsim_clean, [served.job(job_id, "running")])
    hubsim_clean.control("devhub").set_latency(400)  # every caller arrives while the first call is in flight
    responses = all_at_once(four.hosts, [job_id], clients=24)
    assert statuses(responses) == {200: 24}
    assert _gets(hubsim_clean) == 1
    outcomes = [e["cache"] for host in four.hosts for e in events(host.log(), "get_job") if e["jobId"] == job_id]
    assert outcomes.count("miss") == 1 and outcomes.count("shared-wait") == 3  # one leader per other instance


def test_an_unknown_id_is_asked_once_per_ttl_across_instances(
    four: Instances, hubsim_clean: HubSimulator
) -> None:
    job_id = _new("nosuch")
    responses = all_at_once(four.hosts, [job_id], clients=20)
    assert statuses(responses) == {404: 20}
    assert {r.json()["error"]["code"] for r in responses} == {"JobNotFound"}
    assert _gets(hubsim_clean) == 1


def test_a_corrupt_or_unredacted_entry_is_ignored_and_replaced(
    four: Instances, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    container = four.container
    garbage, planted = _new("garbage"), _new("planted")
    served.seed(hubsim_clean, [served.job(garbage, "completed"), served.job(planted, "completed")])
    put_blob(azurite, container, entry_name(garbage), b"\x00not an entry{")
    # An entry whose body still has its signature (not written by the app): it must never be served.
    body = json.dumps(served.job(planted, "completed"), separators=(",", ":"))
    put_blob(azurite, container, entry_name(planted),
             json.dumps({"v": 1, "answer": {"fetchedAt": time.time(), "body": body}}).encode())
    for job_id in (garbage, planted):
        response = get(four.hosts[1], job_id)
        assert response.status_code == 200 and response.json()["jobId"] == job_id
        served.secrets(hubsim_clean).assert_absent(response.text, job_id)
    assert _gets(hubsim_clean) == 2  # each fetched again from the hub ...
    for job_id in (garbage, planted):  # ... and its entry replaced by a good one, which the others now use
        entry = json.loads(blobs(azurite, container, entry_name(job_id))[entry_name(job_id)])
        assert entry["answer"]["body"]
        served.secrets(hubsim_clean).assert_absent(json.dumps(entry), f"the replaced entry of {job_id}")
        assert get(four.hosts[2], job_id).status_code == 200
    assert _gets(hubsim_clean) == 2


def test_a_dead_instances_claim_is_taken_over(
    four: Instances, hubsim_clean: HubSimulator, azurite: AzuriteInfo
) -> None:
    job_id = _new("orphan")
    served.seed(hubsim_clean, [served.job(job_id, "running")])
    # An instance claimed the entry a minute ago and died before it answered.
    put_blob(azurite, four.container, entry_name(job_id),
             json.dumps({"v": 1, "answer": None, "claim": {"id": "dead", "at": time.time() - 60}}).encode())
    assert get(four.hosts[3], job_id).status_code == 200
    assert _gets(hubsim_clean) == 1
    # Taken over, not waited out: no instance gave up on it after waiting (the retry budget's worth).
    assert not [e for host in four.hosts for e in events(host.log(), "shared_claim_outwaited")]
