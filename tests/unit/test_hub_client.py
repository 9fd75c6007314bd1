"""The hub client's retries, against a scripted hub on loopback: what is retried and what is not, how long it waits,
when it gives up and what it says then, that it never follows a redirect, and that every try takes the call budget.

The hub here is a few lines of http.server answering from a script (no simulator): the client's real session,
SAS auth and backoff run unchanged; only `sleep` is recorded instead of slept, so no test waits.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devstack import processes
from devstack.wellknown import hub_connection_string
from shared.cache.budget import CallBudget
from shared.clock import Deadline
from shared.errors import (
    CredentialError,
    HubAuthError,
    HubBudgetExhausted,
    HubError,
    HubServiceError,
    HubThrottledError,
    HubTimeoutError,
    JobNotFoundError,
)
from shared.http.retry import BackoffPolicy
from shared.iothub.auth import SasAuth
from shared.iothub.client import MAX_JOB_BYTES, HubClient, HubResult, default_hub_client
from shared.settings import AppSettings, HubClientSettings, HubSettings

JOB = {"jobId": "job-1", "type": "export", "status": "running", "progress": 10}
MAX_ATTEMPTS = 3
BASE_SECONDS = 0.4  # not the default policy's 0.25: the client must use the policy it is given


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: str | None = None  # "headers": answer nothing; "body": send the headers, then nothing (until released)


def json_answer(value: object, status: int = 200) -> Answer:
    return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


def error_answer(status: int, code: str, message: str = "", headers: dict[str, str] | None = None) -> Answer:
    body = {"Message": f"ErrorCode:{code};{message}", "ExceptionMessage": "Tracking ID:t-1-G:0-TimeStamp:x"}
    return Answer(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


class ScriptedHub:
    """Answers the n-th request with the n-th scripted answer (the last one again once the script runs out)."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.client_ports: list[int] = []  # the port each request came from: one per connection
        self.release = threading.Event()  # ends every stall (set when the hub closes)
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the hub's front end does
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                hub.requests.append((self.path, dict(self.headers)))
                hub.client_ports.append(self.client_address[1])
                answer = hub.script[min(len(hub.requests), len(hub.script)) - 1]
                if answer.stall == "headers":
                    hub.release.wait(10)
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body) + (1 if answer.stall == "body" else 0)))
                self.end_headers()
                self.wfile.write(answer.body)
                if answer.stall == "body":
                    self.wfile.flush()
                    hub.release.wait(10)
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hub() -> Iterator[ScriptedHub]:
    scripted = ScriptedHub()
    yield scripted
    scripted.close()


def settings_for(endpoint: str, **overrides: str) -> HubClientSettings:
    return AppSettings.from_environ({
        "IOTHUB_HUBS": "devhub", "IOTHUB_AUTH": "sharedAccessPolicy", "AzureWebJobsStorage": "x=y",
        "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub"), "IOTHUB_ENDPOINTS": f"devhub={endpoint}",
        "IOTHUB_MAX_ATTEMPTS": str(MAX_ATTEMPTS), "IOTHUB_RETRY_BUDGET_SECONDS": "30", **overrides,
    }).hub


@dataclass
class Client:
    client: HubClient
    settings: HubClientSettings
    sleeps: list[float]

    def get_job(self, job_id: str = "job-1", *, deadline: Deadline | None = None) -> HubResult[dict[str, Any]]:
        return self.client.get_job(self.settings.default_hub, job_id, deadline=deadline)


def client_for(endpoint: str, *, budget: CallBudget | None = None, **overrides: str) -> Client:
    settings = settings_for(endpoint, **overrides)
    sleeps: list[float] = []
    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600), sleep=sleeps.append, budget=budget,
                       backoff=BackoffPolicy(base_seconds=BASE_SECONDS, max_seconds=8.0, rng=random.Random(16)))
    return Client(client, settings, sleeps)


def test_a_job_is_fetched_with_the_api_version_and_a_sas_and_its_id_quoted(hub: ScriptedHub) -> None:
    hub.script = [json_answer(JOB, 200)]
    client = client_for(hub.url)
    result = client.client.get_job(client.settings.default_hub, "a b/c", api_version="2020-03-13")
    assert (result.value, result.status_code, result.attempts) == (JOB, 200, 1)
    path, headers = hub.requests[0]
    assert path == "/jobs/a%20b%2Fc?api-version=2020-03-13"
    assert headers["Authorization"].startswith("SharedAccessSignature sr=devhub.azure-devices.net")
    assert headers["Accept"] == "application/json"
    client.client.get_job(client.settings.default_hub, "job-1")
    assert hub.requests[1][0] == f"/jobs/job-1?api-version={client.settings.api_version}"


