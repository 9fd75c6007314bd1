"""The local Functions host: discovery, routes, keys, errors, concurrency, timers, admin, retries."""

from __future__ import annotations

import datetime
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.funchost.appsettings import MissingSettingError, load_local_settings, resolve
from devstack.funchost.httpmodel import query_params
from devstack.funchost.keys import DEFAULT_FUNCTION_KEY, DEFAULT_MASTER_KEY, load_keys
from devstack.funchost.ncrontab import Schedule, ScheduleError
from devstack.funchost.retry import RetryPolicy, RetryStrategy, parse_timespan
from devstack.funchost.routes import Route
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost, until

SAMPLE_APP = Path(__file__).parent / "sample_app"
UTC = datetime.UTC
RARE_SCHEDULE = "0 0 0 1 1 *"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0):
    return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# --- NCRONTAB ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", at(2024, 1, 1, 10, 2, 30), at(2024, 1, 1, 10, 5, 0)),
        ("0 */5 * * * *", at(2024, 1, 1, 10, 5, 0), at(2024, 1, 1, 10, 10, 0)),
        ("0 */5 * * * *", at(2024, 12, 31, 23, 59, 0), at(2025, 1, 1, 0, 0, 0)),
        ("*/2 * * * * *", at(2024, 1, 1, 0, 0, 1, 500000), at(2024, 1, 1, 0, 0, 2)),
        ("*/2 * * * * *", at(2024, 1, 1, 0, 0, 2), at(2024, 1, 1, 0, 0, 4)),
        ("0 0 9-17 * * *", at(2024, 1, 1, 17, 30, 0), at(2024, 1, 2, 9, 0, 0)),
        ("0 0 9-17/4 * * *", at(2024, 1, 1, 9, 0, 0), at(2024, 1, 1, 13, 0, 0)),
        ("0 15,45 * * * *", at(2024, 1, 1, 10, 20, 0), at(2024, 1, 1, 10, 45, 0)),
        ("0 30 9 * * 1-5", at(2024, 6, 7, 10, 0, 0), at(2024, 6, 10, 9, 30, 0)),  # Fri → Mon
        ("0 30 9 * * SAT", at(2024, 6, 3, 0, 0, 0), at(2024, 6, 8, 9, 30, 0)),
        ("0 0 0 * * 7", at(2024, 6, 3, 0, 0, 0), at(2024, 6, 9, 0, 0, 0)),  # 7 is Sunday
        ("0 0 0 29 feb *", at(2023, 3, 1, 0, 0, 0), at(2024, 2, 29, 0, 0, 0)),
        ("0 0 0 13 * FRI", at(2024, 1, 1), at(2024, 9, 13)),  # day AND day-of-week
    ],
)
def test_next_occurrence(expression: str, after: datetime.datetime, expected: datetime.datetime) -> None:
    assert Schedule.parse(expression).next_after(after) == expected


@pytest.mark.parametrize(
    "expression", ["*/5 * * * *", "0 60 * * * *", "0 */0 * * * *", "0 5-1 * * * *", "0 x * * * *", "0 0 0 31 2 *"]
)
def test_bad_schedules_are_rejected(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(expression).next_after(at(2024, 1, 1))


# --- settings, routes, retry, query, keys --------------------------------------------------------
def test_app_setting_references() -> None:
    env = {"SAMPLE_SCHEDULE": "*/1 * * * * *"}
    assert resolve("%SAMPLE_SCHEDULE%", where="tick", environ=env) == "*/1 * * * * *"
    with pytest.raises(MissingSettingError, match="'NOPE'") as missing:
        resolve("%NOPE%", where="tick: schedule", environ=env)
    assert missing.value.setting == "NOPE"
    assert "tick: schedule" in str(missing.value)


def test_local_settings_do_not_override_the_environment(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "file", "B": "file"}}))
    env = {"A": "env"}
    assert load_local_settings(settings, env) == {"B": "file"}
    assert env == {"A": "env", "B": "file"}


@pytest.mark.parametrize(
    ("prefix", "template", "path", "expected"),
    [
        ("api", "jobs/{jobId}", "/api/jobs/abc", {"jobId": "abc"}),
        ("api", "jobs/{jobId}", "/API/Jobs/abc/", {"jobId": "abc"}),
        ("api", "jobs/{jobId}", "/api/jobs", None),
        ("", "jobs/{jobId?}", "/jobs", {}),
        ("x", "n/{n:int}", "/x/n/12", {"n": "12"}),
        ("x", "n/{n:int}", "/x/n/ab", None),
        ("x", "a/{a:alpha}", "/x/a/ab1", None),
        ("x", "g/{g:guid}", "/x/g/5a5a5a5a-0000-4000-8000-000000000001", {"g": "5a5a5a5a-0000-4000-8000-000000000001"}),
        ("x", "g/{g:guid}", "/x/g/nope", None),
        ("x", "u/{u:weird}", "/x/u/anything", {"u": "anything"}),
    ],
)
def test_routes(prefix: str, template: str, path: str, expected: dict[str, str] | None) -> None:
    assert Route.compile(prefix, template).match(path) == expected


