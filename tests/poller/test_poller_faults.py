"""Faults: hubs that throttle, refuse or hang beside a healthy one; storage hosts off the allowlist."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from devstack import wellknown
from devstack.hubsim.vocab import FaultKind, Operation
from devstack.storagefront import Denial
from shared.poller.state import IMPORT_LOG_ATTEMPTS
from shared.poller.tick import Poller
from tests.fixtures.storagefront import FrontedStorage
from tests.support.listeners import TcpListener
from tests.support.poller import (
    PREFIX,
    WRONG_KEY,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    failed_import,
    new_container,
    read_json,
    start_failing_import,
    upload_text,
    wait_terminal,
)

HUBS = ("devhub", "otherhub", "thirdhub")


def test_throttled_and_unauthorized_hubs_beside_a_healthy_one(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    env.hubsim.control("devhub").queue_fault(FaultKind.THROTTLE, count=10, operation=Operation.LIST, wait_seconds=1)
    strings = [
        wellknown.hub_connection_string("devhub"),
        wellknown.hub_connection_string("otherhub").replace(wellknown.HUB_POLICY_KEYS["iothubowner"], WRONG_KEY),
        wellknown.hub_connection_string("thirdhub"),
    ]
    poller = Poller(env.settings(HUBS, IOTHUB_CONNECTION_STRINGS="|".join(strings)))
    healthy_id, healthy = _failing_import_on(env, "thirdhub")
    result = poller.tick()
    assert not result.hubs["devhub"].ok
    assert "HubThrottledError" in (result.hubs["devhub"].error or "")
    assert not result.hubs["otherhub"].ok
    assert "HubAuthError" in (result.hubs["otherhub"].error or "")
    assert result.hubs["thirdhub"].ok
    assert f"{PREFIX}/{healthy_id}/failure-report.json" in blob_names(env.azurite, healthy)
    failures = {e["hub"]: e for e in events(caplog, "poller.hub_failed")}
    assert failures["devhub"]["statusCode"] == 429
    assert failures["otherhub"]["statusCode"] == 401
    assert set(failures) == {"devhub", "otherhub"}
    # One list per attempt, never a per-job GET; the unauthorized hub is not retried.
    assert env.hubsim.control("devhub").counters()["list"] == 2
    refused = env.hubsim.control("otherhub").counters()
    assert (refused["list"], refused["get"]) == (1, 0)
    secrets = env.secrets()
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), "a log line")


def _failing_import_on(env: PollerEnv, hub: str) -> tuple[str, str]:
    # start_failing_import uses devhub; create the same kind of job on another hub.
    from devstack.hubsim import RejectedLinesEnd
    from tests.support.poller import container_sas_uri, create_job, failing_import_lines, new_container, upload_text

    env.hubsim.control(hub).set_import_errors(rejected_lines_end=RejectedLinesEnd.FAILED, device_id_field=True)
    inputs, outputs = new_container(env.azurite), new_container(env.azurite)
    upload_text(env.azurite, inputs, "devices.txt", failing_import_lines())
    job_id = create_job(env.hubsim, hub, {
        "type": "import", "inputBlobContainerUri": container_sas_uri(env.azurite, inputs),
        "outputBlobContainerUri": container_sas_uri(env.azurite, outputs),
    })
    wait_terminal(env.hubsim, hub, job_id)
    return job_id, outputs


def test_a_hanging_hub_does_not_hold_the_tick_past_its_budget(env: PollerEnv) -> None:
    """The hanging hub answers after 8 s (read timeout 30 s, retry budget 60 s): the tick, budget 5 s, ends
    inside its budget, measured around it, with the healthy hub's work done."""
    budget = 5.0
    env.hubsim.control("otherhub").queue_fault(FaultKind.SLOW, count=5, operation=Operation.LIST, delay_ms=8000)
    job_id, container = start_failing_import(env)
    wait_terminal(env.hubsim, "devhub", job_id)
    poller = Poller(env.settings(("devhub", "otherhub"), MONITOR_TICK_BUDGET_SECONDS=str(budget),
                                 IOTHUB_READ_TIMEOUT_SECONDS="30", IOTHUB_RETRY_BUDGET_SECONDS="60"))
    started = time.monotonic()
    result = poller.tick()
    elapsed = time.monotonic() - started
    assert elapsed < budget, f"the tick took {elapsed:.1f} s of a {budget} s budget"
    assert result.hubs["devhub"].ok
    # The 8 s answer would have arrived (read timeout 30 s): only the tick's budget cut the list short.
    assert not result.hubs["otherhub"].ok
    assert (result.hubs["otherhub"].error or "").startswith("HubTimeoutError")
    assert f"{PREFIX}/{job_id}/failure-report.json" in blob_names(env.azurite, container)