def test_a_throttled_get_waits_the_retry_after_the_hub_asked_for_then_succeeds(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "2"}), json_answer(JOB)]
    client = client_for(hub.url)
    result = client.get_job()
    assert result.value == JOB and result.attempts == 2
    assert len(hub.requests) == 2
    assert len(client.sleeps) == 1 and 2.0 <= client.sleeps[0] <= 2.0 + BASE_SECONDS


def test_the_wait_in_a_throttling_body_is_honoured_when_there_is_no_header(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", "Wait 7 seconds and try again."), json_answer(JOB)]
    client = client_for(hub.url)
    assert client.get_job().attempts == 2
    assert 7.0 <= client.sleeps[0] <= 7.0 + BASE_SECONDS


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_growing_backoff_up_to_max_attempts(hub: ScriptedHub, status: int) -> None:
    hub.script = [error_answer(status, "ServerError")]
    client = client_for(hub.url)
    with pytest.raises(HubServiceError) as raised:
        client.get_job()
    assert type(raised.value) is HubServiceError
    assert (raised.value.status_code, raised.value.attempts) == (status, MAX_ATTEMPTS)
    assert len(hub.requests) == MAX_ATTEMPTS
    # Full jitter: attempt n waits between half and all of base * 2^(n-1).
    assert len(client.sleeps) == MAX_ATTEMPTS - 1
    assert BASE_SECONDS / 2 <= client.sleeps[0] <= BASE_SECONDS
    assert BASE_SECONDS <= client.sleeps[1] <= 2 * BASE_SECONDS


def test_a_hub_still_throttling_at_the_last_attempt_says_how_long_to_wait(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "5"})]
    client = client_for(hub.url)
    with pytest.raises(HubThrottledError) as raised:
        client.get_job()
    assert type(raised.value) is HubThrottledError
    assert (raised.value.attempts, raised.value.retry_after, raised.value.status_code) == (MAX_ATTEMPTS, 5.0, 429)
    assert raised.value.error_code == "ThrottlingBacklogTimeout"
    assert len(hub.requests) == MAX_ATTEMPTS


def test_a_throttled_answer_without_any_wait_still_asks_callers_to_wait_a_second(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "0"})]
    client = client_for(hub.url)
    with pytest.raises(HubThrottledError) as raised:
        client.get_job()
    assert raised.value.retry_after == 1.0


def test_a_wait_longer_than_the_time_budget_gives_up_at_once_without_sleeping(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "100"}), json_answer(JOB)]
    client = client_for(hub.url)  # a 30 s budget
    with pytest.raises(HubThrottledError) as raised:
        client.get_job()
    assert (raised.value.attempts, raised.value.retry_after) == (1, 100.0)
    assert client.sleeps == [] and len(hub.requests) == 1


@pytest.mark.parametrize(("answer", "error", "status"), [
    (error_answer(404, "DeviceJobNotFound"), JobNotFoundError, 404),
    (error_answer(401, "IotHubUnauthorizedAccess"), HubAuthError, 401),
    (error_answer(403, "IotHubUnauthorizedAccess"), HubAuthError, 403),
    (error_answer(403, "IotHubQuotaExceeded"), HubServiceError, 403),
    (error_answer(400, "ArgumentInvalid"), HubServiceError, 400),
    (Answer(302, b"", {"Location": "http://127.0.0.1:9/jobs/job-1"}), HubServiceError, 302),
])
def test_answers_that_another_try_would_not_change_are_not_retried(
    hub: ScriptedHub, answer: Answer, error: type[HubError], status: int
) -> None:
    hub.script = [answer, json_answer(JOB)]
    client = client_for(hub.url)
    with pytest.raises(error) as raised:
        client.get_job()
    assert type(raised.value) is error
    assert raised.value.status_code == status
    assert raised.value.attempts == 1
    assert len(hub.requests) == 1 and client.sleeps == []


def test_a_quota_refusal_is_not_reported_as_refused_credentials(hub: ScriptedHub) -> None:
    hub.script = [error_answer(403, "IotHubQuotaExceeded")]
    with pytest.raises(HubServiceError, match="quota is exhausted") as raised:
        client_for(hub.url).get_job()
    assert raised.value.error_code == "IotHubQuotaExceeded"


