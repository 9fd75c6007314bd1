"""The devstack's Functions host where Azure's host differs from a plain local server (docs/devstack.md): empty
bodies on its own 401 and 404, `code` read in any case, the log rule and the telemetry, functionTimeout, and
run-now taking its turn."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost, until

SAMPLE_APP = Path(__file__).parent / "sample_app"
RARE_SCHEDULE = "0 0 0 1 1 *"


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def host(funchost_factory: FuncHostFactory, markers: Path) -> RunningFuncHost:
    return funchost_factory(SAMPLE_APP, env={"SAMPLE_SCHEDULE": RARE_SCHEDULE, "SAMPLE_MARKER_DIR": str(markers)},
                            timers=False)


@pytest.fixture(scope="module")
def session(host: RunningFuncHost):
    with requests.Session() as s:
        yield s


def test_the_hosts_own_401_and_404_have_empty_bodies(host: RunningFuncHost, session: requests.Session) -> None:
    for response in (session.get(f"{host.url}/sample/items/books/1", timeout=5),  # no key
                     session.get(f"{host.url}/sample/items/books/1", params={"code": "wrong"}, timeout=5),
                     session.get(f"{host.url}/sample/nothing", timeout=5),  # no route
                     session.post(f"{host.url}/admin/functions/nope", json={"input": ""}, timeout=5)):
        assert (response.status_code, response.content) in ((401, b""), (404, b"")), response.request.url


@pytest.mark.parametrize("name", ["code", "Code", "CODE", "cOdE"])
def test_the_code_query_parameter_is_read_in_any_case(host: RunningFuncHost, name: str) -> None:
    url = f"{host.url}/sample/items/books/1"
    assert requests.get(url, params={name: host.function_key}, timeout=5).status_code == 200
    assert requests.get(url, params={name: "wrong"}, timeout=5).status_code == 401


def test_a_user_log_from_a_thread_without_a_running_invocation_id_never_reaches_the_telemetry(
    host: RunningFuncHost,
) -> None:
    dropped_before = requests.get(f"{host.url}/admin/host/status", timeout=5).json()["droppedUserLogs"]
    invocation_id = requests.get(f"{host.url}/sample/threads", timeout=5).json()["invocationId"]
    until(lambda: "without the invocation id" in host.log(), "the plain thread's line in the host's log")
    mine = [r for r in host.traces() if r["customDimensions"]["InvocationId"] == invocation_id]
    user = [r["message"] for r in mine if r["customDimensions"]["Category"] == "Function.threads.User"]
    assert user == ["threads: from the invocation's thread", "threads: from a thread that carries the invocation"]
    for record in mine:
        assert record["operation_Name"] == "threads"
        assert record["itemType"] == "trace"
        assert record["customDimensions"]["prop__{OriginalFormat}"] == record["message"]
    assert [r["message"].split(" (")[0] for r in mine if r["customDimensions"]["Category"] == "Function.threads"] == [
        "Executing 'Functions.threads'", "Executed 'Functions.threads'"]
    assert len({r["operation_Id"] for r in mine}) == 1
    line = next(line for line in host.log().splitlines() if "without the invocation id" in line)
    assert "[dropped: no running invocation]" in line
    dropped = requests.get(f"{host.url}/admin/host/status", timeout=5).json()["droppedUserLogs"]
    assert dropped == dropped_before + 1


def test_function_timeout_ends_a_run_as_the_host_does_and_the_next_run_recovers(
    funchost_factory: FuncHostFactory, tmp_path: Path
) -> None:
    running = funchost_factory(SAMPLE_APP, env={"SAMPLE_SCHEDULE": RARE_SCHEDULE, "SAMPLE_MARKER_DIR": str(tmp_path),
                                                "AzureFunctionsJobHost__functionTimeout": "00:00:01"}, timers=False)
    try:
        url = f"{running.url}/admin/functions/hang?wait=true"
        hung = requests.post(url, json={"input": ""}, timeout=30).json()
        assert hung["state"] == "failed"
        assert hung["error"] == "FunctionTimeout: Timeout value of 00:00:01 was exceeded by function: Functions.hang"
        # The next run starts at once, beside the thread still hanging.
        assert requests.post(url, json={"input": ""}, timeout=30).json()["state"] == "succeeded"
        # An HTTP function too: the caller gets the host's 500 at the timeout, not the late answer.
        stalled = requests.get(f"{running.url}/sample/stall", timeout=30)
        assert (stalled.status_code, stalled.json()["error"]) == (500, "Internal Server Error")
        (tmp_path / "stall-gate").write_text("open")
        (tmp_path / "hang-gate").write_text("open")
        until(lambda: (tmp_path / "hang-late").exists(), "the hung run's end")
        until(lambda: "hang: late line" in running.log(), "its late line in the host's log")
        messages = [r["message"] for r in running.traces()]
        assert "hang: started" in messages
        assert "hang: quick run" in messages
        assert "hang: late line" not in messages, "a line of an invocation the host ended reached the telemetry"
        assert any(m.startswith("Timeout value of 00:00:01 exceeded by function 'Functions.hang'") for m in messages)
    finally:
        running.stop()


def test_a_run_now_waits_for_the_attempt_running_and_its_own_never_for_retries_and_says_so(
    host: RunningFuncHost, markers: Path
) -> None:
    run = f"{host.url}/admin/functions/gated"
    first = requests.post(run, json={"input": ""}, timeout=5).json()
    until(lambda: (markers / "gated-1").exists(), "the first run holding the function")
    answers: list[dict[str, Any]] = []
    waiter = threading.Thread(target=lambda: answers.append(
        requests.post(f"{run}?wait=true", json={"input": ""}, timeout=30).json()))
    waiter.start()
    until(lambda: len([r for r in requests.get(f"{run}/status", timeout=5).json()["runs"]
                        if r["cause"] == "admin"]) == 2, "the run-now queued")
    joined = requests.post(run, json={"input": ""}, timeout=5).json()
    (markers / "gated-gate").write_text("open")  # the first attempt fails now; its retry waits a minute
    waiter.join(30)
    [answer] = answers
    assert answer["state"] == "succeeded"
    assert answer["queuedBehind"] == {"id": first["id"], "cause": "admin", "state": "running", "attempts": 1}
    assert (joined["joined"], joined["id"]) == (True, answer["id"]), "a second run-now joins the one waiting"
    assert host.run_record("gated", first["id"])["state"] == "retrying", "answered before the retries"
    assert not (markers / "gated-3").exists()
