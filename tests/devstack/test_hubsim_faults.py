"""Control API: queued faults, the per-minute throttle, latency, counters, seeding, timing; the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devstack import processes
from devstack.hubsim import FaultKind, HubSimulator, Operation
from tests.support.hubsim import API, assert_hub_error, auth_headers, validate_job

THROTTLE_TEXT = (
    "ErrorCode:ThrottlingBacklogTimeout;The request has been throttled. "
    "Wait {n} seconds and try again. Operation type: CRUD"
)


def _list(url: str, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).get(f"{url}/jobs?{API}", headers=auth_headers(), timeout=5)


def test_throttle_fault_with_and_without_retry_after(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.THROTTLE)
    control.queue_fault(FaultKind.THROTTLE, retry_after=3, wait_seconds=7)
    first = _list(url)
    assert assert_hub_error(first, 429, "ThrottlingBacklogTimeout")["Message"] == THROTTLE_TEXT.format(n=10)
    assert "Retry-After" not in first.headers
    second = _list(url)
    assert assert_hub_error(second, 429, "ThrottlingBacklogTimeout")["Message"] == THROTTLE_TEXT.format(n=7)
    assert second.headers["Retry-After"] == "3"
    assert _list(url).status_code == 200
    assert control.counters() == {"get": 0, "list": 3, "create": 0, "cancel": 0, "other": 0, "total": 3, "held": 0,
                                  "connections": 3, "shaped": 0}


def test_server_errors_and_count(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.SERVER_ERROR, count=2)
    control.queue_fault(FaultKind.UNAVAILABLE)
    assert_hub_error(_list(url), 500, "ServerError")
    assert_hub_error(_list(url), 500, "ServerError")
    assert_hub_error(_list(url), 503, "ServiceUnavailable")
    assert _list(url).status_code == 200
    assert control.faults() == []


def test_faults_filtered_by_operation(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.SERVER_ERROR, operation=Operation.GET)
    assert _list(url).status_code == 200
    response = requests.get(f"{url}/jobs/x?{API}", headers=auth_headers(), timeout=5)
    assert_hub_error(response, 500, "ServerError")
    assert_hub_error(requests.get(f"{url}/jobs/x?{API}", headers=auth_headers(), timeout=5), 404, "JobNotFound")
    assert control.counters()["get"] == 2
    assert control.counters()["list"] == 1


def test_a_held_answer_waits_for_its_release(hubsim_clean: HubSimulator) -> None:
    """HOLD: the answer is made when the request arrives and sent when the test releases it (a gate, not a
    delay): the counters say how many answers are held."""
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.HOLD, operation=Operation.LIST, count=2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [pool.submit(_list, url) for _ in range(2)]
        while control.counters()["held"] < 2:
            assert not any(answer.done() for answer in answers)
            time.sleep(0.01)
        assert not any(answer.done() for answer in answers)
        assert control.release() == 2
        assert [answer.result(timeout=5).status_code for answer in answers] == [200, 200]
    assert control.counters()["held"] == 0
    assert _list(url).status_code == 200  # the faults are used up: no hold


def test_a_redirect_fault_answers_307_with_its_location(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.REDIRECT, location="http://127.0.0.2:9/elsewhere")
    response = requests.get(f"{url}/jobs?{API}", headers=auth_headers(), timeout=5, allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (307, "http://127.0.0.2:9/elsewhere")


def test_connections_that_carried_jobs_requests_are_counted(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    with requests.Session() as session:
        for _ in range(3):
            assert _list(url, session).status_code == 200
    for _ in range(2):
        assert _list(url).status_code == 200  # a connection each
    assert control.counters()["connections"] == 3


def test_slow_fault_and_latency(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.SLOW, delay_ms=300)
    started = time.monotonic()
    assert _list(url).status_code == 200
    assert time.monotonic() - started >= 0.3
    control.set_latency(150)
    started = time.monotonic()
    _list(url)
    assert time.monotonic() - started >= 0.15


def test_dropped_connection_then_server_keeps_serving(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.queue_fault(FaultKind.DROP)
    session = requests.Session()
    with pytest.raises(requests.ConnectionError):
        _list(url, session)
    assert _list(url, session).status_code == 200
    assert control.counters()["list"] == 2


def test_malformed_json_answer(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    hubsim_clean.control("devhub").queue_fault(FaultKind.MALFORMED, operation=Operation.LIST)
    response = _list(url)
    assert response.status_code == 200
    assert response.headers["x-ms-request-id"]
    with pytest.raises(ValueError):  # noqa: PT011 - requests' JSONDecodeError is a ValueError
        json.loads(response.text)


def test_fault_responses_carry_request_ids(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    ids = set()
    for kind in (FaultKind.THROTTLE, FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE, FaultKind.MALFORMED):
        control.queue_fault(kind)
        ids.add(_list(url).headers["x-ms-request-id"])
    assert len(ids) == 4


def test_per_minute_rate_limit(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.set_rate_limit(5)
    session = requests.Session()
    statuses = [_list(url, session).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert_hub_error(_list(url, session), 429, "ThrottlingBacklogTimeout")
    assert control.counters()["total"] == 9
    control.set_rate_limit(None)
    assert _list(url, session).status_code == 200
    control.reset()
    assert control.counters()["total"] == 0


def test_seeded_history_and_active_job(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    history = [
        {
            "jobId": f"old-{i}",
            "type": "export",
            "status": "completed",
            "progress": 100,
            "startTimeUtc": "2026-01-01T00:00:00Z",
            "endTimeUtc": "2026-01-01T00:05:00Z",
            "outputBlobContainerUri": "https://acct.blob.core.windows.net/c?sv=1&sig=secret",
        }
        for i in range(300)
    ]
    control.set_timing(retention_seconds=10 * 365 * 86400)
    ids = control.seed_jobs([*history, {"jobId": "active", "type": "import", "status": "running", "progress": 40}])
    assert len(ids) == 301
    listed = _list(url).json()
    assert len(listed) == 301
    for job in listed:
        validate_job(job)
    active = requests.get(f"{url}/jobs/active?{API}", headers=auth_headers(), timeout=5).json()
    assert active["status"] == "running"
    body = {"type": "export", "outputBlobContainerUri": "http://127.0.0.1:1/x/y"}
    blocked = requests.post(f"{url}/jobs/create?{API}", json=body, headers=auth_headers(), timeout=5)
    assert_hub_error(blocked, 403, "JobQuotaExceeded")
    cancelled = requests.delete(f"{url}/jobs/active?{API}", headers=auth_headers(), timeout=5).json()
    assert cancelled["status"] == "cancelled"


def test_retention_window(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.seed_jobs(
        [
            {"jobId": "ancient", "status": "failed", "endTimeUtc": "2020-01-01T00:00:00Z"},
            {"jobId": "recent", "status": "completed"},
        ]
    )
    assert [j["jobId"] for j in _list(url).json()] == ["recent"]
    assert_hub_error(requests.get(f"{url}/jobs/ancient?{API}", headers=auth_headers(), timeout=5), 404, "JobNotFound")
    control.set_timing(retention_seconds=0)
    assert _list(url).json() == []


def test_control_api_refuses_bad_input(hubsim_clean: HubSimulator) -> None:
    base = f"{hubsim_clean.hub_url('devhub')}/devstack"
    assert requests.post(f"{base}/faults", json={"kind": "meteor"}, timeout=5).status_code == 400
    assert requests.post(f"{base}/faults", json={"kind": "drop", "count": 0}, timeout=5).status_code == 400
    assert requests.put(f"{base}/rate-limit", json={"per_minute": 0}, timeout=5).status_code == 400
    assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
    assert requests.delete(f"{base}/counters", timeout=5).status_code == 405
    assert hubsim_clean.control("devhub").health() == {"hub": "devhub"}


def test_cli_runs_until_sigterm(tmp_path: object) -> None:
    port = processes.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.hubsim", "--hub", f"clihub:{port}", "--job-ms", "100"],
        cwd=processes.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(processes.REPO_ROOT)},
    )
    try:
        processes.wait_for_port(port, timeout=15)
        url = f"http://127.0.0.1:{port}"
        headers = auth_headers("clihub")
        assert requests.get(f"{url}/jobs?{API}", headers=headers, timeout=5).status_code == 200
        assert requests.get(f"{url}/jobs?{API}", timeout=5).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    text = output.decode()
    assert "clihub GET /jobs op=list -> 200" in text
    assert "clihub GET /jobs op=list -> 401" in text
    assert headers["Authorization"].split("sig=")[1].split("&")[0] not in text
    assert "SharedAccessSignature" not in text


def test_per_minute_rate_limit_as_traffic_shaping(hubsim_clean: HubSimulator) -> None:
    """Over the limit: held while the queue has room, 429 once it is full or the hold ends; admitted when the
    window gets room (here: a raised limit) while held."""
    import threading

    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")
    control.set_rate_limit(1, shaping_queue=1, shaping_max_hold_ms=20_000)
    assert _list(url).status_code == 200
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(_list(url).status_code))
    waiting.start()
    for _ in range(200):  # until the hub holds it
        if control.counters()["shaped"] == 1:
            break
        threading.Event().wait(0.05)
    assert control.counters()["shaped"] == 1 and not answers
    assert_hub_error(_list(url), 429, "ThrottlingBacklogTimeout")  # the queue (of one) is full: 429 at once
    control.release_throttle_room()  # room in the window: the held one goes on
    waiting.join(timeout=10)
    assert answers == [200]
    control.set_rate_limit(1, shaping_queue=1, shaping_max_hold_ms=300)
    assert _list(url).status_code == 200
    assert_hub_error(_list(url), 429, "ThrottlingBacklogTimeout")  # held 300 ms, no room: 429