def test_a_redirect_is_never_followed(hub: ScriptedHub) -> None:
    elsewhere = ScriptedHub()
    try:
        elsewhere.script = [json_answer(JOB)]
        hub.script = [Answer(307, b"", {"Location": f"{elsewhere.url}/jobs/job-1"})]
        with pytest.raises(HubServiceError, match="answered 307"):
            client_for(hub.url).get_job()
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def test_a_200_that_is_not_the_documented_json_is_retried(hub: ScriptedHub) -> None:
    hub.script = [Answer(200, b"<html>gateway</html>"), json_answer(["a list, not a job"]), json_answer(JOB)]
    client = client_for(hub.url)
    result = client.get_job()
    assert result.value == JOB and result.attempts == 3


def test_a_listing_with_entries_that_are_not_objects_is_refused_without_retrying(hub: ScriptedHub) -> None:
    hub.script = [json_answer([JOB, "not a job"]), json_answer([JOB])]
    client = client_for(hub.url)
    with pytest.raises(HubServiceError, match="not JSON objects") as raised:
        client.client.list_jobs(client.settings.default_hub)
    assert raised.value.status_code == 200 and len(hub.requests) == 1
    assert client.client.list_jobs(client.settings.default_hub).value == [JOB]
    assert [path.partition("?")[0] for path, _ in hub.requests] == ["/jobs", "/jobs"]


def test_an_unreachable_hub_is_retried_then_reported_as_unreachable() -> None:
    client = client_for(f"http://127.0.0.1:{processes.free_port()}")
    with pytest.raises(HubServiceError, match=r"could not reach the hub \(ConnectionError\)") as raised:
        client.get_job()
    assert raised.value.attempts == MAX_ATTEMPTS and len(client.sleeps) == MAX_ATTEMPTS - 1


def test_an_expired_deadline_sends_nothing(hub: ScriptedHub) -> None:
    hub.script = [json_answer(JOB)]
    client = client_for(hub.url)
    with pytest.raises(HubTimeoutError) as raised:
        client.get_job(deadline=Deadline(0))
    assert raised.value.attempts == 1 and hub.requests == [] and client.sleeps == []


def test_every_try_takes_a_call_from_the_budget(hub: ScriptedHub) -> None:
    budget = CallBudget(lambda _hub: 2, clock=lambda: 1000.0)
    hub.script = [error_answer(503, "ServerError"), error_answer(503, "ServerError"), json_answer(JOB)]
    client = client_for(hub.url, budget=budget)
    with pytest.raises(HubBudgetExhausted) as raised:
        client.get_job()
    assert raised.value.attempts == 2 and len(hub.requests) == 2


def test_a_throttled_answer_pauses_the_budget_for_every_caller(hub: ScriptedHub) -> None:
    budget = CallBudget(lambda _hub: 100, clock=lambda: 1000.0)
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "100"})]
    with pytest.raises(HubThrottledError):
        client_for(hub.url, budget=budget).get_job()
    with pytest.raises(HubBudgetExhausted) as raised:
        budget.acquire("devhub", wait_seconds=0)
    assert raised.value.retry_after == pytest.approx(100, abs=1)


def test_an_exhausted_budget_sends_nothing_and_counts_no_attempt(hub: ScriptedHub) -> None:
    now = [1000.0]
    budget = CallBudget(lambda _hub: 1, clock=lambda: now[0])
    budget.acquire("devhub", wait_seconds=0)
    hub.script = [json_answer(JOB)]
    client = client_for(hub.url, budget=budget)
    with pytest.raises(HubBudgetExhausted) as raised:
        client.get_job()
    assert raised.value.attempts == 0 and hub.requests == []


def test_a_credential_that_cannot_be_had_takes_nothing_from_the_call_budget(hub: ScriptedHub) -> None:
    """The budget is the app's, shared with the poller: tries that never reach the hub must not spend it."""
    budget = CallBudget(lambda _hub: MAX_ATTEMPTS, clock=lambda: 1000.0)
    broken = "HostName=devhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=not*base64"
    client = client_for(hub.url, budget=budget, IOTHUB_CONNECTION_STRINGS=broken)
    with pytest.raises(CredentialError):
        client.get_job()
    assert hub.requests == []
    for _ in range(MAX_ATTEMPTS):
        budget.acquire("devhub", wait_seconds=0)  # every call of the minute is still there


