"""get_job's behaviour: validate, fetch through the cache, redact, and shape the answer.

Kept free of azure.functions so it is tested and benchmarked directly; get_job/__init__.py only
translates the Functions request and response.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.clock import Deadline
from shared.errors import CachedFailure, CoalescedWaitTimeout, JobNotFoundError, SettingsError
from shared.http_trigger import OncePerProcess
from shared.jobs import ACTIVE_STATUSES
from shared.logs import log_event
from shared.proxy.answers import ApiErrorCode, ProxyRequest, ProxyResponse, conditional_answer
from shared.proxy.cache import CacheOutcome, JobCache
from shared.proxy.common import (
    ApiFailure,
    check_method,
    configuration_error,
    failure_response,
    invalid_job_id,
    requested_api_version,
    select_hub,
    upstream_failure,
)
from shared.proxy.prepared import PreparedJob, Source
from shared.proxy.validation import is_valid_job_id
from shared.settings import AppSettings, HubSettings, ProxySettings

if TYPE_CHECKING:
    from shared.iothub.client import HubClient
    from shared.proxy.shared_tier import JobKey, SharedJobCache

logger = logging.getLogger("get_job")

# Active jobs whose last answer this instance keeps for stale serving (the terminal ones are in the cache).
LAST_ANSWERS = 1024


class JobProxy:
    """`shared`: the cache shared by every instance, behind this instance's own (None: per instance only)."""

    def __init__(self, *, settings: AppSettings, client: HubClient, shared: SharedJobCache | None = None,
                 nudge: Callable[[str, str], object] | None = None) -> None:
        self._settings = settings
        self._client = client
        self._shared = shared
        self._nudge = nudge  # an active job's hub is due on the poller's next run (shared/poller/cadence_store.py)
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
            check_method(request.method)
            hub = select_hub(self._settings.hub, request.params)
            hub_name = hub.name
            if job_id is None:
                raise invalid_job_id()
            api_version = requested_api_version(self._settings.hub, request.params)
            prepared, outcome = self._fetch(hub, job_id, api_version)
        except ApiFailure as failure:
            self._log(
                request=request, job_id=job_id, hub=hub_name, status=failure.status,
                upstream_status=failure.upstream_status,
                outcome=failure.outcome.value if failure.outcome else None, attempts=failure.attempts,
                started=started, tracking_id=failure.tracking_id, error=failure.code.value,
            )
            return failure_response(failure, job_id=job_id, hub=hub_name, method=request.method)
        if self._nudge is not None and prepared.status in ACTIVE_STATUSES:
            self._nudge(hub_name, request.job_id)
        response = self._ok(request, prepared)
        # The leader of this instance says where its answer came from: the hub, the shared cache, or stale.
        cache = prepared.source.value if outcome is CacheOutcome.MISS else outcome.value
        self._log(
            request=request, job_id=job_id, hub=hub_name, status=response.status_code, upstream_status=200,
            outcome=cache, attempts=prepared.attempts if outcome is CacheOutcome.MISS else 0,
            started=started, tracking_id=prepared.tracking_id,
        )
        return response

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
            raise ApiFailure(
                status=504, code=ApiErrorCode.UPSTREAM_TIMEOUT, outcome=CacheOutcome.COALESCED,
                message="the hub did not answer in time",
            ) from None
        except CachedFailure as failure:
            raise self._failure(failure.error, failure.outcome) from None

    def _reuse_seconds(self, job: PreparedJob) -> float:
        return job.reuse_seconds(self._settings.proxy.cache_ttl_seconds, now=time.time())

    def _last_answer(self, key: JobKey) -> PreparedJob | None:
        with self._last_lock:
            return self._last.get(key)

    def _keep_last(self, key: JobKey, job: PreparedJob) -> None:
        with self._last_lock:
            self._last[key] = job
            self._last.move_to_end(key)
            while len(self._last) > LAST_ANSWERS:
                self._last.popitem(last=False)

    def _failure(self, error: Exception, outcome: CacheOutcome) -> ApiFailure:
        return upstream_failure(error, outcome, auth_kind=self._client.auth_kind,
                                not_found="the hub has no job with this id")

    def _ok(self, request: ProxyRequest, prepared: PreparedJob) -> ProxyResponse:
        headers = prepared.answer_headers(prepared.etag, now=time.time())
        return conditional_answer(request, headers, lambda: prepared.body)

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


def configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    """The answer while the app's settings are invalid: the setting is named, its value never shown."""
    return configuration_error(error, logger=logger, route="get_job", method=method)


def _build_job_proxy() -> JobProxy:
    # Imported here: requests is the largest import on get_job's path, and the worker imports function modules
    # before the first call arrives.
    from shared.iothub.client import default_hub_client
    from shared.poller.cadence_store import default_cadence_board
    from shared.proxy.prepared import DocumentKind
    from shared.proxy.shared_tier import default_shared_cache

    settings = AppSettings.from_environ(os.environ)
    return JobProxy(settings=settings, client=default_hub_client(settings.hub),
                    shared=default_shared_cache(settings, kind=DocumentKind.JOB),
                    nudge=default_cadence_board(settings).nudge)


# The process's proxy, built from the environment on first use (raises SettingsError).
default_job_proxy = OncePerProcess(_build_job_proxy)
