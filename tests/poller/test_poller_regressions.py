"""Regressions of reviewed poller defects, against the devstack simulator and Azurite (no mocks)."""

from __future__ import annotations

import datetime
import logging

import pytest

from shared.blob_targets import BlobClients
from shared.poller import Poller, utc_now
from tests.poller.conftest import PREFIX, PollerEnv, blob_names, container_sas_uri, events, new_container, read_json


def _counting_poller(env: PollerEnv, requests_seen: list[str], **extra: str) -> Poller:
    return Poller(env.settings(**extra), blobs=BlobClients(
        storage_client_id=None, request_hook=lambda request: requests_seen.append(request.http_request.method)))


def test_job_missing_from_one_list_keeps_its_seq_when_it_returns(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """D3: an empty list once must not wipe the hub's state; the job's seq continues when it is back."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    control = env.hubsim.control("devhub")
    container = new_container(env.azurite)
    job = {"jobId": "comes-back", "type": "export", "status": "running", "progress": 40,
           "outputBlobContainerUri": container_sas_uri(env.azurite, container)}
    storage: list[str] = []
    poller = _counting_poller(env, storage)
    poller.tick()  # the first run: an empty hub
    control.seed_jobs([job])
    poller.tick()
    control.forget_jobs()
    poller.tick()  # one empty 200 list
    assert "comes-back" in env.state()["jobs"]
    control.seed_jobs([job])  # back, unchanged: nothing new to write
    poller.tick()
    control.forget_jobs()
    control.seed_jobs([{**job, "progress": 60}])  # back, and it moved: the seq continues
    poller.tick()
    assert blob_names(env.azurite, container, f"{PREFIX}/comes-back/snapshots/") == [
        f"{PREFIX}/comes-back/snapshots/00001-running-40.json",
        f"{PREFIX}/comes-back/snapshots/00002-running-60.json",
    ]
    latest = read_json(env.azurite, container, f"{PREFIX}/comes-back/latest.json")
    assert (latest["snapshotSeq"], latest["progress"]) == (2, 60)
    assert [(e["seq"], e["progress"]) for e in events(caplog, "poller.job_changed")] == [(1, 40), (2, 60)]
    # And the steady state is back to no storage request at all.
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []
    # Forgotten only once it is absent and its last change is older than the hub's 30-day history.
    control.forget_jobs()
    poller.tick()
    assert "comes-back" in env.state()["jobs"]
    later = Poller(env.settings(), clock=lambda: utc_now() + datetime.timedelta(days=32))
    later.tick()
    assert "comes-back" not in env.state()["jobs"]