def test_a_time_budget_spent_getting_the_credential_sends_nothing(hub: ScriptedHub) -> None:
    """The budget is checked again once the Authorization header is ready: a credential that took the rest of
    the time (here, a clock read by the SAS minting that has moved 40 s on) leaves none for the request."""
    now = [1000.0]

    def minting_clock() -> float:
        now[0] += 40.0
        return now[0]

    hub.script = [json_answer(JOB)]
    settings = settings_for(hub.url)
    sleeps: list[float] = []
    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600, clock=minting_clock), sleep=sleeps.append,
                       backoff=BackoffPolicy(rng=random.Random(16)))
    with pytest.raises(HubTimeoutError, match="time budget ran out before the hub answered") as raised:
        client.get_job(settings.default_hub, "job-1", deadline=Deadline(30, clock=lambda: now[0]))
    assert raised.value.attempts == 1 and hub.requests == [] and sleeps == []
    assert raised.value.hub == "devhub"


def test_a_hub_that_does_not_answer_in_time_is_retried_then_reported_as_timed_out(hub: ScriptedHub) -> None:
    hub.script = [Answer(200, stall="headers")]
    client = client_for(hub.url, IOTHUB_READ_TIMEOUT_SECONDS="0.1")
    with pytest.raises(HubTimeoutError, match="the hub did not answer in time") as raised:
        client.get_job()
    assert (raised.value.attempts, raised.value.hub) == (MAX_ATTEMPTS, "devhub")
    assert len(hub.requests) == MAX_ATTEMPTS


def test_an_answer_whose_body_stops_arriving_is_retried_then_reported_as_timed_out(hub: ScriptedHub) -> None:
    hub.script = [Answer(200, json.dumps(JOB).encode(), stall="body"), json_answer(JOB)]
    client = client_for(hub.url, IOTHUB_READ_TIMEOUT_SECONDS="0.1")
    result = client.get_job()
    assert (result.value, result.attempts) == (JOB, 2)
    hub.script = [Answer(200, json.dumps(JOB).encode(), stall="body")]
    hub.requests.clear()
    with pytest.raises(HubTimeoutError, match="the hub's answer did not arrive in time") as raised:
        client.get_job()
    assert (raised.value.attempts, raised.value.hub) == (MAX_ATTEMPTS, "devhub")


def test_an_answer_larger_than_a_job_can_be_is_not_read_and_is_retried(hub: ScriptedHub) -> None:
    hub.script = [Answer(200, b" " * (MAX_JOB_BYTES + 1)), json_answer(JOB)]
    client = client_for(hub.url)
    assert client.get_job().attempts == 2
    hub.script = [Answer(200, b" " * (MAX_JOB_BYTES + 1))]
    hub.requests.clear()
    with pytest.raises(HubServiceError, match="the hub's answer could not be read: the answer is larger") as raised:
        client.get_job()
    assert raised.value.hub == "devhub" and type(raised.value) is HubServiceError


def test_errors_and_answers_carry_the_hub_and_its_tracking_id(hub: ScriptedHub) -> None:
    tracked = {"x-ms-request-id": "req-42"}
    hub.script = [Answer(200, json.dumps(JOB).encode(), tracked)]
    client = client_for(hub.url)
    assert client.get_job().tracking_id == "req-42"
    for status, error in ((404, JobNotFoundError), (503, HubServiceError), (429, HubThrottledError)):
        hub.script = [Answer(status, b"{}", tracked)]
        with pytest.raises(error) as raised:
            client.get_job()
        assert (raised.value.hub, raised.value.tracking_id) == ("devhub", "req-42")
    hub.script = [Answer(200, json.dumps([JOB, 1]).encode(), tracked)]
    with pytest.raises(HubServiceError) as listed:
        client.client.list_jobs(client.settings.default_hub)
    assert (listed.value.hub, listed.value.tracking_id, listed.value.attempts) == ("devhub", "req-42", 1)


def test_one_connection_per_hub_is_kept_and_reused_with_the_apps_user_agent(hub: ScriptedHub) -> None:
    hub.script = [json_answer(JOB)] * 3 + [json_answer([JOB]), json_answer(JOB)]
    client = client_for(hub.url)
    for _ in range(3):
        client.get_job()
    client.client.list_jobs(client.settings.default_hub, api_version="2020-03-13")
    assert len(set(hub.client_ports)) == 1
    assert {headers["User-Agent"] for _, headers in hub.requests} == {"iothub-job-monitor/1.0"}
    assert hub.requests[-1][0] == "/jobs?api-version=2020-03-13"
    client.client.close()
    client.get_job()
    assert len(set(hub.client_ports)) == 2  # closed: a new connection