def test_retry_policies() -> None:
    assert parse_timespan("00:01:30") == 90
    assert parse_timespan("1.00:00:00.5") == 86400.5
    backoff = RetryPolicy.from_json(
        {
            "strategy": "exponentialBackoff",
            "maxRetryCount": 3,
            "minimumInterval": "00:00:10",
            "maximumInterval": "00:00:30",
        }
    )
    assert backoff.strategy is RetryStrategy.EXPONENTIAL_BACKOFF
    assert [backoff.delay(n) for n in (1, 2, 3)] == [10, 20, 30]
    assert backoff.allows(2)
    assert not backoff.allows(3)
    fixed = RetryPolicy.from_json({"strategy": "fixedDelay", "maxRetryCount": -1, "delayInterval": "00:00:02"})
    assert fixed.delay(7) == 2
    assert fixed.allows(1000)


def test_query_parameters_are_joined_like_the_host() -> None:
    assert query_params("a=1&a=2&b=&code=k") == {"a": "1,2", "code": "k"}


def test_keys_precedence(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"masterKey": "m-file", "functions": {"items": {"k": "only-items"}}}))
    keys = load_keys(keys_file=keys_file, environ={"DEVSTACK_FUNCHOST_FUNCTION_KEY": "f-env"})
    assert keys.master_key == "m-file"
    assert keys.function_key == "f-env"
    assert keys.allows_function("items", "only-items")
    assert not keys.allows_function("other", "only-items")
    assert keys.allows_function("other", "m-file")
    assert load_keys(environ={}).function_key == DEFAULT_FUNCTION_KEY
    assert load_keys(environ={}, master_key="cli").master_key == "cli"


# --- the host as a process -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def host(funchost_factory: FuncHostFactory, markers: Path) -> RunningFuncHost:
    return funchost_factory(
        SAMPLE_APP, env={"SAMPLE_SCHEDULE": "*/1 * * * * *", "SAMPLE_MARKER_DIR": str(markers)}, timers=False
    )


@pytest.fixture(scope="module")
def session(host: RunningFuncHost):
    with requests.Session() as s:
        yield s


def test_host_status(host: RunningFuncHost, session: requests.Session) -> None:
    status = session.get(f"{host.url}/admin/host/status", timeout=5).json()
    assert status["state"] == "Running"
    assert status["errors"] == []
    assert set(status["functions"]) == {"boom", "flaky", "gated", "hang", "hello", "items", "slow", "stall", "threads",
                                          "tick"}


def test_route_params_query_and_headers(host: RunningFuncHost, session: requests.Session) -> None:
    response = session.post(
        f"{host.url}/sample/items/books/42",
        params=[("code", host.function_key), ("tag", "a"), ("tag", "b")],
        headers={"X-Test": "yes"},
        data=b"payload",
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["X-Sample"] == "items"
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["method"] == "POST"
    assert body["route_params"] == {"category": "books", "itemId": "42"}
    assert body["params"] == {"code": host.function_key, "tag": "a,b"}
    assert body["x_test"] == "yes"
    assert body["body"] == "payload"
    assert body["url"].endswith("/sample/items/books/42?code=" + host.function_key + "&tag=a&tag=b")


def test_optional_route_parameter(host: RunningFuncHost, session: requests.Session) -> None:
    headers = {"x-functions-key": host.function_key}
    assert session.get(f"{host.url}/sample/items/books", headers=headers, timeout=5).json()["route_params"] == {
        "category": "books"
    }
    assert session.get(f"{host.url}/sample/hello", timeout=5).text == "hello world"
    hello = session.get(f"{host.url}/sample/hello/ada", timeout=5)
    assert hello.text == "hello ada"
    assert hello.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "path", ["/api/hello", "/sample/nothing", "/sample/items/123/4", "/sample/items/books/x1", "/sample"]
)
def test_unknown_routes_are_404(host: RunningFuncHost, session: requests.Session, path: str) -> None:
    headers = {"x-functions-key": host.function_key}
    assert session.get(f"{host.url}{path}", headers=headers, timeout=5).status_code == 404


def test_a_method_the_function_does_not_declare_is_an_empty_404(
    host: RunningFuncHost, session: requests.Session
) -> None:
    """As Azure's host answers (azure-functions-host issue 10098): the method is part of the route."""
    response = session.delete(f"{host.url}/sample/items/books/1", timeout=5)
    assert (response.status_code, response.content) == (404, b"")
    assert session.post(f"{host.url}/sample/hello", timeout=5).status_code == 404


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
def test_any_method_is_routed_never_an_html_501(host: RunningFuncHost, method: str) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as sock:
        sock.sendall(f"{method} /sample/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 "), head
    assert b"<" not in body


def test_function_keys(host: RunningFuncHost, session: requests.Session) -> None:
    url = f"{host.url}/sample/items/books/1"
    assert session.get(url, timeout=5).status_code == 401
    assert session.get(url, headers={"x-functions-key": "wrong"}, timeout=5).status_code == 401
    assert session.get(url, params={"code": "wrong"}, timeout=5).status_code == 401
    assert session.get(url, headers={"x-functions-key": host.function_key}, timeout=5).status_code == 200
    assert session.get(url, params={"code": host.function_key}, timeout=5).status_code == 200
    assert session.get(url, params={"code": host.master_key}, timeout=5).status_code == 200
    assert host.function_key == DEFAULT_FUNCTION_KEY
    assert host.master_key == DEFAULT_MASTER_KEY


