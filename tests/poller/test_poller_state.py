"""First-run backfill, stall detection, the secret scan of everything written, and the timer entry point."""

from __future__ import annotations

import datetime
import json
import logging

import pytest
from azure.functions.timer import TimerRequest

import poll_job_timer
from devstack.processes import free_port
from shared.errors import TickFailedError
from shared.poller.tick import Poller, default_poller
from tests.support.poller import (
    IMPORT_KEY,
    PREFIX,
    PollerEnv,
    blob_names,
    container_sas_uri,
    create_job,
    events,
    new_container,
    read_json,
    service,
    start_failing_import,
    utc_iso,
    wait_terminal,
)
from tests.support.secrets import device_keys


def _ago(**delta: float) -> str:
    return utc_iso(datetime.datetime.now(datetime.UTC) - datetime.timedelta(**delta))


def test_first_run_backfills_old_jobs_without_reporting_them(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container)
    failed = {"type": "export", "status": "failed", "progress": 30, "outputBlobContainerUri": uri,
              "failureReason": "ErrorCode:JobQuotaExceeded;Only one active job"}
    env.hubsim.control("devhub").seed_jobs([
        {**failed, "jobId": "old-failed", "startTimeUtc": _ago(days=3, minutes=5), "endTimeUtc": _ago(days=3)},
        {**failed, "jobId": "recent-failed", "startTimeUtc": _ago(minutes=15), "endTimeUtc": _ago(minutes=10)},
        {**failed, "jobId": "old-running", "status": "running", "startTimeUtc": _ago(days=2)},
    ])
    poller = env.poller(MONITOR_BACKFILL_HOURS="24")
    poller.tick()
    poller.tick()
    names = blob_names(env.azurite, container)
    assert not [n for n in names if n.startswith(f"{PREFIX}/old-failed/")]
    assert f"{PREFIX}/recent-failed/failure-report.json" in names
    assert f"{PREFIX}/old-running/latest.json" in names  # still active: watched whatever its age
    report = read_json(env.azurite, container, f"{PREFIX}/recent-failed/failure-report.json")
    assert report["hint"]["key"] == "anotherJobRunning"
    assert report["failureReason"]["number"] == 403003
    state = env.state()
    assert state["jobs"]["old-failed"]["backfilled"] is True
    assert [e["jobs"] for e in events(caplog, "poller.backfilled")] == [1]
    # Later ticks are not first runs: a job that appears now is reported whatever its end time.
    env.hubsim.control("devhub").seed_jobs([
        {**failed, "jobId": "late-comer", "startTimeUtc": _ago(days=5, minutes=1), "endTimeUtc": _ago(days=5)},
    ])
    poller.tick()
    assert f"{PREFIX}/late-comer/failure-report.json" in blob_names(env.azurite, container)


