"""Storage slow or down never fails a request the hub can answer: instances go on on their own, log it once per
outage, and share again by themselves once storage is back. Entries stay bounded in age and count."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.bench_load import run_load
from devstack import processes
from devstack.azurite import AzuriteInfo, start_azurite
from devstack.hubsim import HubSimulator
from shared.cache.store import SharedStore
from shared.cache.sweep import Sweeper, expires_metadata
from shared.settings import SharedCacheSettings, StateStorage
from tests.shared_cache.conftest import Fleet
from tests.support import served
from tests.support.listeners import TcpListener
from tests.support.shared_cache import all_at_once, blobs, events, get, new_shared_container, statuses

RECOVERY_WAIT_SECONDS = 60.0  # the circuit's pause doubles to 30 s at most while probes fail


def _new(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_azurite_stopped_and_restarted_mid_run(
    fleet: Fleet, hubsim_clean: HubSimulator, tmp_path: Path
) -> None:
    port = processes.free_port()
    process, storage = start_azurite(port=port, data_dir=tmp_path / "data", log_path=tmp_path / "azurite.log")
    try:
        instances = fleet(3, storage=storage, GET_JOB_CACHE_TTL_SECONDS="1")
        active, done = _new("active"), _new("done")
        served.seed(hubsim_clean, [served.job(active, "running"), served.job(done, "completed")])
        load_urls = instances.urls
        with ThreadPoolExecutor(max_workers=1) as pool:
            load = pool.submit(run_load, base_url=load_urls, function_key=instances.hosts[0].function_key,
                               controls=[hubsim_clean.control("devhub")], clients=9, duration_seconds=8,
                               jobs=[active, done])
            time.sleep(2)
            processes.stop(process)  # storage goes away while the callers keep asking
            time.sleep(3)
            process, _ = start_azurite(port=port, data_dir=tmp_path / "data", log_path=tmp_path / "azurite.log")
            during = load.result()
        assert set(during.statuses) == {200}, during.summary()
        # Each instance shares again once a probe gets through (requests keep coming until then).
        give_up = time.monotonic() + RECOVERY_WAIT_SECONDS
        answers: Counter[int] = Counter()
        while time.monotonic() < give_up and not all(
            events(host.log(), "shared_store_recovered") for host in instances.hosts
        ):
            answers.update(get(host, active).status_code for host in instances.hosts)
            time.sleep(0.2)
        assert set(answers) <= {200}
        for host in instances.hosts:
            assert len(events(host.log(), "shared_store_unavailable")) == 1, host.log()  # once per outage
            assert len(events(host.log(), "shared_store_recovered")) == 1
        # And share again: a finished job nobody asked for yet, from every instance at once, costs one call.
        again = _new("after")
        served.seed(hubsim_clean, [served.job(again, "completed")])
        before = hubsim_clean.control("devhub").counters()["get"]
        assert statuses(all_at_once(instances.hosts, [again], clients=12)) == {200: 12}
        assert hubsim_clean.control("devhub").counters()["get"] - before == 1
    finally:
        processes.stop(process)


def test_storage_that_never_answers_costs_one_wait_then_none(
    fleet: Fleet, hubsim_clean: HubSimulator
) -> None:
    """A store that accepts connections and never answers: the first call times out and opens the circuit;
    the requests after it skip storage until a probe is due."""
    listener = TcpListener(hold=True)
    try:
        hung = AzuriteInfo(port=listener.port, scheme="http", ca_bundle=None)
        instances = fleet(1, storage=hung, GET_JOB_CACHE_TTL_SECONDS="0")
        host = instances.hosts[0]
        job_id = _new("active")
        served.seed(hubsim_clean, [served.job(job_id, "running")])
        answered = [get(host, job_id).status_code for _ in range(30)]
        assert answered == [200] * 30
        assert hubsim_clean.control("devhub").counters()["get"] == 30  # per instance: each one asked the hub
        # One connection for the call that opened the circuit, at most a probe or two since: not one per request.
        assert listener.connections <= 3
        assert len(events(host.log(), "shared_store_unavailable")) == 1
    finally:
        listener.close()


@pytest.fixture
def shared(azurite: AzuriteInfo) -> SharedCacheSettings:
    return SharedCacheSettings(enabled=True, container=new_shared_container(), max_entries=100,
                               storage=StateStorage(connection_string=azurite.connection_string))


def test_the_sweep_deletes_expired_entries_then_the_oldest_beyond_the_bound(
    shared: SharedCacheSettings, azurite: AzuriteInfo
) -> None:
    store = SharedStore(settings=shared)
    now = time.time()
    for index in range(3):  # of no more use
        assert store.write(f"jobs/devhub/v/expired-{index}.json", b"{}", etag=None,
                           metadata=expires_metadata(now - 10))
    for index in range(6):  # still of use, written oldest first
        assert store.write(f"jobs/devhub/v/kept-{index}.json", b"{}", etag=None, metadata=expires_metadata(now + 600))
        time.sleep(1.1)  # last-modified has one-second resolution
    assert store.write("jobs/devhub/v/foreign.json", b"{}", etag=None)  # no expiry: kept a day after writing
    assert store.write("budget/devhub.json", b"{}", etag=None, metadata=expires_metadata(now - 10))  # not an entry
    result = Sweeper(store=store, prefix="jobs/", max_entries=4).sweep()
    assert (result.expired, result.evicted, result.kept) == (3, 3, 4)
    left = sorted(blobs(azurite, shared.container))
    assert left == ["budget/devhub.json", "jobs/devhub/v/foreign.json", "jobs/devhub/v/kept-3.json",
                    "jobs/devhub/v/kept-4.json", "jobs/devhub/v/kept-5.json"]


def test_one_instance_sweeps_a_minute_for_the_whole_app(shared: SharedCacheSettings, azurite: AzuriteInfo) -> None:
    """Four instances (each its own store) try at once: one wins; nobody wins again within the minute."""
    sweepers = [Sweeper(store=SharedStore(settings=shared), prefix="jobs/", max_entries=100) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(Sweeper.try_claim, sweepers)).count(True) == 1
    assert not any(sweeper.try_claim() for sweeper in sweepers)
    marker = json.loads(blobs(azurite, shared.container)["sweep.json"])
    assert abs(marker["lastSweep"] - datetime.datetime.now(datetime.UTC).timestamp()) < 60
