"""A job whose container refuses the report still has one: the app's own copy is written first and on its own,
and records the delivery beside the job (delivered, or refused with status, code and advice), which is tried
again with backoff for the job's history window, then given up. Real 403s: Azurite's own for a SAS without
Write, the storage front's for a firewall. The poller's clock is moved; nothing sleeps."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

import pytest

from devstack.storagefront import Denial
from shared.clock import utc_iso
from shared.poller.tick import Poller
from tests.fixtures.storagefront import FrontedStorage
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_only_sas_uri,
    service,
)

# The simulator lists a job for 30 days after it ends, by the real clock: the poller's clock starts at a real,
# whole minute an hour after the job ended.
START = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
ENDED = START - datetime.timedelta(hours=1)


def failed_export(job_id: str, uri: str) -> dict[str, object]:
    return {"jobId": job_id, "type": "export", "status": "failed", "progress": 10,
            "startTimeUtc": utc_iso(ENDED - datetime.timedelta(hours=1)), "endTimeUtc": utc_iso(ENDED),
            "outputBlobContainerUri": uri,
            "failureReason": "ErrorCode:UnauthorizedToWriteToStorage;the SAS lacks write"}


def ticker(env: PollerEnv, start: datetime.datetime) -> tuple[list[datetime.datetime], Callable[[], None]]:
    now = [start]
    settings = env.settings()

    def tick() -> None:
        # Each tick another instance's: it reads the state, as after a restart.
        assert Poller(settings, clock=lambda: now[0]).tick().hubs["devhub"].ok

    return now, tick


def test_a_read_only_sas_still_gets_a_report_that_says_why_it_is_not_beside_the_job(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([failed_export("readonly", read_only_sas_uri(env.azurite, container))])
    now, tick = ticker(env, START)
    tick()
    copy = env.report_copy("readonly")
    assert copy["status"] == "failed" and copy["jobId"] == "readonly"
    delivery = copy["delivery"]
    assert (delivery["state"], delivery["attempts"], delivery["httpStatus"], delivery["errorCode"]) == (
        "refused", 1, 403, "AuthorizationPermissionMismatch")
    assert delivery["reason"] == "the SAS has no Write permission: create the job with sp=rwd"
    assert delivery["hint"] == "sasExpiredOrLacksPermissions" and "Write" in delivery["advice"]
    assert delivery["nextAttemptUtc"] == utc_iso(START + datetime.timedelta(minutes=1))
    assert delivery["giveUpAfterUtc"] == utc_iso(ENDED + datetime.timedelta(days=30))
    assert blob_names(env.azurite, container, f"{PREFIX}/") == []  # nothing could be written beside the job
    record = env.state()["jobs"]["readonly"]
    assert record["report"] == "pending" and record["delivery"] == delivery and "write_failures" not in record
    assert [e["jobId"] for e in events(caplog, "poller.report_written")] == ["readonly"]
    assert [(e["attempts"], e["errorCode"]) for e in events(caplog, "poller.report_not_delivered")] == [
        (1, "AuthorizationPermissionMismatch")]

    # Before the next attempt is due, the job's container is left alone: nothing logged, nothing counted.
    now[0] += datetime.timedelta(seconds=50)
    tick()
    assert len(events(caplog, "poller.report_not_delivered")) == 1
    assert len(events(caplog, "poller.write_failed")) == 1
    # Then tried again, once, and the wait doubles; the report is still logged as written only once.
    now[0] += datetime.timedelta(seconds=15)
    tick()
    tick()
    again = env.report_copy("readonly")["delivery"]
    next_attempt = utc_iso(START + datetime.timedelta(minutes=3, seconds=5))  # 2 min after the attempt at 1:05
    assert (again["attempts"], again["nextAttemptUtc"]) == (2, next_attempt)
    assert len(events(caplog, "poller.report_not_delivered")) == 2
    assert len(events(caplog, "poller.report_written")) == 1
    # No SAS signature in the copy, the state or any log line.
    secrets = env.secrets()
    secrets.assert_absent(str(env.report_copy("readonly")), "the report's copy")
    secrets.assert_absent(str(env.state()), "the state")
    secrets.assert_absent("\n".join(r.getMessage() for r in caplog.records), "the log")


def test_a_refused_delivery_is_given_up_past_the_jobs_history_window(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([failed_export("window", read_only_sas_uri(env.azurite, container))])
    now, tick = ticker(env, START)
    tick()
    now[0] = ENDED + datetime.timedelta(days=30, seconds=-30)  # the next wait would pass the window
    tick()
    delivery = env.report_copy("window")["delivery"]
    assert (delivery["state"], delivery["attempts"]) == ("givenUp", 2) and "nextAttemptUtc" not in delivery
    record = env.state()["jobs"]["window"]
    assert record["report"] == "written" and record["skipped"].startswith("gave up writing beside the job after 2")
    assert [e["reason"] for e in events(caplog, "poller.job_skipped")] == [record["skipped"]]
    now[0] += datetime.timedelta(days=1)
    tick()
    assert env.report_copy("window")["delivery"] == delivery  # never tried again
    assert len(events(caplog, "poller.report_not_delivered")) == 2


def test_a_delivery_refused_by_a_firewall_lands_once_the_firewall_lets_the_app_in(
    env: PollerEnv, storage_front: FrontedStorage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(storage_front.info)
    storage_front.control.deny(container, Denial.FIREWALL)
    env.hubsim.control("devhub").seed_jobs([failed_export("walled", container_sas_uri(storage_front.info, container))])
    now, tick = ticker(env, START)
    try:
        tick()
        refused = env.report_copy("walled")["delivery"]
        assert (refused["state"], refused["errorCode"], refused["hint"]) == (
            "refused", "AuthorizationFailure", "storageFirewall")
        assert refused["reason"] == "the storage account's firewall refused the app"
    finally:
        storage_front.control.allow(container)
    now[0] += datetime.timedelta(minutes=1)
    tick()
    delivered = env.report_copy("walled")["delivery"]
    assert (delivered["state"], delivered["attempts"]) == ("delivered", 2)
    names = blob_names(storage_front.info, container, f"{PREFIX}/")
    assert f"{PREFIX}/walled/failure-report.json" in names and f"{PREFIX}/walled/failure-report.md" in names
    assert env.state()["jobs"]["walled"]["report"] == "written"
    assert len(events(caplog, "poller.report_written")) == 1
    beside = service(storage_front.info).get_blob_client(container, f"{PREFIX}/walled/failure-report.json")
    assert b'"delivery"' not in beside.download_blob().readall()  # the copy's record is the app's, not the job's
