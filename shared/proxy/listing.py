"""GET /api/jobs: the jobs a hub knows (its 30 days), newest first, filtered, redacted, through get_job's caches.

The hub's list is fetched as get_job fetches a job: this instance's cache (single flight, GET_JOB_CACHE_TTL_SECONDS),
then the cache every instance shares (one entry per hub and api-version, shared/proxy/shared_tier.py), then the
hub, after a call from the hub's budget. So one hub list call serves every caller of every instance within its TTL
(while the shared cache is on and reachable; otherwise one per instance, still within the app-wide budget),
and beyond the budget the last list (at most 60 s old) is served with Age. Filters and `top` are applied to the
cached list per request: they never cost a hub call, and a bad value is refused before anything is asked.

Kept free of azure.functions, like handler.py; list_jobs/__init__.py only translates the request and response.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline, parse_utc
from shared.errors import CachedFailure, CoalescedWaitTimeout, JobNotFoundError, SettingsError
from shared.http_trigger import OncePerProcess
from shared.jobs import ACTIVE_STATUSES, JOB_PROPERTIES_TYPES, JobStatus
from shared.logs import log_event
from shared.proxy.answers import ApiErrorCode, ProxyRequest, ProxyResponse, conditional_answer
from shared.proxy.cache import CacheOutcome, JobCache
from shared.proxy.common import (
    ApiFailure,
    check_method,
    configuration_error,
    failure_response,
    requested_api_version,
    select_hub,
    upstream_failure,
)
from shared.proxy.filters import ListFilters
from shared.proxy.prepared import MAX_REMEMBERED_JOBS, DocumentKind, PreparedJob, Source, etag_of
from shared.settings import AppSettings, HubSettings

if TYPE_CHECKING:
    from shared.iothub.client import HubClient
    from shared.proxy.shared_tier import JobKey, SharedJobCache

logger = logging.getLogger("list_jobs")

# The key's jobId for a hub's list: no job has an empty id.
LIST_KEY = ""
# Parsed lists this instance keeps, by their body's ETag: one per hub and api-version in use is enough.
MAX_VIEWS = 64
_TYPES_BY_LOWER = {value.lower(): value for value in JOB_PROPERTIES_TYPES}
_EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True, kw_only=True)
class ListedJob:
    """One job of a list: its redacted JSON, serialised once (when a list answer first needs it: the status page
    never does), and what the filters and the status page read."""

    job: dict[str, Any]
    status: JobStatus
    type: str | None  # the spec's spelling, None for a type the spec does not know
    started: datetime.datetime | None
    search: str  # its job id and failure reason, lower-case: what `q` looks in

    @functools.cached_property
    def json(self) -> bytes:
        # Racing threads may both serialise it: the same bytes, and one of them kept.
        return json.dumps(self.job, separators=(",", ":")).encode()


class JobListView:
    """A hub's list, parsed once per answer: its jobs newest first (by startTimeUtc, then endTimeUtc; jobs with
    neither last; ties by jobId), each serialised once, so that a cached list costs a filter and a join.
    `jobs`: the redacted jobs `body` was serialised from, when this process has them (no second parse)."""

    def __init__(self, body: bytes, *, jobs: Sequence[dict[str, Any]] | None = None) -> None:
        if jobs is not None:  # the redaction memo's objects: read once per process while they last
            listed = _listed_jobs.of([job for job in jobs if isinstance(job, dict)])
        else:
            listed = [_listed(job) for job in json.loads(body) if isinstance(job, dict)]
        listed.sort(key=lambda item: str(item.job.get("jobId")))
        listed.sort(key=_newest_first, reverse=True)
        self.jobs: tuple[ListedJob, ...] = tuple(listed)

    def select(self, filters: ListFilters) -> list[ListedJob]:
        jobs: Sequence[ListedJob] = self.jobs
        before = filters.before
        if before is not None:  # the continuation: from the first job after the cursor's, wherever it now stands
            jobs = next((jobs[i:] for i, item in enumerate(jobs)
                         if before.precedes(item.started, str(item.job.get("jobId")))), ())
        chosen = [item for item in jobs if filters.matches(status=item.status.value, type_=item.type,
                                                           search=item.search, started=item.started)]
        return chosen if filters.top is None else chosen[:filters.top]


def _listed(job: dict[str, Any]) -> ListedJob:
    raw_type = job.get("type")
    started = parse_utc(job.get("startTimeUtc")) or parse_utc(job.get("endTimeUtc"))
    reason = job.get("failureReason")
    search = f"{job.get('jobId')}\n{reason if isinstance(reason, str) else ''}".lower()
    return ListedJob(job=job,
                     status=JobStatus.parse(job.get("status")),
                     type=_TYPES_BY_LOWER.get(raw_type.lower()) if isinstance(raw_type, str) else None,
                     started=started, search=search)


class _ListedJobs:
    """What the filters and the page read of each job (its times parsed, its status and type), remembered per
    redacted job: the redaction's memo (shared/proxy/prepared.py) hands back the same object for a job that has
    not changed, so a hub's list, fetched again, is not read again job by job. An entry holds its job, so the
    object's id stays its own while the entry lives; a hit is checked by identity."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._known: OrderedDict[int, tuple[dict[str, Any], ListedJob]] = OrderedDict()

    def of(self, jobs: list[dict[str, Any]]) -> list[ListedJob]:
        with self._lock:
            found = [self._known.get(id(job)) for job in jobs]
            for job, entry in zip(jobs, found, strict=True):
                if entry is not None and entry[0] is job:
                    self._known.move_to_end(id(job))
        fresh = {i: _listed(job) for i, (job, entry) in enumerate(zip(jobs, found, strict=True))
                 if entry is None or entry[0] is not job}
        if fresh:
            with self._lock:
                for i, item in fresh.items():
                    self._known[id(jobs[i])] = (jobs[i], item)
                    self._known.move_to_end(id(jobs[i]))
                while len(self._known) > self._limit:
                    self._known.popitem(last=False)
        return [fresh[i] if entry is None or entry[0] is not job else entry[1]
                for i, (job, entry) in enumerate(zip(jobs, found, strict=True))]


