"""Exactly once whatever the clocks and the hub say: skewed instances, duplicate list entries, a finished job
that comes back, targets that change, and log lines once per state transition. Devstack, no mocks."""

from __future__ import annotations

import datetime
import logging

import pytest

from devstack.hubsim import FaultKind, Operation
from shared.clock import utc_now
from shared.poller.tick import Poller
from tests.soak.chaos import ChaosBlobClients, StorageFault, WireLog
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
)

HUB = "devhub"


def show(env: PollerEnv, job_id: str, status: str, progress: int, uri: str | None, **props: object) -> None:
    control = env.hubsim.control(HUB)
    control.forget_jobs()
    job: dict[str, object] = {"jobId": job_id, "type": "export", "status": status, "progress": progress,
                              "startTimeUtc": ago(minutes=30), **props}
    if uri is not None:
        job["outputBlobContainerUri"] = uri
    if status in ("completed", "failed", "cancelled"):
        job["endTimeUtc"] = ago(minutes=1)
    control.seed_jobs([job])


def snapshots(env: PollerEnv, container: str, job_id: str) -> list[str]:
    return [n.rsplit("/", 1)[1] for n in blob_names(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/")]


def test_instances_whose_clocks_disagree_lose_no_observation(env: PollerEnv) -> None:
    """One instance's clock 10 minutes fast: the correct one used to drop every newer observation (its list
    time was "before" the recorded change) and a stale list of the fast one could write running after
    completed. Observations are ordered by the job's own progress, never by an instance's clock."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    right = Poller(env.settings())
    fast = Poller(env.settings(), clock=lambda: utc_now() + datetime.timedelta(minutes=10))
    for poller, (status, progress) in zip((right, fast, right, fast, right),
                                          (("running", 10), ("running", 20), ("running", 30), ("completed", 100),
                                           ("completed", 100)), strict=True):
        show(env, "skewed", status, progress, uri)
        assert poller.tick().hubs[HUB].ok
    assert snapshots(env, container, "skewed") == [
        "00001-running-10.json", "00002-running-20.json", "00003-running-30.json", "00004-completed-100.json"]
    latest = read_json(env.azurite, container, f"{PREFIX}/skewed/latest.json")
    assert (latest["status"], latest["snapshotSeq"]) == ("completed", 4)


def test_a_job_listed_twice_gets_one_snapshot_per_change(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    control = env.hubsim.control(HUB)
    poller = env.poller()
    for progress in (30, 30, 60):
        show(env, "twice", "running", progress, uri)
        control.queue_fault(FaultKind.DUPLICATE, operation=Operation.LIST)
        assert poller.tick().hubs[HUB].ok
    assert snapshots(env, container, "twice") == ["00001-running-30.json", "00002-running-60.json"]
    assert [e["anomaly"] for e in events(caplog, "poller.hub_anomaly")] == ["listedTwice"]


def test_a_finished_job_that_reopens_and_fails_gets_its_report(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    poller = env.poller()
    for status, progress in (("completed", 100), ("running", 50), ("failed", 50)):
        show(env, "reopened", status, progress, uri, failureReason="ErrorCode:ServerError;x")
        assert poller.tick().hubs[HUB].ok
    assert snapshots(env, container, "reopened") == ["00001-completed-100.json", "00002-failed-50.json"]
    assert f"{PREFIX}/reopened/failure-report.json" in blob_names(env.azurite, container, PREFIX)
    assert [e["anomaly"] for e in events(caplog, "poller.hub_anomaly")] == ["reopened"]


def test_a_target_is_checked_on_every_tick(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    """A job first listed without an output URI used to be skipped for good; one whose URI later moved off
    the allowlist stayed pending, silently, for ever. Now: watched until its URI is usable, and a refusal
    counts towards giving up, with one log line."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    poller = env.poller()
    show(env, "late-uri", "running", 10, None)
    for _ in range(2):
        assert poller.tick().hubs[HUB].ok
    show(env, "late-uri", "running", 10, uri)
    assert poller.tick().hubs[HUB].ok
    assert snapshots(env, container, "late-uri") == ["00001-running-10.json"]
    # The URI moves off the allowlist while a change is pending (a hung write leaves it pending).
    show(env, "late-uri", "failed", 10, "https://elsewhere.example.com/cont?sv=1&sig=c2ln")
    for _ in range(3):
        assert poller.tick().hubs[HUB].ok
    record = env.state()["jobs"]["late-uri"]
    assert record["refused"].startswith("storage endpoint elsewhere.example.com:443 is not on the allowlist")
    skipped = [e for e in events(caplog, "poller.job_skipped") if e["jobId"] == "late-uri"]
    assert [e["reason"].split(" (")[0] for e in skipped] == [
        "outputBlobContainerUri is missing", "storage endpoint elsewhere.example.com:443 is not on the allowlist"]


def test_a_claim_whose_answer_was_lost_still_logs_its_change_once(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """The claim's save reached storage but its answer did not: the change used to go unlogged (the retry
    found nothing to plan). Log lines wait in the state and go out with the confirm that takes them."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    blobs = ChaosBlobClients(wire=WireLog(), name="lost-answer")
    poller = Poller(env.settings(), blobs=blobs)
    poller.tick()
    show(env, "lost-answer", "running", 10, uri)
    blobs.arm(StorageFault(kind="response_lost", at=2))  # the tick's 2nd request: the claim's save
    poller.tick()
    blobs.arm(None)
    for _ in range(2):
        poller.tick()
    assert [e["seq"] for e in events(caplog, "poller.job_changed") if e["jobId"] == "lost-answer"] == [1]
    assert snapshots(env, container, "lost-answer") == ["00001-running-10.json"]
