"""The poller against the simulator and Azurite: snapshots, latest.json and failure reports."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time

import pytest

from devstack.hubsim.vocab import JobStatus as SimStatus
from tests.poller.conftest import (
    PREFIX,
    PollerEnv,
    blob_names,
    cancel_job,
    container_sas_uri,
    create_job,
    events,
    new_container,
    read_json,
    read_text,
    upload_text,
    wait_terminal,
)

SNAPSHOT = re.compile(
    r"^jobmonitor/(?P<job>[^/]+)/snapshots/(?P<seq>\d{5})-(?P<status>[a-z]+)-(?P<progress>\d+|na)\.json$"
)


def snapshots(env: PollerEnv, container: str, job_id: str) -> list[str]:
    return [n for n in blob_names(env.azurite, container, f"{PREFIX}/{job_id}/snapshots/")]


def assert_timeline(names: list[str]) -> list[tuple[str, str]]:
    """Seqs run 1..n without gaps and no (status, progress) repeats back to back."""
    parsed = [SNAPSHOT.match(n) for n in names]
    assert all(parsed), names
    seqs = [int(m["seq"]) for m in parsed if m]
    assert seqs == list(range(1, len(names) + 1)), names
    pairs = [(m["status"], m["progress"]) for m in parsed if m]
    assert all(a != b for a, b in itertools.pairwise(pairs)), names
    return pairs


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


IMPORT_KEY = "c2VjcmV0LWRldmljZS1rZXktdGhhdC1tdXN0LW5vdC1sZWFr"


def failing_import_lines() -> str:
    existing = {"id": "device-001", "importMode": "create",
                "authentication": {"symmetricKey": {"primaryKey": IMPORT_KEY, "secondaryKey": IMPORT_KEY}}}
    missing = {"id": "ghost-1", "importMode": "update"}
    good = {"id": "new-device-1", "importMode": "createOrUpdate"}
    malformed = '{"id":"bad-1","authentication":{"symmetricKey":{"primaryKey":"' + IMPORT_KEY
    return "\n".join([json.dumps(existing), json.dumps(missing), json.dumps(good), malformed,
                      json.dumps({**missing, "id": "ghost-2"})]) + "\n"


def start_failing_import(env: PollerEnv) -> tuple[str, str]:
    inputs, outputs = new_container(env.azurite), new_container(env.azurite)
    upload_text(env.azurite, inputs, "devices.txt", failing_import_lines())
    job_id = create_job(env.hubsim, "devhub", {
        "type": "import", "inputBlobContainerUri": container_sas_uri(env.azurite, inputs),
        "outputBlobContainerUri": container_sas_uri(env.azurite, outputs),
    })
    return job_id, outputs


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
    assert [e["deviceId"] for e in summary["firstEntries"]] == ["device-001", "ghost-1", "", "ghost-2"]
    assert [e["errorCode"] for e in summary["firstEntries"]] == ["409001", "404001", "400012", "404001"]
    assert "REDACTED" in summary["firstEntries"][0]["errorStatus"]
    assert "REDACTED" in summary["firstEntries"][2]["errorStatus"]
    assert report["importErrorsNote"] is None
    assert [(t["seq"], t["status"]) for t in report["timeline"]] == [(1, "failed")]
    markdown = read_text(env.azurite, outputs, f"{PREFIX}/{job_id}/failure-report.md")
    assert job_id in markdown
    assert "deviceImportErrors" in markdown
    assert "| 404001 | 2 |" in markdown
    secrets = env.secrets(IMPORT_KEY)
    for text in (json.dumps(report), markdown):
        secrets.assert_absent(text, "the report")
    # The log itself still holds the key: it is IoT Hub's file, and ours must not copy it.
    assert IMPORT_KEY in read_text(env.azurite, outputs, "importErrors.log")
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
