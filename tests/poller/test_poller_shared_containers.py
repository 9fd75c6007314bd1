"""Output containers shared between jobs (common: one container reused for every import) and between hubs
(two hubs' jobs with the same id). Devstack simulator and Azurite, no mocks."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
    upload_text,
)


def _import(job_id: str, uri: str, *, started: float, ended: float) -> dict[str, object]:
    return {"jobId": job_id, "type": "import", "status": "failed", "progress": 60,
            "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
            "failureReason": "ErrorCode:ServerError;the import stopped",
            "startTimeUtc": ago(minutes=started), "endTimeUtc": ago(minutes=ended)}


def _completed_import(job_id: str, uri: str, *, started: float, ended: float) -> dict[str, object]:
    return {"jobId": job_id, "type": "import", "status": "completed", "progress": 100,
            "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
            "startTimeUtc": ago(minutes=started), "endTimeUtc": ago(minutes=ended)}


def _log(lines: int) -> str:
    return "".join(json.dumps({"errorCode": 404001, "errorStatus": f"Device d{n} not found."}) + "\n"
                   for n in range(lines))


def test_an_import_never_reports_the_errors_log_of_another_job(env: PollerEnv) -> None:
    """Two imports share one output container: the later one's importErrors.log replaced the earlier one's.
    Both reports used to count the later log's lines; the earlier report now says the log is another job's."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    upload_text(env.azurite, container, "importErrors.log", _log(7))  # written now, by the later job
    env.hubsim.control("devhub").seed_jobs([
        _import("earlier", uri, started=50, ended=40), _import("later", uri, started=20, ended=0)])
    assert env.poller().tick().hubs["devhub"].ok
    earlier = read_json(env.azurite, container, f"{PREFIX}/earlier/failure-report.json")
    later = read_json(env.azurite, container, f"{PREFIX}/later/failure-report.json")
    assert later["importErrors"]["totalLines"] == 7
    assert earlier["importErrors"] is None
    assert "overwritten by job later" in earlier["importErrorsNote"]


def test_two_imports_ending_between_two_ticks_each_report_only_their_own_evidence(env: PollerEnv) -> None:
    """Both imports of the hub end between two ticks, minutes apart (any real schedule allows it): their times
    cannot tell whose the shared log is. The first import's report listed the second's rejected lines and
    titled them against the second's input ("7 of 7 lines rejected" for a 2-line import). The poller's own list
    says the second started later into the same container: the first's report says its log was overwritten by
    that job and its own rejected lines are lost, with none of the second's lines or counts; the second's
    report, in the same tick, has them all."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    upload_text(env.azurite, container, "devices.txt", "".join(f'{{"id":"d{n}"}}\n' for n in range(7)))
    upload_text(env.azurite, container, "importErrors.log", _log(7))  # the second's, over the first's
    control = env.hubsim.control("devhub")
    poller = env.poller()
    assert poller.tick().hubs["devhub"].ok  # the tick before: neither job listed yet
    control.seed_jobs([_completed_import("first", uri, started=4, ended=3),
                       _completed_import("second", uri, started=2, ended=1)])
    assert poller.tick().hubs["devhub"].ok
    first = env.report_copy("first")
    second = env.report_copy("second")
    assert (second["importErrors"]["totalLines"], second["inputLines"]) == (7, 7)
    assert first["importErrors"] is None and first["inputLines"] is None
    assert first["importErrorsNote"] == ("importErrors.log was overwritten by job second, a later import of this hub "
                                         "into the same output container: this job's own rejected lines are lost")
    assert "7" not in first["title"] and "d6" not in json.dumps(first)
    assert blob_names(env.azurite, container, f"{PREFIX}/first/") == [
        f"{PREFIX}/first/import-report.json", f"{PREFIX}/first/import-report.md", f"{PREFIX}/first/latest.json",
        f"{PREFIX}/first/snapshots/00001-completed-100.json"]


def test_an_input_written_after_the_import_started_is_not_counted_as_its_input(env: PollerEnv) -> None:
    """The import's input in a shared container was replaced (by the next job's) after this one read it: its
    line count is not this job's, so the title goes without a total."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    upload_text(env.azurite, container, "devices.txt", "".join(f'{{"id":"d{n}"}}\n' for n in range(9)))
    upload_text(env.azurite, container, "importErrors.log", _log(2))
    env.hubsim.control("devhub").seed_jobs([{**_completed_import("replaced", uri, started=20, ended=0)}])
    assert env.poller().tick().hubs["devhub"].ok
    report = env.report_copy("replaced")
    assert (report["importErrors"]["totalLines"], report["inputLines"]) == (2, None)


