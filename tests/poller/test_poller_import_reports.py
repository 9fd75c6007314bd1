"""Imports that complete with rejected lines, through the simulator and Azurite: IoT Hub ends them `completed`
(docs/iothub-evidence.md), so the import report is the only place those rejections show. No mocks."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.poller import (
    IMPORT_KEY,
    PREFIX,
    PollerEnv,
    blob_names,
    container_sas_uri,
    create_job,
    events,
    failing_import_lines,
    new_container,
    read_json,
    read_text,
    service,
    upload_text,
    wait_terminal,
)

HUB = "devhub"


def _import(env: PollerEnv, lines: str, **extra: str) -> tuple[str, str, str]:
    """Run an import to its end; (jobId, input container, output container)."""
    inputs, outputs = new_container(env.azurite), new_container(env.azurite)
    upload_text(env.azurite, inputs, extra.get("inputBlobName", "devices.txt"), lines)
    job_id = create_job(env.hubsim, HUB, {
        "type": "import", "inputBlobContainerUri": container_sas_uri(env.azurite, inputs),
        "outputBlobContainerUri": container_sas_uri(env.azurite, outputs), **extra})
    assert wait_terminal(env.hubsim, HUB, job_id)["status"] == "completed"
    return job_id, inputs, outputs


def _reports(env: PollerEnv, container: str, job_id: str) -> list[str]:
    return [n.rsplit("/", 1)[1] for n in blob_names(env.azurite, container, f"{PREFIX}/{job_id}/") if "report" in n]


def test_a_completed_import_with_rejected_lines_gets_an_import_report(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator's default: lines without deviceId (recovered from the echoed input line), a completed job;
    the title counts the rejected lines against the input's."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    poller.tick()
    job_id, _inputs, outputs = _import(env, failing_import_lines())
    poller.tick()
    assert _reports(env, outputs, job_id) == ["import-report.json", "import-report.md"]
    report = read_json(env.azurite, outputs, f"{PREFIX}/{job_id}/import-report.json")
    assert (report["kind"], report["status"], report["failureReason"]) == ("import", "completed", None)
    assert report["title"] == "import completed: 4 of 5 lines rejected"
    assert report["inputLines"] == 5
    assert report["hint"]["key"] == "deviceImportErrors"
    summary = report["importErrors"]
    assert summary["countsByErrorCode"] == {"404001": 2, "400012": 1, "409001": 1}
    assert [e["deviceId"] for e in summary["firstEntries"]] == ["device-001", "ghost-1", "bad-1", "ghost-2"]
    markdown = read_text(env.azurite, outputs, f"{PREFIX}/{job_id}/import-report.md")
    assert markdown.startswith("# IoT Hub import completed: 4 of 5 lines rejected\n")
    for text in (json.dumps(report), markdown):
        env.secrets(IMPORT_KEY).assert_absent(text, "the import report")
    copy = env.report_copy(job_id)
    assert copy.pop("delivery")["state"] == "delivered"  # the copy also records that the report is beside the job
    assert copy == report
    assert env.state()["jobs"][job_id]["report"] == "written"
    assert [(e["jobId"], e["blob"]) for e in events(caplog, "poller.report_written")] == [
        (job_id, f"{PREFIX}/{job_id}/import-report.json")]
    poller.tick()  # written once
    assert len(events(caplog, "poller.report_written")) == 1


def test_the_errors_log_is_read_from_the_jobs_output_blob_name(env: PollerEnv) -> None:
    env.poller().tick()
    job_id, _inputs, outputs = _import(env, failing_import_lines(), outputBlobName="status/import.log")
    assert "importErrors.log" not in blob_names(env.azurite, outputs)
    env.poller().tick()
    report = read_json(env.azurite, outputs, f"{PREFIX}/{job_id}/import-report.json")
    assert report["importErrors"]["totalLines"] == 4
    assert report["importErrorsNote"] is None


@pytest.mark.parametrize("empty_log", [True, False], ids=["empty log", "no log"])
def test_a_completed_import_with_nothing_rejected_gets_no_report(env: PollerEnv, empty_log: bool) -> None:
    """Both readings of the evidence: an empty importErrors.log, or none at all."""
    env.hubsim.control(HUB).set_import_errors(empty_log=empty_log)
    poller = env.poller()
    poller.tick()
    good = json.dumps({"id": "fresh-device", "importMode": "createOrUpdate"}) + "\n"
    job_id, _inputs, outputs = _import(env, good)
    assert ("importErrors.log" in blob_names(env.azurite, outputs)) is empty_log
    poller.tick()
    assert _reports(env, outputs, job_id) == []
    assert env.state()["jobs"][job_id]["report"] == "notNeeded"


def test_an_input_gone_before_the_report_leaves_the_total_out_and_says_why(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    poller = env.poller()
    poller.tick()
    job_id, inputs, outputs = _import(env, failing_import_lines())
    service(env.azurite).get_container_client(inputs).delete_blob("devices.txt")
    poller.tick()
    report = read_json(env.azurite, outputs, f"{PREFIX}/{job_id}/import-report.json")
    assert (report["title"], report["inputLines"]) == ("import completed: 4 lines rejected", None)
    assert [(e["jobId"], e["blob"], e["error"]) for e in events(caplog, "poller.input_not_counted")] == [
        (job_id, "devices.txt", "ResourceNotFoundError")]