_listed_jobs = _ListedJobs(MAX_REMEMBERED_JOBS)


def _newest_first(item: ListedJob) -> datetime.datetime:
    return item.started or _EPOCH


@dataclass(frozen=True, kw_only=True)
class HubJobs:
    """A hub's list as a caller gets it: the view, where it came from, and whether it is past its TTL."""

    hub: str
    view: JobListView
    prepared: PreparedJob
    outcome: CacheOutcome
    # The hub could not be listed (throttled, refused credentials, unreachable, timing out): these are its last
    # known jobs, `prepared.age()` old, and this is why.
    trouble: ApiFailure | None = None


class JobListProxy:
    """`shared`: the cache shared by every instance (DocumentKind.JOB_LIST), behind this instance's own."""

    def __init__(self, *, settings: AppSettings, client: HubClient, shared: SharedJobCache | None = None,
                 nudge: Callable[[str, str], object] | None = None) -> None:
        self._settings = settings
        self._client = client
        self._shared = shared
        self._nudge = nudge  # an active job's hub is due on the poller's next run (shared/poller/cadence_store.py)
        self._cache: JobCache[PreparedJob] = JobCache(
            ttl_seconds=settings.proxy.cache_ttl_seconds, max_final_entries=0, is_final=lambda _list: False,
            ttl_of=self._reuse_seconds,
        )
        self._lock = threading.Lock()
        self._last: dict[JobKey, PreparedJob] = {}
        self._views: OrderedDict[str, JobListView] = OrderedDict()

    @property
    def settings(self) -> AppSettings:
        return self._settings

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        started = time.monotonic()
        hub_name: str | None = None
        filters = ListFilters()
        try:
            check_method(request.method)
            hub = select_hub(self._settings.hub, request.params)
            hub_name = hub.name
            filters = ListFilters.parse(request.params)
            api_version = requested_api_version(self._settings.hub, request.params)
            listed = self.jobs(hub, api_version=api_version)
        except ApiFailure as failure:
            self._log(request=request, hub=hub_name, filters=filters, status=failure.status, count=None,
                      outcome=failure.outcome.value if failure.outcome else None, attempts=failure.attempts,
                      started=started, tracking_id=failure.tracking_id, error=failure.code.value)
            return failure_response(failure, job_id=None, hub=hub_name, method=request.method)
        active = next((job for job in listed.view.jobs if job.status in ACTIVE_STATUSES), None)
        if self._nudge is not None and active is not None:
            self._nudge(listed.hub, str(active.job.get("jobId")))
        selected = listed.view.select(filters)
        response = self._ok(request, listed, selected, filters)
        prepared = listed.prepared
        cache = prepared.source.value if listed.outcome is CacheOutcome.MISS else listed.outcome.value
        self._log(request=request, hub=hub_name, filters=filters, status=response.status_code, count=len(selected),
                  outcome=cache, attempts=prepared.attempts if listed.outcome is CacheOutcome.MISS else 0,
                  started=started, tracking_id=prepared.tracking_id)
        return response

    def jobs(self, hub: HubSettings, *, api_version: str | None = None) -> HubJobs:
        """The hub's list through the caches; raises ApiFailure (the hub's or the budget's answer)."""
        version = api_version or self._settings.hub.api_version
        key: JobKey = (hub.name, LIST_KEY, version)
        deadline = Deadline(self._settings.hub.retry_budget_seconds)

        def from_hub(budget_wait_seconds: float) -> PreparedJob:
            result = self._client.list_jobs(hub, api_version=version, deadline=deadline,
                                            budget_wait_seconds=budget_wait_seconds)
            # Always redacted: GET_JOB_REDACT_SAS opens one job's signatures to get_job's callers, not 30 days'.
            return PreparedJob.from_list(result.value, redact_sas=True,
                                         tracking_id=result.tracking_id, attempts=result.attempts,
                                         fetched_at=time.time())

        def fetch() -> PreparedJob:
            from shared.proxy.shared_tier import fetch_alone

            with self._lock:
                local = self._last.get(key)
            if self._shared is not None:
                prepared = self._shared.get(key, from_hub, deadline=deadline, local=local)
            else:
                prepared = fetch_alone(from_hub, local=local, now=time.time())
            if prepared.source is not Source.STALE:
                with self._lock:
                    self._last[key] = prepared  # one per hub and api-version: bounded by the settings
            return prepared

        try:
            prepared, outcome = self._cache.get(key, fetch, wait_seconds=deadline.remaining())
        except CoalescedWaitTimeout:
            trouble = ApiFailure(status=504, code=ApiErrorCode.UPSTREAM_TIMEOUT, outcome=CacheOutcome.COALESCED,
                                 message="the hub did not answer in time")
            return self._last_known(hub, key, trouble)
        except CachedFailure as failure:
            error = failure.error
            if isinstance(error, JobNotFoundError):  # the hub has no /jobs: not the caller's unknown id
                trouble = ApiFailure(status=502, code=ApiErrorCode.UPSTREAM_ERROR, outcome=failure.outcome,
                                     tracking_id=error.tracking_id, upstream_status=404,
                                     message="the hub answered 404 to its job list")
            else:
                trouble = upstream_failure(error, failure.outcome, auth_kind=self._client.auth_kind,
                                           not_found="the hub has no job list")
            return self._last_known(hub, key, trouble)
        stale = None
        if prepared.source is Source.STALE:
            # Within MAX_STALE_SECONDS of its fetch: served because the hub or the budget said wait. Said so too.
            stale = ApiFailure(status=429, code=ApiErrorCode.UPSTREAM_THROTTLED, upstream_status=None,
                               message=f"the hub asked to wait, or the app's call budget for it is spent: retry "
                                       f"after {prepared.retry_after or 0:g} s")
        return HubJobs(hub=hub.name, view=self._view(prepared), prepared=prepared, outcome=outcome, trouble=stale)

    def _last_known(self, hub: HubSettings, key: JobKey, trouble: ApiFailure) -> HubJobs:
        """The hub's last known list (this instance's, or the shared cache's: no hub call), whatever its age, with
        why it is not fresh; raises `trouble` when no list was ever had."""
        with self._lock:
            local = self._last.get(key)
        shared = self._shared.last_known(key) if self._shared is not None else None
        known = max((c for c in (local, shared) if c is not None), key=lambda c: c.fetched_at, default=None)
        if known is None:
            raise trouble
        log_event(logger, "list_last_known", level=logging.WARNING, hub=hub.name, error=trouble.code.value,
                  upstreamStatus=trouble.upstream_status, ageSeconds=round(known.age(time.time())))
        return HubJobs(hub=hub.name, view=self._view(known), prepared=known, outcome=trouble.outcome or
                       CacheOutcome.MISS, trouble=trouble)

    def _view(self, prepared: PreparedJob) -> JobListView:
        with self._lock:
            view = self._views.get(prepared.etag)
            if view is not None:  # the same body (the ETag is its hash), fetched again or by another instance
                self._views.move_to_end(prepared.etag)
                return view
        view = JobListView(prepared.body, jobs=prepared.jobs)  # outside the lock: a large list takes a while
        with self._lock:
            self._views[prepared.etag] = view
            self._views.move_to_end(prepared.etag)
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        return view

    def _reuse_seconds(self, prepared: PreparedJob) -> float:
        return prepared.reuse_seconds(self._settings.proxy.cache_ttl_seconds, now=time.time())

    def _ok(self, request: ProxyRequest, listed: HubJobs, selected: list[ListedJob], filters: ListFilters
            ) -> ProxyResponse:
        prepared = listed.prepared
        trouble = b""
        if listed.trouble is not None:
            # Never silent: the last known jobs, and why they are not fresh.
            trouble = b',"trouble":' + json.dumps(trouble_of(listed.trouble, listed.prepared),
                                                  separators=(",", ":")).encode()
        # The same list with the same filters is the same body: its ETag without hashing the body.
        etag = etag_of(f"{prepared.etag}|{listed.hub}|{filters.canonical()}".encode() + trouble)
        headers = prepared.answer_headers(etag, now=time.time())
        return conditional_answer(request, headers, lambda: b"".join((
            b'{"hub":', json.dumps(listed.hub).encode(), trouble, b',"jobs":[',
            b",".join(item.json for item in selected), b"]}")))

    def _log(self, *, request: ProxyRequest, hub: str | None, filters: ListFilters, status: int, count: int | None,
             outcome: str | None, attempts: int, started: float, tracking_id: str | None,
             error: str | None = None) -> None:
        log_event(
            logger, "list_jobs", level=logging.WARNING if status >= 500 else logging.INFO,
            hub=hub, method=request.method.upper(), status=status,
            statusFilter=sorted(filters.statuses) if filters.statuses else None,
            typeFilter=sorted(filters.types) if filters.types else None, top=filters.top, count=count,
            # the free text as a length only: it may be anything a caller typed (a pasted secret among them)
            textFilterChars=len(filters.text) if filters.text else None,
            since=filters.since.isoformat() if filters.since else None, continued=filters.before is not None,
            cache=outcome, attempts=attempts, durationMs=round((time.monotonic() - started) * 1000, 2),
            upstreamTrackingId=tracking_id, error=error,
        )


def trouble_of(trouble: ApiFailure, known: PreparedJob) -> dict[str, Any]:
    """Why a hub's list is its last known one: the error the hub's call ended in, and the list's age."""
    return {"error": trouble.code.value, "message": trouble.message, "upstreamStatus": trouble.upstream_status,
            "ageSeconds": max(0, round(known.age(time.time()))), "lastKnown": True}


def configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    return configuration_error(error, logger=logger, route="list_jobs", method=method)


def _build_list_proxy() -> JobListProxy:
    from shared.iothub.client import default_hub_client
    from shared.poller.cadence_store import default_cadence_board
    from shared.proxy.shared_tier import default_shared_cache

    settings = AppSettings.from_environ(os.environ)
    return JobListProxy(settings=settings, client=default_hub_client(settings.hub),
                        shared=default_shared_cache(settings, kind=DocumentKind.JOB_LIST),
                        nudge=default_cadence_board(settings).nudge)


# The process's list proxy, built from the environment on first use (raises SettingsError). It shares the
# process's hub client (so its sessions and call budget) with get_job.
default_list_proxy = OncePerProcess(_build_list_proxy)
