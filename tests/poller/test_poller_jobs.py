"""The poller against the simulator and Azurite: snapshots, latest.json and failure reports."""

from __future__ import annotations

import json
import logging
import time

import pytest

from devstack.hubsim.vocab import JobStatus as SimStatus
from tests.support.poller import (
    IMPORT_KEY,
    PREFIX,
    PollerEnv,
    assert_timeline,
    blob_names,
    cancel_job,
    container_sas_uri,
    create_job,
    events,
    new_container,
    read_json,
    read_text,
    snapshots,
    start_failing_import,
    wait_terminal,
)


def test_export_that_completes(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    poller = env.poller()
    job_id = create_job(env.hubsim, "devhub", {"type": "export", "outputBlobContainerUri": container_sas_uri(
        env.azurite, container), "excludeKeysInExport": False})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        poller.tick()
        if env.state()["jobs"][job_id].get("status") == "completed":
            break
        time.sleep(0.01)
    pairs = assert_timeline(snapshots(env, container, job_id))
    assert pairs[-1] == ("completed", "100")
    assert len(pairs) >= 2  # at least one active state was seen before the end
    names = blob_names(env.azurite, container)
    assert "devices.txt" in names  # IoT Hub's own output, beside ours
    assert f"{PREFIX}/{job_id}/failure-report.json" not in names
    latest = read_json(env.azurite, container, f"{PREFIX}/{job_id}/latest.json")
    assert latest["status"] == "completed"
    assert latest["progress"] == 100
    assert latest["hub"] == "devhub"
    assert latest["stalled"] is False
    assert latest["snapshotSeq"] == len(pairs)
    assert "sig=REDACTED" in latest["outputBlobContainerUri"]
    first = read_json(env.azurite, container, snapshots(env, container, job_id)[0])
    assert first["jobId"] == job_id
    assert first["polledAtUtc"].endswith("Z")
    changed = events(caplog, "poller.job_changed")
    assert [(e["status"], str(e["progress"])) for e in changed] == pairs


def test_import_that_fails_gets_a_report(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    poller.tick()
    job_id, outputs = start_failing_import(env)
    job = wait_terminal(env.hubsim, "devhub", job_id)
    assert job["status"] == SimStatus.FAILED.value
    poller.tick()
    report = read_json(env.azurite, outputs, f"{PREFIX}/{job_id}/failure-report.json")
    assert report["jobId"] == job_id
    assert report["hub"] == "devhub"
    assert report["type"] == "import"
    assert report["status"] == "failed"
    assert report["cancelled"] is False
    assert report["startTimeUtc"] == job["startTimeUtc"]
    assert report["endTimeUtc"] == job["endTimeUtc"]
    assert isinstance(report["durationSeconds"], float)
    assert report["durationSeconds"] >= 0
    assert report["failureReason"]["code"] == "ImportErrors"
    assert report["failureReason"]["text"].startswith("4 of 5 devices failed to import")
    assert report["failureReason"]["raw"] == job["failureReason"]
    assert report["hint"]["key"] == "deviceImportErrors"
    assert report["storageAuthenticationType"] == "keyBased"
    assert "sig=REDACTED" in report["outputContainer"]
    summary = report["importErrors"]
    assert summary["totalLines"] == 4
    assert summary["countsByErrorCode"] == {"404001": 2, "400012": 1, "409001": 1}
    # The malformed line's deviceId is empty: its id is recovered from the input line the log echoes.
    assert [e["deviceId"] for e in summary["firstEntries"]] == ["device-001", "ghost-1", "bad-1", "ghost-2"]
    assert [e["errorCode"] for e in summary["firstEntries"]] == ["409001", "404001", "400012", "404001"]
    assert "REDACTED" in summary["firstEntries"][0]["errorStatus"]
    assert "REDACTED" in summary["firstEntries"][2]["errorStatus"]
    assert report["importErrorsNote"] is None
    assert [(t["seq"], t["status"]) for t in report["timeline"]] == [(1, "failed")]
    markdown = read_text(env.azurite, outputs, f"{PREFIX}/{job_id}/failure-report.md")
    assert job_id in markdown
    assert "deviceImportErrors" in markdown
    assert "| 404001 | DeviceNotFound | 2 |" in markdown
    secrets = env.secrets(IMPORT_KEY)
    for text in (json.dumps(report), markdown):
        secrets.assert_absent(text, "the report")
    # The log itself still holds the key: it is IoT Hub's file, and ours must not copy it.
    assert IMPORT_KEY in read_text(env.azurite, outputs, "importErrors.log")
    # The app's own copy, the one it serves, is the same report.
    copy = env.report_copy(job_id)
    assert copy.pop("delivery")["state"] == "delivered"  # the copy also records that the report is beside the job
    assert copy == report
    assert [e["jobId"] for e in events(caplog, "poller.report_written")] == [job_id]


def test_cancelled_job_gets_a_report_marked_cancelled(env: PollerEnv) -> None:
    env.hubsim.control("devhub").set_timing(enqueued_ms=10, running_ms=60_000, progress_steps=2)
    container = new_container(env.azurite)
    poller = env.poller()
    job_id = create_job(env.hubsim, "devhub", {"type": "export", "outputBlobContainerUri": container_sas_uri(
        env.azurite, container)})
    poller.tick()
    cancel_job(env.hubsim, "devhub", job_id)
    poller.tick()
    report = read_json(env.azurite, container, f"{PREFIX}/{job_id}/failure-report.json")
    assert report["status"] == "cancelled"
    assert report["cancelled"] is True
    assert report["hint"]["key"] == "cancelled"
    assert report["importErrors"] is None
    assert report["timeline"][-1]["status"] == "cancelled"
    assert "cancelled" in read_text(env.azurite, container, f"{PREFIX}/{job_id}/failure-report.md")
    assert assert_timeline(snapshots(env, container, job_id))[-1][0] == "cancelled"


def test_job_that_starts_and_ends_between_ticks(env: PollerEnv) -> None:
    poller = env.poller()
    poller.tick()
    job_id, outputs = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", job_id)
    poller.tick()
    # One observation only, the final one, as seq 1.
    assert [status for status, _ in assert_timeline(snapshots(env, outputs, job_id))] == ["failed"]
    names = blob_names(env.azurite, outputs, f"{PREFIX}/")
    assert f"{PREFIX}/{job_id}/failure-report.json" in names
    assert f"{PREFIX}/{job_id}/failure-report.md" in names
    assert f"{PREFIX}/{job_id}/latest.json" in names


def test_listed_job_ids_that_cannot_name_a_blob_are_skipped_with_one_log_line(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """(b) The poller takes the ids the hub lists; one that is not blob-safe is skipped (logged once), not
    crashed on, and the other jobs are written. A trailing newline used to slip through `$`."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    unsafe = ["bad/slash", "dot..dot", "newline\n", "with space", "x" * 201, "-leading-hyphen"]
    seeded = env.hubsim.control("devhub").seed_jobs(
        [{"jobId": job_id, "type": "export", "status": "running", "progress": 1, "outputBlobContainerUri": uri}
         for job_id in [*unsafe, "fine:id@1"]])
    assert seeded == [*unsafe, "fine:id@1"]
    poller = env.poller()
    for _ in range(3):
        assert poller.tick().hubs["devhub"].ok
    assert blob_names(env.azurite, container, f"{PREFIX}/") == [
        f"{PREFIX}/fine:id@1/latest.json", f"{PREFIX}/fine:id@1/snapshots/00001-running-1.json"]
    skipped = events(caplog, "poller.job_skipped")
    assert sorted(e["jobId"] for e in skipped) == sorted(unsafe)
    assert all(e["reason"] == "the jobId cannot be used as a blob name" for e in skipped)
    assert list(env.state()["jobs"]) == ["fine:id@1"]