def test_stalled_job_is_flagged_once(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    """A job unchanged for MONITOR_STALL_AFTER_MINUTES (60) is flagged in latest.json by the first tick past
    that time, not before; the flag says since when (the snapshot of its last change), and later ticks leave
    latest.json as it is (one write, one warning). The poller's clock is moved, nothing sleeps; each tick is
    another instance's (a new Poller), so each one reads the state rather than skip on its own hub view."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([
        {"jobId": "stuck", "type": "export", "status": "running", "progress": 40, "startTimeUtc": _ago(minutes=1),
         "outputBlobContainerUri": container_sas_uri(env.azurite, container)},
    ])
    now = [datetime.datetime.now(datetime.UTC)]
    settings = env.settings(MONITOR_STALL_AFTER_MINUTES="60")

    def tick() -> None:
        assert Poller(settings, clock=lambda: now[0]).tick().hubs["devhub"].ok

    latest_blob = service(env.azurite).get_blob_client(container, f"{PREFIX}/stuck/latest.json")
    tick()
    snapshot = read_json(env.azurite, container, f"{PREFIX}/stuck/snapshots/00001-running-40.json")
    now[0] += datetime.timedelta(minutes=59)
    tick()
    assert read_json(env.azurite, container, f"{PREFIX}/stuck/latest.json")["stalled"] is False
    now[0] += datetime.timedelta(minutes=2)
    tick()
    latest = read_json(env.azurite, container, f"{PREFIX}/stuck/latest.json")
    assert (latest["stalled"], latest["stalledSinceUtc"], latest["snapshotSeq"]) == (
        True, snapshot["polledAtUtc"], 1)
    flagged = latest_blob.get_blob_properties().etag
    for _ in range(3):
        now[0] += datetime.timedelta(minutes=30)
        tick()
    assert latest_blob.get_blob_properties().etag == flagged  # not written again
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "job_stalled" in r.getMessage()]
    assert [json.loads(w.getMessage())["jobId"] for w in warnings] == ["stuck"]
    assert blob_names(env.azurite, container, f"{PREFIX}/stuck/snapshots/") == [
        f"{PREFIX}/stuck/snapshots/00001-running-40.json"]


def test_nothing_written_holds_a_secret(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jobmonitor.poller")
    poller = env.poller()
    poller.tick()
    export_container = new_container(env.azurite)
    export_id = create_job(env.hubsim, "devhub", {"type": "export", "excludeKeysInExport": False,
                                                  "outputBlobContainerUri": container_sas_uri(env.azurite,
                                                                                               export_container)})
    wait_terminal(env.hubsim, "devhub", export_id)
    import_id, import_container = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", import_id)
    poller.tick()
    exported = client_text(env, export_container, "devices.txt")
    secrets = env.secrets(IMPORT_KEY, *device_keys(exported))
    scanned = 0
    for container, prefix in ((export_container, PREFIX), (import_container, PREFIX), (env.state_container, None)):
        client = service(env.azurite).get_container_client(container)
        for name in blob_names(env.azurite, container, prefix):
            secrets.assert_absent(client.download_blob(name).readall().decode(), name)
            scanned += 1
    assert scanned == 7  # 2 export blobs, 4 import blobs (report .json and .md), 1 state blob
    # IoT Hub's own exports do hold keys: the scan would have caught one had it been copied.
    assert device_keys(exported)
    assert secrets.found_in(exported)
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), "a log line")


def client_text(env: PollerEnv, container: str, name: str) -> str:
    return service(env.azurite).get_container_client(container).download_blob(name).readall().decode()


def test_timer_function_runs_one_tick(env: PollerEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.environ().items():
        monkeypatch.setenv(name, value)
    job_id, container = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", job_id)
    poll_job_timer.main(TimerRequest(past_due=True))
    assert f"{PREFIX}/{job_id}/failure-report.md" in blob_names(env.azurite, container)
    assert default_poller(env.settings()) is default_poller(env.settings())  # process-wide, reused


def test_timer_function_raises_when_every_hub_fails(
    env: PollerEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every hub failing is the function's failure (TickFailedError, naming them: the host's retry policy
    applies); one hub failing beside a healthy one is not (logged, and the next tick tries again)."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    unreachable = f"http://127.0.0.1:{free_port()}"
    for name, value in env.environ(("devhub", "otherhub"), IOTHUB_ENDPOINTS=(
            f"devhub={unreachable},otherhub={unreachable}")).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TickFailedError, match=r"^every hub failed this tick: devhub, otherhub$"):
        poll_job_timer.main(TimerRequest(past_due=False))
    assert [(line["hubsOk"], line["hubsFailed"]) for line in events(caplog, "poller.tick")] == [(0, 2)]
    monkeypatch.setenv("IOTHUB_ENDPOINTS", f"devhub={env.hubsim.hub_url('devhub')},otherhub={unreachable}")
    poll_job_timer.main(TimerRequest(past_due=False))  # one hub failing: no exception
    assert [(line["hubsOk"], line["hubsFailed"]) for line in events(caplog, "poller.tick")][1:] == [(1, 1)]
