"""The poller's first run against a hub, on two instances at once, against Azurite: the state is created only if
none exists (If-None-Match: *), so the instance that loses the race plans again instead of overwriting the
winner's state (and with it the record of what the winner wrote)."""

from __future__ import annotations

import datetime

import pytest

from devstack.azurite import AzuriteInfo
from shared.errors import StateConflict
from shared.poller.state import JobRecord
from shared.poller.store import StateStore
from tests.support.poller import new_container, read_json, service

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def test_a_first_run_creates_the_state_only_if_none_exists(azurite: AzuriteInfo) -> None:
    name = new_container(azurite)
    first, second = (StateStore(service(azurite).get_container_client(name)) for _ in range(2))
    loaded = [store.load("devhub", now=NOW) for store in (first, second)]
    assert [one.etag for one in loaded] == [None, None]  # neither instance found a state: both create
    winner, loser = loaded[0].state, loaded[1].state
    winner.jobs["job-written-by-the-winner"] = JobRecord(job_id="job-written-by-the-winner")
    loser.jobs["job-of-the-loser"] = JobRecord(job_id="job-of-the-loser")
    etag = first.save(winner, None)
    with pytest.raises(StateConflict):
        second.save(loser, None)
    stored = read_json(azurite, name, StateStore.blob_name("devhub"))
    assert set(stored["jobs"]) == {"job-written-by-the-winner"}
    assert second.load("devhub", now=NOW).etag == etag  # the loser plans again from the winner's state

