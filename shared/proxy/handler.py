"""get_job's behaviour: validate, fetch through the cache, redact, and shape the answer.

Kept free of azure.functions so it is tested and benchmarked directly; get_job/__init__.py only
translates the Functions request and response.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from shared.clock import Deadline
from shared.errors import (
    CachedFailure,
    CoalescedWaitTimeout,
    CredentialError,
    HubAuthError,
    HubError,
    HubThrottledError,
    HubTimeoutError,
    JobMonitorError,
    JobNotFoundError,
    SettingsError,
)
from shared.jobs import is_valid_hub_name
from shared.logs import log_event
from shared.proxy.answers import (
    JSON_CONTENT_TYPE,
    ApiErrorCode,
    ProxyRequest,
    ProxyResponse,
    error_response,
    etag_matches,
)
from shared.proxy.cache import CacheOutcome, JobCache
from shared.proxy.prepared import PreparedJob, Source
from shared.proxy.validation import is_known_api_version, is_valid_job_id
from shared.settings import AppSettings, HubSettings, ProxySettings

if TYPE_CHECKING:
    from shared.iothub.client import HubClient
    from shared.proxy.shared_tier import JobKey, SharedJobCache

logger = logging.getLogger("get_job")

# Seconds to suggest to callers when the token endpoint or the hub is unavailable.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
# A stale answer is reused by this instance for at least this long (and at most the TTL), so that callers over
# the budget are answered from memory, not each with a look at the budget.
MIN_STALE_REUSE_SECONDS = 0.5
# Active jobs whose last answer this instance keeps for stale serving (the terminal ones are in the cache).
LAST_ANSWERS = 1024
# The methods openapi.yaml declares; the function answers every other one 405 MethodNotAllowed.
ALLOWED_METHODS = ("GET", "HEAD")


class _Failure(JobMonitorError):
    """An answer other than 200/304, with what the invocation's log line needs to say about it."""

    def __init__(
        self, *, status: int, code: ApiErrorCode, message: str, headers: dict[str, str] | None = None,
        tracking_id: str | None = None, upstream_status: int | None = None, attempts: int = 0,
        outcome: CacheOutcome | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.tracking_id, self.upstream_status, self.attempts = tracking_id, upstream_status, attempts
        self.outcome = outcome


class JobProxy:
    """`shared`: the cache shared by every instance, behind this instance's own (None: per instance only)."""

    def __init__(self, *, settings: AppSettings, client: HubClient, shared: SharedJobCache | None = None) -> None:
        self._settings = settings
        self._client = client
        self._shared = shared
        proxy: ProxySettings = settings.proxy
        self._cache: JobCache[PreparedJob] = JobCache(
            ttl_seconds=proxy.cache_ttl_seconds,
            max_final_entries=proxy.terminal_cache_size,
            is_final=lambda job: job.status.is_terminal,
            # An unknown id is asked for again and again by pollers: answer those from the TTL too.
            cache_error=lambda error: isinstance(error, JobNotFoundError),
            ttl_of=self._reuse_seconds,
        )
        self._last: OrderedDict[JobKey, PreparedJob] = OrderedDict()
        self._last_lock = threading.Lock()

    def callers_waiting(self) -> int:
        """Requests of this instance parked right now on another request's call for the same job."""
        return self._cache.waiting()

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        started = time.monotonic()
        job_id: str | None = request.job_id if is_valid_job_id(request.job_id) else None
        hub_name: str | None = None
        try:
            if request.method.upper() not in ALLOWED_METHODS:
                # function.json routes every method here, so that an undeclared one is a 405 in JSON with
                # Allow, from Azure's host as from the devstack's (the host itself would answer 404).
                raise _Failure(status=405, code=ApiErrorCode.METHOD_NOT_ALLOWED,
                               message="only GET and HEAD are allowed", headers={"Allow": ", ".join(ALLOWED_METHODS)})
            hub = self._select_hub(request)
            hub_name = hub.name
            if job_id is None:
                raise _Failure(
                    status=400, code=ApiErrorCode.INVALID_JOB_ID,
                    message="jobId must be 1-128 characters: letters, digits, '-', '_' and '.', starting with "
                    "a letter or digit, without '..'",
                )
            api_version = self._api_version(request)
            prepared, outcome = self._fetch(hub, job_id, api_version)
        except _Failure as failure:
            self._log(
                request=request, job_id=job_id, hub=hub_name, status=failure.status,
                upstream_status=failure.upstream_status,
                outcome=failure.outcome.value if failure.outcome else None, attempts=failure.attempts,
                started=started, tracking_id=failure.tracking_id, error=failure.code.value,
            )
            return error_response(failure.status, failure.code, failure.message, headers=failure.headers,
                                  tracking_id=failure.tracking_id, job_id=job_id, hub=hub_name, method=request.method)
        response = self._ok(request, prepared)
        # The leader of this instance says where its answer came from: the hub, the shared cache, or stale.
        cache = prepared.source.value if outcome is CacheOutcome.MISS else outcome.value
        self._log(
            request=request, job_id=job_id, hub=hub_name, status=response.status_code, upstream_status=200,
            outcome=cache, attempts=prepared.attempts if outcome is CacheOutcome.MISS else 0,
            started=started, tracking_id=prepared.tracking_id,
        )
        return response

    def _select_hub(self, request: ProxyRequest) -> HubSettings:
        name = request.params.get("hub")
        if name is None or name == "":
            return self._settings.hub.default_hub
        well_formed = is_valid_hub_name(name)
        hub = self._settings.hub.hub(name) if well_formed else None
        if hub is None:
            # A well-formed name that is not configured names nothing here (404); anything else is bad input.
            known = ", ".join(h.name for h in self._settings.hub.hubs)
            raise _Failure(
                status=404 if well_formed else 400, code=ApiErrorCode.UNKNOWN_HUB,
                message=f"hub must be one of the configured hubs: {known}",
            )
        return hub

    def _api_version(self, request: ProxyRequest) -> str:
        value = request.params.get("api-version")
        if value is None or value == "":
            return self._settings.hub.api_version
        if not is_known_api_version(value):
            raise _Failure(
                status=400, code=ApiErrorCode.INVALID_API_VERSION,
                message="api-version is not a known IoT Hub api-version",
            )
        return value

    def _fetch(self, hub: HubSettings, job_id: str, api_version: str) -> tuple[PreparedJob, CacheOutcome]:
        key: JobKey = (hub.name, job_id, api_version)

        def from_hub(budget_wait_seconds: float) -> PreparedJob:
            result = self._client.get_job(hub, job_id, api_version=api_version, deadline=deadline,
                                          budget_wait_seconds=budget_wait_seconds)
            return PreparedJob.from_job(result.value, redact_sas=self._settings.proxy.redact_sas,
                                        tracking_id=result.tracking_id, attempts=result.attempts,
                                        fetched_at=time.time())

        def fetch() -> PreparedJob:
            # Only this instance's leader for the key gets here: the shared cache, or the hub itself.
            from shared.proxy.shared_tier import fetch_alone

            local = self._last_answer(key)
            if self._shared is not None:
                job = self._shared.get(key, from_hub, deadline=deadline, local=local)
            else:
                job = fetch_alone(from_hub, local=local, now=time.time())
            if job.source is not Source.STALE and not job.status.is_terminal:
                self._keep_last(key, job)
            return job

        deadline = Deadline(self._settings.hub.retry_budget_seconds)
        try:
            return self._cache.get(key, fetch, wait_seconds=deadline.remaining())
        except CoalescedWaitTimeout:
            raise _Failure(
                status=504, code=ApiErrorCode.UPSTREAM_TIMEOUT, outcome=CacheOutcome.COALESCED,
                message="the hub did not answer in time",
            ) from None
        except CachedFailure as failure:
            raise self._failure(failure.error, failure.outcome) from None

    def _reuse_seconds(self, job: PreparedJob) -> float:
        """How long this instance may reuse an active job's answer: what is left of its TTL since it was fetched
        (by any instance), or, for a stale one, until the hub may be asked again."""
        ttl = self._settings.proxy.cache_ttl_seconds
        if job.source is Source.STALE:
            return min(ttl, max(MIN_STALE_REUSE_SECONDS, job.retry_after))
        return ttl - max(0.0, job.age(time.time()))

    def _last_answer(self, key: JobKey) -> PreparedJob | None:
        with self._last_lock:
            return self._last.get(key)

    def _keep_last(self, key: JobKey, job: PreparedJob) -> None:
        with self._last_lock:
            self._last[key] = job
            self._last.move_to_end(key)
            while len(self._last) > LAST_ANSWERS:
                self._last.popitem(last=False)

    def _failure(self, error: Exception, outcome: CacheOutcome) -> _Failure:
        """The answer for an upstream error; only the caller that made the call reports its attempts."""
        if isinstance(error, CredentialError):
            return _Failure(
                status=503, code=ApiErrorCode.CREDENTIAL_UNAVAILABLE, outcome=outcome,
                message=f"no {error.credential_kind} token could be obtained for the hub",
                headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
            )
        if not isinstance(error, HubError):
            raise error
        headers: dict[str, str] | None = None
        if isinstance(error, JobNotFoundError):
            status, code, message = 404, ApiErrorCode.JOB_NOT_FOUND, "the hub has no job with this id"
        elif isinstance(error, HubAuthError):
            status, code = 502, ApiErrorCode.UPSTREAM_UNAUTHORIZED
            message = f"the hub refused this function's {self._client.auth_kind} credentials"
        elif isinstance(error, HubThrottledError):
            status, code = 429, ApiErrorCode.UPSTREAM_THROTTLED
            message = "the hub is throttling requests; retry after the given delay"
            headers = {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
        elif isinstance(error, HubTimeoutError):
            status, code, message = 504, ApiErrorCode.UPSTREAM_TIMEOUT, "the hub did not answer in time"
        else:
            status, code, message = 502, ApiErrorCode.UPSTREAM_ERROR, f"the hub failed: {error.message}"
            if error.status_code == 503:
                status, headers = 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return _Failure(
            status=status, code=code, message=message, headers=headers, tracking_id=error.tracking_id,
            upstream_status=error.status_code, attempts=error.attempts if outcome is CacheOutcome.MISS else 0,
            outcome=outcome,
        )

    def _ok(self, request: ProxyRequest, prepared: PreparedJob) -> ProxyResponse:
        headers = {"ETag": prepared.etag, "Cache-Control": "no-store", "Content-Type": JSON_CONTENT_TYPE}
        if prepared.tracking_id:
            headers["x-upstream-request-id"] = prepared.tracking_id
        if prepared.source is Source.STALE:
            # Older than the TTL: the hub or the call budget said wait. Age says how old (RFC 9111).
            headers["Age"] = str(max(0, int(prepared.age(time.time()))))
        if etag_matches(request.headers.get("if-none-match"), prepared.etag):
            return ProxyResponse(status_code=304, body=b"", headers=headers)
        body = b"" if request.method.upper() == "HEAD" else prepared.body
        return ProxyResponse(status_code=200, body=body, headers=headers)

    def _log(
        self, *, request: ProxyRequest, job_id: str | None, hub: str | None, status: int,
        upstream_status: int | None, outcome: str | None, attempts: int, started: float,
        tracking_id: str | None, error: str | None = None,
    ) -> None:
        log_event(
            logger, "get_job", level=logging.WARNING if status >= 500 else logging.INFO,
            jobId=job_id, hub=hub, method=request.method.upper(), status=status, upstreamStatus=upstream_status,
            cache=outcome, attempts=attempts,
            durationMs=round((time.monotonic() - started) * 1000, 2), upstreamTrackingId=tracking_id, error=error,
        )


def configuration_error_response(error: SettingsError) -> ProxyResponse:
    """The answer while the app's settings are invalid: the setting is named, its value never shown."""
    log_event(logger, "get_job_misconfigured", level=logging.ERROR, setting=error.setting)
    failure = _Failure(
        status=500, code=ApiErrorCode.CONFIGURATION_ERROR,
        message=f"the function app's setting {error.setting} is invalid",
    )
    return error_response(failure.status, failure.code, failure.message, headers=failure.headers, tracking_id=None,
                          job_id=None, hub=None, method="GET")


_default_lock = threading.Lock()
_default_proxy: JobProxy | None = None


def default_job_proxy() -> JobProxy:
    """The process's proxy, built from the environment on first use (raises SettingsError)."""
    global _default_proxy
    with _default_lock:
        if _default_proxy is None:
            # Imported here: requests is the largest import on get_job's path, and the worker
            # imports function modules before the first call arrives.
            from shared.iothub.client import default_hub_client

            settings = AppSettings.from_environ(os.environ)
            _default_proxy = JobProxy(settings=settings, client=default_hub_client(settings.hub),
                                      shared=default_shared_job_cache(settings))
        return _default_proxy


def default_shared_job_cache(settings: AppSettings) -> SharedJobCache | None:
    """The shared tier, unless SHARED_CACHE_ENABLED is false or GET_JOB_REDACT_SAS is false (only redacted
    documents are stored: with signatures in the answers, each instance keeps its own)."""
    if not settings.shared_cache.enabled or not settings.proxy.redact_sas:
        return None
    from shared.cache.store import default_shared_store
    from shared.proxy.shared_tier import SharedJobCache

    return SharedJobCache(
        store=default_shared_store(settings.shared_cache), ttl_seconds=settings.proxy.cache_ttl_seconds,
        retry_budget_seconds=settings.hub.retry_budget_seconds, max_entries=settings.shared_cache.max_entries,
    )


def reset_default_job_proxy() -> None:
    """Forget the process's proxy (tests change settings between cases)."""
    global _default_proxy
    with _default_lock:
        _default_proxy = None
