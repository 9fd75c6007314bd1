"""What the instances share expires when it should: a 404 shared before the job existed is asked again once its
TTL is over (not kept like a finished job's answer), and a sweep marker dated in the future (a clock that ran
ahead, or a hand-written marker) never stops the sweep for good. Against Azurite, the hub simulator and local
Functions hosts."""

from __future__ import annotations

import json
import time
import uuid

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from shared.cache.store import SharedStore
from shared.cache.sweep import MARKER, Sweeper, expires_metadata
from shared.settings import SharedCacheSettings, StateStorage
from tests.shared_cache.conftest import Fleet
from tests.support import served
from tests.support.shared_cache import blobs, entry_name, get, new_shared_container

TTL_SECONDS = 1.0
A_MONTH = 30 * 24 * 3600.0


def test_a_shared_404_is_asked_again_after_its_ttl(fleet: Fleet, hubsim_clean: HubSimulator,
                                                  azurite: AzuriteInfo) -> None:
    """Asked for before it existed, a job is 404 for every instance within the TTL, and found by any of them
    after it: a 404 is not a finished job's answer, kept for a day."""
    instances = fleet(2, GET_JOB_CACHE_TTL_SECONDS=str(TTL_SECONDS))
    job_id = f"later-{uuid.uuid4().hex[:8]}"
    assert get(instances.hosts[0], job_id).status_code == 404
    entry = json.loads(blobs(azurite, instances.container, "jobs/")[entry_name(job_id)])
    assert entry["answer"].get("body") is None  # the 404 is what the instances share now
    served.seed(hubsim_clean, [served.job(job_id, "running")])
    time.sleep(TTL_SECONDS + 0.5)
    for host in reversed(instances.hosts):  # the other instance (shared entry only), then the first (its own too)
        response = get(host, job_id)
        assert response.status_code == 200, response.text
        assert response.json()["jobId"] == job_id
    assert hubsim_clean.control("devhub").counters()["get"] == 2


def test_a_sweep_marker_dated_in_the_future_does_not_stop_the_sweep(azurite: AzuriteInfo) -> None:
    settings = SharedCacheSettings(enabled=True, container=new_shared_container(), max_entries=100,
                                   storage=StateStorage(connection_string=azurite.connection_string))
    store = SharedStore(settings=settings)
    now = time.time()
    assert store.write(MARKER, json.dumps({"v": 1, "lastSweep": now + A_MONTH}).encode(), etag=None)
    assert store.write("jobs/devhub/v/expired.json", b"{}", etag=None, metadata=expires_metadata(now - 10))
    sweeper = Sweeper(store=store, prefix="jobs/", max_entries=100)
    assert sweeper.try_claim()  # a marker from the future is not believed: this minute's sweep is won
    marker = json.loads(blobs(azurite, settings.container)[MARKER])
    assert abs(marker["lastSweep"] - time.time()) < 60  # and it is dated now again
    assert sweeper.sweep().expired == 1
    assert not sweeper.try_claim()  # the minute holds again, from now