def test_a_hub_that_trickles_its_list_is_cut_off_and_leaves_no_thread_behind(env: PollerEnv) -> None:
    """A list sent one byte every 0.25 s used to hold its thread (and connection) past the tick, every tick:
    the body is now read under the tick's deadline, so the hub's thread ends with the tick."""
    env.hubsim.control("otherhub").seed_jobs([{"jobId": f"j{n}", "status": "completed"} for n in range(20)])
    env.hubsim.control("otherhub").queue_fault(FaultKind.TRICKLE, count=5, operation=Operation.LIST, delay_ms=250)
    poller = Poller(env.settings(("devhub", "otherhub"), MONITOR_TICK_BUDGET_SECONDS="5",
                                 IOTHUB_READ_TIMEOUT_SECONDS="30", IOTHUB_RETRY_BUDGET_SECONDS="60"))
    result = poller.tick()
    assert result.hubs["devhub"].ok
    assert not result.hubs["otherhub"].ok
    assert (result.hubs["otherhub"].error or "").startswith("HubTimeoutError")
    assert not result.hubs["otherhub"].timed_out  # the hub's own call ended in time: no straggler thread
    # The pool's idle threads exit once they see the shutdown; a thread still reading the trickle would not
    # for minutes.
    for thread in [t for t in threading.enumerate() if t.name.startswith("poll-hub")]:
        thread.join(timeout=2)
        assert not thread.is_alive(), thread.name


@pytest.fixture
def listener() -> Iterator[TcpListener]:
    server = TcpListener(hold=False)
    yield server
    server.close()


def test_uri_outside_the_allowlist_is_skipped_and_never_contacted(
    env: PollerEnv, listener: TcpListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    outside = f"http://localhost:{listener.port}/devstoreaccount1/stolen?sv=2021-08-06&sr=c&sp=rwdl&sig=abcdef123%3D"
    identity = f"https://evil.example.com:{listener.port}/stolen"
    seeded = env.hubsim.control("devhub").seed_jobs([
        {"jobId": "outside-sas", "type": "import", "status": "failed", "progress": 10,
         "inputBlobContainerUri": outside, "outputBlobContainerUri": outside,
         "failureReason": "ErrorCode:ImportErrors;1 of 1 devices failed to import",
         "endTimeUtc": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())},
        {"jobId": "outside-identity", "type": "export", "status": "running", "progress": 50,
         "storageAuthenticationType": "identityBased", "outputBlobContainerUri": identity},
    ])
    poller = Poller(env.settings(MONITOR_STORAGE_HOST_ALLOWLIST=f"127.0.0.1:{env.azurite.port}"))
    for _ in range(3):
        poller.tick()
    assert listener.connections == 0
    skipped = events(caplog, "poller.job_skipped")
    assert sorted(e["jobId"] for e in skipped) == sorted(seeded)  # logged once each, not every tick
    assert all("not on the allowlist" in e["reason"] for e in skipped)
    state = env.state()
    assert all(state["jobs"][job_id]["refused"] for job_id in seeded)  # watched: a new URI is looked at
    for record in caplog.records:
        assert "abcdef123" not in record.getMessage()


def test_an_oversized_import_log_is_summarised_from_its_head_with_a_note(env: PollerEnv) -> None:
    """A 276 MB importErrors.log was re-read for the whole budget every tick and the report never appeared:
    only the first bytes up to the limit are read, and the report says the log was truncated."""
    container = new_container(env.azurite)
    line = json.dumps({"errorCode": 404001, "errorStatus": "Device not found."}) + "\n"
    upload_text(env.azurite, container, "importErrors.log", line * 200)
    uri = container_sas_uri(env.azurite, container)
    env.hubsim.control("devhub").seed_jobs([{
        "jobId": "big-log", "type": "import", "status": "failed", "progress": 50, "inputBlobContainerUri": uri,
        "outputBlobContainerUri": uri, "failureReason": "ErrorCode:ImportErrors;200 devices failed to import"}])
    limit = 40 * len(line) + 10
    assert Poller(env.settings(), import_log_max_bytes=limit).tick().hubs["devhub"].ok
    report = read_json(env.azurite, container, f"{PREFIX}/big-log/failure-report.json")
    assert report["importErrors"]["totalLines"] == 41  # 40 whole lines and the head of the 41st
    assert report["importErrors"]["bytesRead"] == limit
    assert report["importErrorsNote"] == (f"importErrors.log is {200 * len(line)} bytes: truncated, the summary "
                                          f"covers its first {limit} bytes")


