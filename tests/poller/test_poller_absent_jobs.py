"""Jobs that leave the hub's list: their record and seq survive, and work claimed for them is finished or
given up, against the devstack simulator and Azurite."""

from __future__ import annotations

import datetime
import json
import logging

import pytest

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.identity import IdentityControl
from shared.clock import utc_now
from shared.poller.state import MAX_WRITE_FAILURES
from shared.poller.tick import Poller
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    allow_identity,
    blob_names,
    container_sas_uri,
    counting_poller,
    events,
    failed_import,
    new_container,
    read_json,
    service,
    upload_text,
)


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
    poller = counting_poller(env, storage)
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


def test_pending_work_of_an_unlisted_job_counts_toward_giving_up(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """D7: the claim is stored, the write fails, the job leaves the list: each tick is a failure, the poller
    gives up at MAX_WRITE_FAILURES, and the steady state goes back to no storage request."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    control = env.hubsim.control("devhub")
    container = new_container(env.azurite, create=False)  # missing: the writes fail
    storage: list[str] = []
    poller = counting_poller(env, storage)
    poller.tick()
    control.seed_jobs([failed_import("gone-pending", container_sas_uri(env.azurite, container))])
    assert poller.tick().hubs["devhub"].write_failures == 1
    control.forget_jobs()
    # Over http the stored (redacted) document leaves no usable credential: every tick is a failure.
    for expected in range(2, MAX_WRITE_FAILURES + 1):
        assert poller.tick().hubs["devhub"].write_failures == 1, expected
    record = env.state()["jobs"]["gone-pending"]
    assert record["skipped"].startswith(f"gave up after {MAX_WRITE_FAILURES}")
    assert [e["jobId"] for e in events(caplog, "poller.job_skipped")] == ["gone-pending"]
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []


def test_pending_work_of_an_unlisted_job_is_written_from_the_stored_documents(
    env: PollerEnv, azurite_oauth: AzuriteInfo, managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D7: the job's SAS is gone with the list entry; its stored, redacted documents and the managed identity
    still finish its snapshot, latest.json and report (importErrors.log read with the identity too)."""
    allow_identity(env, azurite_oauth, monkeypatch)
    control = env.hubsim.control("devhub")
    container = new_container(azurite_oauth, create=False)
    storage: list[str] = []
    poller = counting_poller(env, storage)
    poller.tick()
    control.seed_jobs([failed_import("gone-written", container_sas_uri(azurite_oauth, container))])
    assert poller.tick().hubs["devhub"].write_failures == 1
    control.forget_jobs()
    service(azurite_oauth).create_container(container)
    upload_text(azurite_oauth, container, "importErrors.log", json.dumps(
        {"errorCode": "404001", "errorStatus": "Device not found", "deviceId": "ghost"}) + "\n")
    result = poller.tick()
    assert result.hubs["devhub"].write_failures == 0
    assert blob_names(azurite_oauth, container, f"{PREFIX}/") == [
        f"{PREFIX}/gone-written/failure-report.json", f"{PREFIX}/gone-written/failure-report.md",
        f"{PREFIX}/gone-written/latest.json", f"{PREFIX}/gone-written/snapshots/00001-failed-20.json",
    ]
    report = read_json(azurite_oauth, container, f"{PREFIX}/gone-written/failure-report.json")
    assert report["importErrors"]["totalLines"] == 1
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) >= 1
    assert env.state()["jobs"]["gone-written"].get("pending", []) == []
    poller.tick()
    storage.clear()
    for _ in range(3):
        poller.tick()
    assert storage == []