def test_a_completed_import_gets_no_report_from_an_earlier_jobs_log(env: PollerEnv) -> None:
    """The log in the shared container predates this completed import: it is an earlier job's, so this job
    wrote none (IoT Hub writes one for every import) and nothing of its was rejected."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    upload_text(env.azurite, container, "importErrors.log", _log(3))  # written now
    env.hubsim.control("devhub").seed_jobs([_completed_import("after-the-log", uri, started=-10, ended=-20)])
    assert env.poller().tick().hubs["devhub"].ok
    names = blob_names(env.azurite, container, f"{PREFIX}/after-the-log/")
    assert not [n for n in names if "report" in n], names
    assert env.state()["jobs"]["after-the-log"]["report"] == "notNeeded"


def test_a_completed_import_whose_log_a_later_job_overwrote_says_so(env: PollerEnv) -> None:
    """The log was rewritten after this completed import ended: whether its lines were rejected is unknown.
    The job gets an import report that says its log could not be read, and why; never the other job's lines."""
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    upload_text(env.azurite, container, "importErrors.log", _log(5))  # written now, by a later job
    env.hubsim.control("devhub").seed_jobs([_completed_import("overwritten", uri, started=50, ended=40)])
    assert env.poller().tick().hubs["devhub"].ok
    report = read_json(env.azurite, container, f"{PREFIX}/overwritten/import-report.json")
    assert (report["kind"], report["title"]) == ("import", "import completed: its errors log could not be read")
    assert report["importErrors"] is None
    assert "after this job ended" in report["importErrorsNote"]
    assert not blob_names(env.azurite, container, f"{PREFIX}/overwritten/failure-report")


def test_jobs_of_two_hubs_with_one_id_keep_apart(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    """Job ids are the creator's (or GUIDs): two hubs can list the same one, writing into one container. The
    second never writes into the first's folder: it is found from the blobs' metadata and moved aside."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    for hub in ("devhub", "otherhub"):
        env.hubsim.control(hub).seed_jobs([{"jobId": "same-id", "type": "export", "status": "running",
                                            "progress": 10, "outputBlobContainerUri": uri}])
    poller = env.poller(("devhub", "otherhub"))
    for _ in range(3):
        result = poller.tick()
        assert all(outcome.ok for outcome in result.hubs.values())
    latest = sorted(n for n in blob_names(env.azurite, container, PREFIX) if n.endswith("/latest.json"))
    assert len(latest) == 2
    hubs = {read_json(env.azurite, container, name)["hub"]: name for name in latest}
    assert set(hubs) == {"devhub", "otherhub"}
    moved = [e for e in events(caplog, "poller.hub_anomaly") if e["anomaly"] == "jobIdOfAnotherHub"]
    assert len(moved) == 1
    second = moved[0]["hub"]
    assert hubs[second] == f"{PREFIX}/{second}/same-id/latest.json"
    for hub, name in hubs.items():
        snapshots = [n for n in blob_names(env.azurite, container, name.rsplit("/", 1)[0] + "/snapshots/")]
        assert [s.rsplit("/", 1)[1] for s in snapshots] == ["00001-running-10.json"], hub