def test_get_job_never_waits_for_the_budget_and_the_listing_waits_as_long_as_its_deadline(hub: ScriptedHub) -> None:
    """get_job's callers are answered otherwise (a slightly stale document); the poller has time."""
    now = [1000.0]
    budget = CallBudget(lambda _hub: 1, clock=lambda: now[0])
    budget.acquire("devhub", wait_seconds=0)  # the minute's only call: it counts until 1061
    now[0] = 1060.6  # free again in 0.4 s
    hub.script = [json_answer([JOB])]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    settings = settings_for(hub.url, IOTHUB_RETRY_BUDGET_SECONDS="100")
    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600), sleep=sleep, budget=budget)
    with pytest.raises(HubBudgetExhausted):
        client.get_job(settings.default_hub, "job-1")
    assert sleeps == [] and hub.requests == []
    listed = client.list_jobs(settings.default_hub, deadline=Deadline(100, clock=lambda: now[0]))
    assert listed.value == [JOB] and len(hub.requests) == 1
    assert len(sleeps) == 1 and 0.4 <= sleeps[0] <= 0.5


def test_a_listing_given_a_budget_wait_waits_no_longer(hub: ScriptedHub) -> None:
    """The list route waits for the budget only as long as it said (its callers get the last list instead)."""
    now = [1000.0]
    budget = CallBudget(lambda _hub: 1, clock=lambda: now[0])
    budget.acquire("devhub", wait_seconds=0)  # the minute's only call: it counts until 1061
    now[0] = 1059.0  # free again in 2 s: more than the route's wait of 1 s, well inside the deadline
    hub.script = [json_answer([JOB])]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    settings = settings_for(hub.url, IOTHUB_RETRY_BUDGET_SECONDS="100")
    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600), sleep=sleep, budget=budget)
    with pytest.raises(HubBudgetExhausted):
        client.list_jobs(settings.default_hub, deadline=Deadline(100, clock=lambda: now[0]), budget_wait_seconds=1.0)
    assert hub.requests == []


@dataclass
class RecordingAuth:
    """A real SAS credential that notes the time bound each request gives it."""

    inner: SasAuth = field(default_factory=lambda: SasAuth(ttl_seconds=600))
    timeouts: list[float | None] = field(default_factory=list)
    kind: str = "sharedAccessPolicy"

    def authorization(self, hub: HubSettings, *, timeout: float | None = None) -> str:
        self.timeouts.append(timeout)
        return self.inner.authorization(hub, timeout=timeout)


def test_the_credential_is_given_what_is_left_of_the_time_budget(hub: ScriptedHub) -> None:
    """A token request must not outlive its caller's budget (a silent identity endpoint held callers 6 s
    against a 1 s budget): the client hands the credential the time left."""
    hub.script = [json_answer(JOB)]
    settings = settings_for(hub.url)
    auth = RecordingAuth()
    client = HubClient(settings=settings, auth=auth, sleep=lambda _s: None)
    client.get_job(settings.default_hub, "job-1", deadline=Deadline(7.5))
    assert len(auth.timeouts) == 1
    assert auth.timeouts[0] is not None and 0 < auth.timeouts[0] <= 7.5


def test_a_listing_keeps_to_the_deadline_it_is_given(hub: ScriptedHub) -> None:
    hub.script = [json_answer([JOB])]
    client = client_for(hub.url)
    with pytest.raises(HubTimeoutError):
        client.client.list_jobs(client.settings.default_hub, deadline=Deadline(0))
    assert hub.requests == []


def test_a_refused_credential_is_retried_then_raised_as_it_is_and_nothing_is_sent(hub: ScriptedHub) -> None:
    hub.script = [json_answer(JOB)]
    client = client_for(hub.url)
    no_policy = dataclasses.replace(client.settings.default_hub, connection_string=None)
    with pytest.raises(CredentialError, match="no connection string for hub devhub"):
        client.client.get_job(no_policy, "job-1")
    assert hub.requests == [] and len(client.sleeps) == MAX_ATTEMPTS - 1


def test_a_request_goes_with_under_a_second_of_budget_left(hub: ScriptedHub) -> None:
    hub.script = [json_answer(JOB)]
    client = client_for(hub.url)
    assert client.get_job(deadline=Deadline(0.5, clock=lambda: 1000.0)).value == JOB


