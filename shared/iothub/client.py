"""The IoT Hub jobs API client: one pooled requests.Session per hub, retries within a time budget.

Only idempotent GETs go through here (retrieve one job, list all jobs). Failures come out as the
shared.errors hierarchy; the hub's own error body is parsed for its code and tracking id, never
passed on raw. Every request, retries included, first takes a call from the hub's call budget
(shared/cache/budget.py), so get_job and the poller, on every instance, stay inside one budget.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import requests

from shared.clock import Deadline
from shared.errors import (
    BodyReadError,
    CredentialError,
    HubAuthError,
    HubBudgetExhausted,
    HubError,
    HubServiceError,
    HubThrottledError,
    HubTimeoutError,
    JobMonitorError,
    JobNotFoundError,
)
from shared.http.retry import RETRYABLE_STATUSES, BackoffPolicy, retry_after_seconds
from shared.http.sessions import guarded_session, read_bounded
from shared.http.targets import TargetGuard, parse_uri
from shared.iothub.auth import HubAuth, build_hub_auth
from shared.iothub.error_bodies import error_info
from shared.settings import HubClientSettings, HubSettings

if TYPE_CHECKING:
    from shared.cache.budget import CallBudget

T = TypeVar("T")

USER_AGENT = "iothub-job-monitor/1.0"
REQUEST_ID_HEADER = "x-ms-request-id"
# A 403 with one of these codes is the hub's quota, not a refusal of this app's credentials.
QUOTA_ERROR_CODES = frozenset({"IotHubQuotaExceeded", "403002", "JobQuotaExceeded", "403003"})
POOL_SIZE = 64  # concurrent invocations per worker process share one session per hub
# The largest answer read from a hub: one job is a few KiB; a list holds up to 30 days of jobs.
MAX_JOB_BYTES = 1 << 20
MAX_LIST_BYTES = 64 << 20


@dataclass(frozen=True, kw_only=True)
class HubResult(Generic[T]):
    value: T
    status_code: int
    attempts: int
    tracking_id: str | None
    duration_ms: float


class HubClient:
    def __init__(
        self,
        *,
        settings: HubClientSettings,
        auth: HubAuth,
        backoff: BackoffPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget: CallBudget | None = None,
    ) -> None:
        """`budget` None: no call budget (a client of its own, as tests build); `default_hub_client` gives the
        process's client the app's budget."""
        self._settings = settings
        self._auth = auth
        self._budget = budget
        self._backoff = backoff or BackoffPolicy()
        self._sleep = sleep
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()

    @property
    def auth_kind(self) -> str:
        return self._auth.kind

    def get_job(
        self, hub: HubSettings, job_id: str, *, api_version: str | None = None, deadline: Deadline | None = None,
        budget_wait_seconds: float = 0.0,
    ) -> HubResult[dict[str, Any]]:
        """`budget_wait_seconds`: how long to wait for the call budget before HubBudgetExhausted (a caller who
        can be answered otherwise, with a slightly stale document, waits for nothing)."""
        path = f"/jobs/{urllib.parse.quote(job_id, safe='')}"
        return self._get(hub, path, api_version=api_version, deadline=deadline, expect=dict, max_bytes=MAX_JOB_BYTES,
                         budget_wait=budget_wait_seconds)

    def list_jobs(
        self, hub: HubSettings, *, api_version: str | None = None, deadline: Deadline | None = None,
        budget_wait_seconds: float | None = None, reserve_next_seconds: float = 0.0,
    ) -> HubResult[list[dict[str, Any]]]:
        """`budget_wait_seconds` None waits for the call budget as long as the deadline allows (the poller has
        time); the list route's callers do not, and pass what get_job passes. `reserve_next_seconds` > 0: the
        caller lists the hub again within that long (the poller), so its next grant is taken ahead
        (shared/cache/budget.py)."""
        result = self._get(hub, "/jobs", api_version=api_version, deadline=deadline, expect=list,
                           max_bytes=MAX_LIST_BYTES, budget_wait=budget_wait_seconds,
                           reserve_next=reserve_next_seconds)
        if not all(isinstance(job, dict) for job in result.value):
            raise HubServiceError(
                "the hub listed jobs that are not JSON objects", hub=hub.name, status_code=200,
                tracking_id=result.tracking_id, attempts=result.attempts,
            )
        return result

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    def _session(self, hub: HubSettings) -> requests.Session:
        with self._lock:
            session = self._sessions.get(hub.name)
            if session is None:
                # The rules of shared/http/sessions.py; the adapter sends only to the hub's own endpoint.
                guard = TargetGuard(parse_uri(hub.endpoint, what=f"the endpoint of hub {hub.name}").endpoint)
                session = guarded_session(
                    check=guard.check, pool_connections=1, pool_maxsize=POOL_SIZE,
                    headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                )
                self._sessions[hub.name] = session
            return session

    def _get(
        self,
        hub: HubSettings,
        path: str,
        *,
        api_version: str | None,
        deadline: Deadline | None,
        expect: type,
        max_bytes: int,
        budget_wait: float | None,
        reserve_next: float = 0.0,
    ) -> HubResult[Any]:
        deadline = deadline or Deadline(self._settings.retry_budget_seconds)
        url = f"{hub.endpoint}{path}"
        params = {"api-version": api_version or self._settings.api_version}
        started = time.monotonic()
        attempt = 0
        throttled: HubThrottledError | None = None
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                authorization = self._authorization(hub, deadline)
                # Taken once the credential is ready: a token outage must not spend the app-wide budget.
                if self._budget is not None:
                    wait = deadline.remaining() if budget_wait is None else min(budget_wait, deadline.remaining())
                    try:
                        self._budget.acquire(hub.name, wait_seconds=wait, sleep=self._sleep,
                                             reserve_next=reserve_next)
                    except HubBudgetExhausted as exhausted:
                        raise exhausted.evolve(attempts=attempt - 1) from None
                result = self._attempt(hub, url, params, authorization=authorization, deadline=deadline,
                                       expect=expect, attempt=attempt, max_bytes=max_bytes)
                return HubResult(
                    value=result[0], status_code=result[1], attempts=attempt, tracking_id=result[2],
                    duration_ms=round((time.monotonic() - started) * 1000, 1),
                )
            except _Retryable as retryable:
                error: HubError | CredentialError = retryable.error
                retry_after = retryable.retry_after
                if self._budget is not None and isinstance(error, HubThrottledError) and retry_after:
                    self._budget.pause(hub.name, retry_after)  # every instance holds off, not only this call
                if isinstance(error, HubThrottledError):
                    throttled = error
                elif throttled is not None and isinstance(error, HubTimeoutError) and deadline.expired:
                    # The budget ran out while waiting out the hub's throttle: say it was the throttle.
                    raise _final(throttled, throttled.retry_after, attempt) from None
            if attempt >= self._settings.max_attempts:
                raise _final(error, retry_after, attempt)
            delay = self._backoff.delay(attempt=attempt, retry_after=retry_after)
            if delay >= deadline.remaining():
                raise _final(error, retry_after if retry_after is not None else delay, attempt)
            self._sleep(delay)

    def _authorization(self, hub: HubSettings, deadline: Deadline) -> str:
        if deadline.expired:
            raise _Retryable(HubTimeoutError("the time budget ran out before the hub answered", hub=hub.name))
        try:
            return self._auth.authorization(hub, timeout=deadline.remaining())
        except CredentialError as exc:
            raise _Retryable(exc) from None

    def _attempt(
        self, hub: HubSettings, url: str, params: dict[str, str], *, authorization: str, deadline: Deadline,
        expect: type, attempt: int, max_bytes: int,
    ) -> tuple[Any, int, str | None]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _Retryable(HubTimeoutError("the time budget ran out before the hub answered", hub=hub.name))
        timeout = (
            min(self._settings.connect_timeout_seconds, remaining),
            min(self._settings.read_timeout_seconds, remaining),
        )
        try:
            response = self._session(hub).get(
                url, params=params, headers={"Authorization": authorization}, timeout=timeout, allow_redirects=False,
                stream=True,
            )
            body = read_bounded(response, remaining=deadline.remaining, max_bytes=max_bytes,
                                read_timeout=self._settings.read_timeout_seconds)
        except BodyReadError as exc:
            error: HubError = (
                HubTimeoutError("the hub's answer did not arrive in time", hub=hub.name) if exc.timed_out
                else HubServiceError(f"the hub's answer could not be read: {exc}", hub=hub.name)
            )
            raise _Retryable(error) from None
        except requests.Timeout:
            raise _Retryable(HubTimeoutError("the hub did not answer in time", hub=hub.name)) from None
        except requests.RequestException as exc:
            # Connection refused or dropped: the exception text is safe (no headers) but say it our way.
            raise _Retryable(
                HubServiceError(f"could not reach the hub ({type(exc).__name__})", hub=hub.name)
            ) from None
        tracking_id = response.headers.get(REQUEST_ID_HEADER)
        if response.status_code == 200:
            try:
                value = json.loads(body)
            except ValueError:
                value = None
            if isinstance(value, expect):
                return value, 200, tracking_id
            raise _Retryable(
                HubServiceError(
                    "the hub answered 200 with a body that is not the documented JSON",
                    hub=hub.name, status_code=200, tracking_id=tracking_id,
                )
            )
        info = error_info(response.headers, body)
        tracking_id = info.tracking_id or tracking_id
        status = response.status_code
        common: dict[str, Any] = {
            "hub": hub.name, "status_code": status, "error_code": info.error_code, "tracking_id": tracking_id,
            "attempts": attempt,
        }
        if status == 404:
            raise JobNotFoundError("the hub has no such job", **common)
        if status == 403 and info.error_code in QUOTA_ERROR_CODES:
            raise HubServiceError(f"the hub's quota is exhausted ({info.error_code})", **common)
        if status in (401, 403):
            raise HubAuthError(
                f"the hub refused this app's {self._auth.kind} credentials ({info.error_code or status})", **common
            )
        if status == 429:
            wait = retry_after_seconds(response.headers, body.decode("utf-8", "replace"))
            raise _Retryable(HubThrottledError("the hub is throttling requests", retry_after=wait or 0, **common), wait)
        if status in RETRYABLE_STATUSES:
            raise _Retryable(HubServiceError(f"the hub answered {status}", **common))
        raise HubServiceError(f"the hub answered {status} ({info.error_code or 'no error code'})", **common)


class _Retryable(JobMonitorError):
    """One attempt failed in a way worth another (private: never leaves the client)."""

    def __init__(self, error: HubError | CredentialError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _final(error: HubError | CredentialError, retry_after: float | None, attempts: int) -> Exception:
    if isinstance(error, HubThrottledError):
        return error.evolve(attempts=attempts, retry_after=max(1.0, retry_after or error.retry_after or 1.0))
    if isinstance(error, HubError):
        return error.evolve(attempts=attempts)
    return error


_default_lock = threading.Lock()
_default_clients: dict[HubClientSettings, HubClient] = {}


def default_hub_client(settings: HubClientSettings) -> HubClient:
    """The process's client for these settings (its sessions and credentials outlive invocations)."""
    with _default_lock:
        client = _default_clients.get(settings)
        if client is None:
            from shared.cache.budget import default_call_budget

            client = HubClient(settings=settings, auth=build_hub_auth(settings), budget=default_call_budget(settings))
            _default_clients[settings] = client
        return client