def test_head_when_declared(host: RunningFuncHost, session: requests.Session) -> None:
    response = session.head(f"{host.url}/sample/items/books/1", params={"code": host.function_key}, timeout=5)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0
    assert session.head(f"{host.url}/sample/hello", timeout=5).status_code == 404


def test_exception_is_500_without_traceback(host: RunningFuncHost, session: requests.Session) -> None:
    response = session.get(f"{host.url}/sample/boom", timeout=5)
    assert response.status_code == 500
    assert response.json()["error"] == "Internal Server Error"
    assert "sample-secret-detail" not in response.text
    assert "Traceback" not in response.text
    deadline = time.monotonic() + 5
    while "sample-secret-detail" not in host.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Traceback" in host.log()
    assert "RuntimeError: sample-secret-detail" in host.log()


def test_function_logging_carries_the_function_name(host: RunningFuncHost, session: requests.Session) -> None:
    session.get(f"{host.url}/sample/hello/logger", timeout=5)
    deadline = time.monotonic() + 5
    while "greeting logger" not in host.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in host.log().splitlines() if "greeting logger" in line)
    assert "[hello]" in line


def test_requests_are_served_concurrently(host: RunningFuncHost) -> None:
    def call(_: int) -> int:
        response = requests.get(f"{host.url}/sample/slow", timeout=10)
        assert response.status_code == 200
        return int(response.json()["peak"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        peaks = list(pool.map(call, range(20)))
    assert max(peaks) >= 10


def test_admin_runs_a_timer_in_the_background(host: RunningFuncHost, session: requests.Session, markers: Path) -> None:
    before = len(list(markers.glob("tick-*")))
    response = session.post(f"{host.url}/admin/functions/tick", json={"input": ""}, timeout=5)
    assert response.status_code == 202
    run_id = response.json()["id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = session.get(f"{host.url}/admin/functions/tick/status", timeout=5).json()
        run = next(r for r in status["runs"] if r["id"] == run_id)
        if run["state"] == "succeeded":
            break
        time.sleep(0.05)
    assert run["state"] == "succeeded"
    assert len(list(markers.glob("tick-*"))) == before + 1
    waited = session.post(f"{host.url}/admin/functions/tick?wait=true", json={"input": ""}, timeout=5)
    assert waited.status_code == 202
    assert waited.json()["state"] == "succeeded"
    assert len(list(markers.glob("tick-*"))) == before + 2


def test_admin_unknown_function_and_http_function(host: RunningFuncHost, session: requests.Session) -> None:
    assert session.post(f"{host.url}/admin/functions/nope", json={"input": ""}, timeout=5).status_code == 404
    assert session.get(f"{host.url}/admin/functions/nope/status", timeout=5).status_code == 404
    assert session.post(f"{host.url}/admin/functions/hello", json={"input": ""}, timeout=5).status_code == 400


def test_retry_policy_reruns_a_failing_timer(host: RunningFuncHost, session: requests.Session, markers: Path) -> None:
    response = session.post(f"{host.url}/admin/functions/flaky?wait=true", json={"input": ""}, timeout=10)
    assert response.status_code == 202
    run = response.json()
    # ?wait=true answers once the first attempt ended, saying that a retry follows.
    assert (run["state"], run["attempts"]) == ("retrying", 1)
    until(lambda: host.run_record("flaky", run["id"])["state"] == "succeeded", "the retries")
    assert host.run_record("flaky", run["id"])["attempts"] == 3
    assert sorted(p.name.split("-")[1] for p in markers.glob("flaky-*")) == ["0", "1", "2"]


def test_timer_runs_on_schedule(funchost_factory: FuncHostFactory, tmp_path: Path) -> None:
    running = funchost_factory(SAMPLE_APP, env={"SAMPLE_SCHEDULE": "*/1 * * * * *", "SAMPLE_MARKER_DIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 6
        while len(list(tmp_path.glob("tick-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        ticks = sorted(tmp_path.glob("tick-*"))
        assert len(ticks) >= 2
        assert json.loads(ticks[0].read_text()) == {"past_due": False}
        assert not list(tmp_path.glob("flaky-*"))
    finally:
        running.stop()


def test_missing_schedule_setting_is_reported(funchost_factory: FuncHostFactory, tmp_path: Path) -> None:
    running = funchost_factory(SAMPLE_APP, env={"SAMPLE_MARKER_DIR": str(tmp_path)})
    try:
        status = requests.get(f"{running.url}/admin/host/status", timeout=5).json()
        assert len(status["errors"]) == 1
        assert "tick" in status["errors"][0]
        assert "SAMPLE_SCHEDULE" in status["errors"][0]
        assert "tick" not in status["functions"]
        assert requests.get(f"{running.url}/sample/hello", timeout=5).status_code == 200
    finally:
        running.stop()