def test_a_200_that_is_never_the_documented_json_ends_in_a_service_error_saying_so(hub: ScriptedHub) -> None:
    hub.script = [Answer(200, b"<html>gateway</html>", {"x-ms-request-id": "req-7"})]
    with pytest.raises(HubServiceError, match="200 with a body that is not the documented JSON") as raised:
        client_for(hub.url).get_job()
    error = raised.value
    assert (error.hub, error.status_code, error.tracking_id, error.attempts) == ("devhub", 200, "req-7", MAX_ATTEMPTS)


def test_a_throttling_body_that_is_not_utf8_still_gives_its_wait(hub: ScriptedHub) -> None:
    hub.script = [Answer(429, b"\xff\xfe Wait 3 seconds and try again"), json_answer(JOB)]
    client = client_for(hub.url)
    assert client.get_job().attempts == 2
    assert 3.0 <= client.sleeps[0] <= 3.0 + BASE_SECONDS


def test_a_throttled_hub_with_no_wait_given_is_asked_back_after_the_backoff_that_did_not_fit(hub: ScriptedHub) -> None:
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout")]
    settings = settings_for(hub.url)
    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600), sleep=lambda _s: None,
                       backoff=BackoffPolicy(base_seconds=2.0, max_seconds=8.0, rng=random.Random(16)))
    with pytest.raises(HubThrottledError) as raised:
        client.get_job(settings.default_hub, "job-1", deadline=Deadline(0.9, clock=lambda: 1000.0))
    # The first backoff (between 1 and 2 s) does not fit in 0.9 s: that backoff is the wait asked of callers.
    assert raised.value.attempts == 1 and 1.0 < raised.value.retry_after <= 2.0


def test_errors_on_the_way_name_the_hub(hub: ScriptedHub) -> None:
    with pytest.raises(HubTimeoutError) as expired:
        client_for(hub.url).get_job(deadline=Deadline(0))
    with pytest.raises(HubServiceError) as unreachable:
        client_for(f"http://127.0.0.1:{processes.free_port()}").get_job()
    hub.script = [error_answer(401, "IotHubUnauthorizedAccess")]
    with pytest.raises(HubAuthError) as refused:
        client_for(hub.url).get_job()
    assert expired.value.hub == unreachable.value.hub == refused.value.hub == "devhub"
    assert "refused this app's sharedAccessPolicy credentials (IotHubUnauthorizedAccess)" in str(refused.value)


def test_a_listing_refused_after_a_retry_counts_both_attempts(hub: ScriptedHub) -> None:
    hub.script = [error_answer(503, "ServerError"), json_answer([JOB, "not a job"])]
    client = client_for(hub.url)
    with pytest.raises(HubServiceError, match="not JSON objects") as raised:
        client.client.list_jobs(client.settings.default_hub)
    assert raised.value.attempts == 2


def test_the_process_keeps_one_client_per_settings_with_the_apps_credentials_and_budget(hub: ScriptedHub) -> None:
    settings = settings_for(hub.url, IOTHUB_CALLS_PER_MINUTE="1")
    client = default_hub_client(settings)
    assert default_hub_client(settings) is client and client.auth_kind == "sharedAccessPolicy"
    assert default_hub_client(settings_for(hub.url, IOTHUB_CALLS_PER_MINUTE="2")) is not client
    hub.script = [json_answer(JOB)]
    assert client.get_job(settings.default_hub, "job-1").value == JOB
    with pytest.raises(HubBudgetExhausted):  # the budget of one call a minute is the process's
        client.get_job(settings.default_hub, "job-1")
    assert len(hub.requests) == 1


def test_a_budget_that_runs_out_waiting_out_a_throttle_is_reported_as_the_throttle(hub: ScriptedHub) -> None:
    # The wait fits the deadline, but the deadline is gone by the time the next try would go (a loaded worker, a
    # slow token): the caller must hear that the hub throttles, not that it did not answer.
    hub.script = [error_answer(429, "ThrottlingBacklogTimeout", headers={"Retry-After": "1"}), json_answer(JOB)]
    now = [1000.0]
    settings = settings_for(hub.url)

    def sleep(seconds: float) -> None:
        now[0] += seconds + 5.0  # woke up late, past the deadline

    client = HubClient(settings=settings, auth=SasAuth(ttl_seconds=600), sleep=sleep,
                       backoff=BackoffPolicy(base_seconds=BASE_SECONDS, max_seconds=8.0, rng=random.Random(16)))
    with pytest.raises(HubThrottledError) as raised:
        client.get_job(settings.default_hub, "job-1", deadline=Deadline(3, clock=lambda: now[0]))
    assert raised.value.retry_after == 1.0 and raised.value.attempts == 2
    assert len(hub.requests) == 1