def _completed_import_with_an_unreadable_log(env: PollerEnv, front: FrontedStorage, job_id: str) -> str:
    """A completed import whose importErrors.log (2 lines) storage refuses to read, through the storage front,
    while the rest of its container takes the poller's writes. Returns the container."""
    container = new_container(front.info)
    log = "".join(json.dumps({"errorCode": 404001, "errorStatus": f"Device d{n} not found."}) + "\n"
                  for n in range(2))
    upload_text(front.info, container, "importErrors.log", log)
    front.control.deny(container, Denial.FIREWALL, blob="importErrors.log")
    uri = container_sas_uri(front.info, container)
    env.hubsim.control("devhub").seed_jobs([{
        "jobId": job_id, "type": "import", "status": "completed", "progress": 100, "inputBlobContainerUri": uri,
        "outputBlobContainerUri": uri, "startTimeUtc": ago(minutes=5), "endTimeUtc": ago(minutes=0)}])
    return container


def test_an_unreadable_errors_log_is_read_again_on_the_next_tick(
    env: PollerEnv, storage_front: FrontedStorage
) -> None:
    """One refused read is not the log's last chance: the report waits (pending in the state, one failed
    attempt) and the next tick, with the log readable again, reports its lines."""
    container = _completed_import_with_an_unreadable_log(env, storage_front, "log-refused-once")
    poller = env.poller()
    assert poller.tick().hubs["devhub"].write_failures == 1
    assert blob_names(storage_front.info, container, f"{PREFIX}/log-refused-once/") == [
        f"{PREFIX}/log-refused-once/latest.json", f"{PREFIX}/log-refused-once/snapshots/00001-completed-100.json"]
    record = env.state()["jobs"]["log-refused-once"]
    assert (record["report"], record["write_failures"]) == ("pending", 1)
    storage_front.control.allow(container, blob="importErrors.log")
    assert poller.tick().hubs["devhub"].write_failures == 0
    report = read_json(storage_front.info, container, f"{PREFIX}/log-refused-once/import-report.json")
    assert (report["importErrors"]["totalLines"], report["importErrorsNote"]) == (2, None)


def test_an_errors_log_unreadable_on_every_attempt_gives_a_report_that_says_why(
    env: PollerEnv, storage_front: FrontedStorage
) -> None:
    """After IMPORT_LOG_ATTEMPTS refused reads, not before, the report is written without the log's lines: an
    import report saying the log could not be read, and what storage answered."""
    container = _completed_import_with_an_unreadable_log(env, storage_front, "log-refused")
    poller = env.poller()
    report_name = f"{PREFIX}/log-refused/import-report.json"
    for attempt in range(1, IMPORT_LOG_ATTEMPTS):
        assert poller.tick().hubs["devhub"].write_failures == 1
        assert report_name not in blob_names(storage_front.info, container, PREFIX), attempt
    assert poller.tick().hubs["devhub"].write_failures == 0
    report = read_json(storage_front.info, container, report_name)
    assert (report["kind"], report["title"], report["importErrors"]) == (
        "import", "import completed: its errors log could not be read", None)
    assert report["importErrorsNote"] == "importErrors.log could not be read (HTTP 403 AuthorizationFailure)"
    assert env.state()["jobs"]["log-refused"]["report"] == "written"


@pytest.fixture
def silent_storage() -> Iterator[TcpListener]:
    server = TcpListener(hold=True)
    yield server
    server.close()


def test_a_hung_storage_call_ends_within_the_tick_budget(env: PollerEnv, silent_storage: TcpListener) -> None:
    """D9: with 30 s read timeouts and retries, one write to a hung account outlived the tick's budget and
    the hub was reported timed out; per-call timeouts now end it in time, and the state is confirmed."""
    uri = f"http://127.0.0.1:{silent_storage.port}/devstoreaccount1/hung?sv=2021-08-06&sr=c&sp=rwdl&sig=abc%3D"
    budget = 6.0
    # An allowlist entry names its port: the hung account's is listed, so the poller does contact it.
    poller = env.poller(MONITOR_TICK_BUDGET_SECONDS=str(budget),
                        MONITOR_STORAGE_HOST_ALLOWLIST=f"127.0.0.1:{silent_storage.port}")
    poller.tick()
    env.hubsim.control("devhub").seed_jobs([failed_import("hung-storage", uri)])
    started = time.monotonic()
    result = poller.tick()
    elapsed = time.monotonic() - started
    assert elapsed < budget, f"the tick took {elapsed:.1f} s of a {budget} s budget"
    outcome = result.hubs["devhub"]
    # Not timed out: the hub's work (the hung write included) ended inside the tick's budget.
    assert (outcome.ok, outcome.timed_out, outcome.write_failures) == (True, False, 1)
    assert silent_storage.connections  # it was contacted, and hung
    assert env.state()["jobs"]["hung-storage"]["write_failures"] == 1
