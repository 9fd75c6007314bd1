"""GET /api/status: for each configured hub, its jobs of the last STATUS_PAGE_DAYS days, for people.

Where each column comes from:
- the jobs (id, type, status, progress, start, end): the hub's list, through the list route's caches and the hub's
  call budget (shared/proxy/listing.py), so the page and /api/jobs share one hub call per TTL across instances
  while the shared cache is on and reachable (otherwise one per instance, still within the app-wide budget);
- **stalled** and whether a **report** exists: the poller's own state (`{MONITOR_STATE_CONTAINER}/hubs/{hub}.json`,
  read only). The poller marks a job stalled when it has not moved for MONITOR_STALL_AFTER_MINUTES (its rule, its
  alert, its latest.json); the page shows that flag rather than applying a rule of its own, so the page, the
  alert and latest.json never disagree. A job the poller has not seen yet has no flag.

Every hub is asked at once (a thread each), so a page costs about one hub list call, not one per hub; a hub that
fails shows its error in its own section, and the rest of the page is served. The page is HTML; only a bad method
or bad settings get a JSON error (as on every route).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.clock import parse_utc, utc_now
from shared.errors import SettingsError, StateTooNew, StateUnreadable
from shared.http_trigger import OncePerProcess
from shared.jobs import JobStatus, job_end, job_end_text, job_progress
from shared.logs import carried, log_event
from shared.pages.layout import security_headers
from shared.poller.state import ReportState
from shared.proxy.answers import ProxyRequest, ProxyResponse
from shared.proxy.common import ApiFailure, check_method, configuration_error, failure_response
from shared.proxy.filters import Cursor, ListFilters
from shared.proxy.validation import is_valid_job_id
from shared.reports.delivery import in_short, is_refusal
from shared.settings import AppSettings, HubSettings
from shared.status.query import PageQuery

if TYPE_CHECKING:
    from shared.poller.store import Peeked, StateStore
    from shared.proxy.listing import HubJobs, JobListProxy, ListedJob

logger = logging.getLogger("status_page")

# Calls at once: a list and a state read per hub (I/O waits, not CPU); beyond this, they wait their turn.
MAX_PARALLEL_HUBS = 24
REFRESH_SECONDS = 30
STATE_OPTIONS: dict[str, Any] = {"connection_timeout": 2, "read_timeout": 5, "retry_total": 1}


Records = dict[str, dict[str, Any]]  # the poller's job records by id, as stored


class ReportLink(str, Enum):
    WRITTEN = "written"  # the poller wrote a report (and its copy): linked
    PENDING = "pending"  # the poller will write one
    NONE = "none"  # none needed (or none yet: still running)
    UNKNOWN = "unknown"  # the poller's state could not be read: failed and cancelled jobs are linked anyway


_REPORT_LINKS = {ReportState.WRITTEN.value: ReportLink.WRITTEN, ReportState.PENDING.value: ReportLink.PENDING}


@dataclass(frozen=True, kw_only=True)
class JobRow:
    job_id: str
    type: str | None
    status: JobStatus
    progress: int | None
    started: datetime.datetime | None
    ended: datetime.datetime | None
    start_text: object
    end_text: object
    stalled: bool | None  # None: the poller has not seen the job (or its state is unreadable)
    stalled_since: str | None
    report: ReportLink
    report_href: str | None  # relative to /api/status, already URL-quoted
    failure_reason: object = None
    delivery: str | None = None  # whether the report is beside the job, in words (shared/reports/delivery.py)
    delivery_refused: bool = False
    page_href: str | None = None  # the job's own page (shared/status/job_page.py), relative to /api/status

    @property
    def duration_seconds(self) -> float | None:
        if self.started is None:
            return None
        end = self.ended
        if end is None:
            return None if self.status.is_terminal else max(0.0, (utc_now() - self.started).total_seconds())
        return max(0.0, (end - self.started).total_seconds())


@dataclass(frozen=True, kw_only=True)
class HubSection:
    hub: str
    rows: list[JobRow] = field(default_factory=list)
    matched: int = 0  # jobs of the window that pass the filters (from the continuation on, when there is one)
    error: str | None = None  # the hub's list could not be had (its rows, if any, are the last known jobs)
    last_known_age: int | None = None  # how old the last known list is (None: as the poller last recorded them)
    state_note: str | None = None  # the poller's state could not be read (no stall flags)
    list_href: str = ""  # the list route for this hub, opened the way the page was
    older_href: str | None = None  # the next page of this hub's jobs (a continuation), when there are more
    newest_href: str | None = None  # back to the newest, on a continued page


@dataclass(frozen=True, kw_only=True)
class StatusSnapshot:
    generated_at: datetime.datetime
    days: float
    hubs: list[HubSection]
    query: PageQuery | None = None  # what the page was asked for (None: the defaults)


class StatusPage:
    def __init__(self, *, settings: AppSettings, lists: JobListProxy, states: StateStore | None) -> None:
        """`states` None: no poller state to read (stall flags and report links from the rule in ReportLink)."""
        self._settings = settings
        self._lists = lists
        self._states = states
        # The last peek of each hub's state: a refresh downloads and parses only the states that changed since
        # (the poller rewrites a state only when something changed).
        self._peeked: dict[str, Peeked] = {}
        self._peeked_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(MAX_PARALLEL_HUBS, 2 * len(settings.hub.hubs))), thread_name_prefix="status")

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        from shared.status.html import render_status_page

        started = time.monotonic()
        try:
            check_method(request.method)
            query = PageQuery.parse(request.params, self._settings.hub, now=utc_now())
        except ApiFailure as failure:
            log_event(logger, "status_page", level=logging.INFO, method=request.method.upper(),
                      status=failure.status, error=failure.code.value)
            return failure_response(failure, job_id=None, hub=None, method=request.method)
        snapshot = self.snapshot(query=query)
        body = render_status_page(snapshot, refresh_seconds=REFRESH_SECONDS)
        log_event(logger, "status_page", level=logging.INFO, method=request.method.upper(), status=200,
                  hubs=len(snapshot.hubs), jobs=sum(len(h.rows) for h in snapshot.hubs),
                  filtered=query.filtered, continued=query.before is not None,
                  failedHubs=sum(1 for h in snapshot.hubs if h.error), durationMs=round((time.monotonic() - started) *
                                                                                         1000, 2))
        return ProxyResponse(status_code=200, body=b"" if request.method.upper() == "HEAD" else body,
                             headers=security_headers())

    def snapshot(self, *, query: PageQuery | None = None) -> StatusSnapshot:
        """Every hub the query names at once (None: every hub, no filter). The query's key (`?code=`) is carried
        into the page's links so that they open the same way; None when the key came in a header (or sign-in
        stands in front)."""
        now = utc_now()
        query = query or PageQuery.parse({}, self._settings.hub, now=now)
        # An explicit `since` is the window; without it, the last STATUS_PAGE_DAYS days.
        since = query.filters.since or now - datetime.timedelta(days=self._settings.status_page.days)
        hubs = query.hubs
        # Every list and every state read at once, none waiting on another in the pool (no nested waits). The
        # states are asked first: Azurite or storage takes longer over them than the hubs over their lists, and
        # each list is filtered where it arrives, while the states are still on their way.
        states = [self._pool.submit(carried(self._state), hub.name) for hub in hubs]
        lists = [self._pool.submit(carried(self._list), hub, query, since) for hub in hubs]
        sections = [_section(hub.name, listed.result()[0], state.result(), since=since, query=query,
                             matched=listed.result()[1])
                    for hub, listed, state in zip(hubs, lists, states, strict=True)]
        return StatusSnapshot(generated_at=now, days=self._settings.status_page.days, hubs=sections, query=query)

    def _list(self, hub: HubSettings, query: PageQuery, since: datetime.datetime
              ) -> tuple[HubJobs | ApiFailure, list[ListedJob] | None]:
        """The hub's list, and its jobs that match the page's filters (None when it could not be had)."""
        try:
            listed = self._lists.jobs(hub)
        except ApiFailure as failure:
            return failure, None
        return listed, _matching(listed.view.select(replace(query.filters, before=query.before)), since)

    def _state(self, hub: str) -> tuple[Records | None, str | None]:
        if self._states is None:
            return None, None
        with self._peeked_lock:
            known = self._peeked.get(hub)
        try:
            peeked = self._states.peek_records(hub, known=known, **STATE_OPTIONS)
        except (StateUnreadable, StateTooNew) as error:
            return None, f"the poller's state could not be read ({type(error).__name__}): no stall flags"
        except Exception as error:  # storage refused or failed: the jobs are still worth showing
            from shared.poller.storage import storage_error_text

            log_event(logger, "status_state_unavailable", level=logging.WARNING, hub=hub,
                      reason=storage_error_text(error))
            return None, "the poller's state could not be read (storage unavailable): no stall flags"
        with self._peeked_lock:
            if peeked is None:
                self._peeked.pop(hub, None)
            else:
                self._peeked[hub] = peeked
        if peeked is None:
            return None, "the poller has not run against this hub yet: no stall flags"
        return peeked.records, None


def _matching(candidates: list[ListedJob], since: datetime.datetime) -> list[ListedJob]:
    # A job without times stays in the default window (it is in the hub's list); an explicit `since` drops it.
    return [item for item in candidates if item.started is None or item.started >= since]


def _section(hub: str, listed: HubJobs | ApiFailure, state: tuple[Records | None, str | None], *,
             since: datetime.datetime, query: PageQuery, matched: list[ListedJob] | None = None) -> HubSection:
    """`matched`: the list's jobs that pass the filters, when already chosen (the list's worker does it)."""
    hub_records, state_note = state
    records = hub_records or {}
    trouble = listed if isinstance(listed, ApiFailure) else listed.trouble
    filters = replace(query.filters, before=query.before)
    if isinstance(listed, ApiFailure):
        # No list was ever had: the last known jobs are the ones the poller's state records (no hub call).
        matched = _matching(_recorded_jobs(records, filters), since)
        age = None
    else:
        if matched is None:
            matched = _matching(listed.view.select(filters), since)
        age = max(0, int(listed.prepared.age(time.time()))) if trouble is not None else None
    shown = matched[:query.rows]
    rows = [_row(item, records.get(str(item.job.get("jobId"))), hub_records is not None, hub, query)
            for item in shown]
    older = None
    if len(matched) > len(shown):
        last = shown[-1]
        older = query.link(hub=hub, before=Cursor(started=last.started, job_id=str(last.job.get("jobId"))))
    return HubSection(hub=hub, rows=rows, matched=len(matched), state_note=state_note,
                      error=f"{trouble.code.value}: {trouble.message}" if trouble else None, last_known_age=age,
                      list_href=f"jobs?{query.hub_query(hub)}", older_href=older,
                      newest_href=query.link(hub=hub) if query.before is not None else None)


def _recorded_jobs(records: Records, filters: ListFilters) -> list[ListedJob]:
    """The jobs of the poller's state as list items (id, status, progress; newest change first), those that pass
    the filters: what is known of a hub whose list this instance never had."""
    from shared.proxy.listing import ListedJob

    jobs = []
    for job_id, record in records.items():
        if record.get("absent_since") is not None:
            continue  # gone from the hub's own list already
        item = ListedJob(job={"jobId": job_id, "status": record.get("status"), "progress": record.get("progress")},
                         status=JobStatus.parse(record.get("status")), type=None, started=None,
                         search=job_id.lower())
        if filters.matches(status=item.status.value, type_=item.type, search=item.search, started=item.started):
            jobs.append((str(record.get("changed_at") or ""), item))
    return [item for _changed, item in sorted(jobs, key=lambda pair: pair[0], reverse=True)]


def _row(item: ListedJob, record: Mapping[str, Any] | None, have_state: bool, hub: str, query: PageQuery) -> JobRow:
    job: Mapping[str, Any] = item.job
    job_id = str(job.get("jobId"))
    status = item.status
    if record is not None:  # the record's stored form (JobRecord.to_json): defaults are left out
        report = _REPORT_LINKS.get(str(record.get("report", ReportState.NONE.value)), ReportLink.NONE)
        stalled: bool | None = record.get("stalled") is True and not status.is_terminal
        since = record.get("stalled_since")
        stalled_since = since if stalled and isinstance(since, str) else None
    else:
        report = ReportLink.NONE if have_state else ReportLink.UNKNOWN
        stalled, stalled_since = None, None
    recorded = record.get("delivery") if record is not None else None
    if report is ReportLink.PENDING and recorded is not None:
        report = ReportLink.WRITTEN  # its copy is written; the delivery beside the job is still being tried
    linked = report is ReportLink.WRITTEN or (
        report is ReportLink.UNKNOWN and status in (JobStatus.FAILED, JobStatus.CANCELLED))
    href = page = None
    if is_valid_job_id(job_id):  # any other id could not be asked for (get_job's rule): no link
        quoted = urllib.parse.quote(job_id, safe="")
        page = f"status/jobs/{quoted}?{query.hub_query(hub)}"
        if linked:
            href = f"status/jobs/{quoted}/report?{query.hub_query(hub)}"
    return JobRow(
        job_id=job_id, type=item.type or (str(job.get("type")) if job.get("type") is not None else None),
        status=status, progress=job_progress(job), started=parse_utc(job.get("startTimeUtc")),
        ended=job_end(job), start_text=job.get("startTimeUtc"), end_text=job_end_text(job),
        stalled=stalled, stalled_since=stalled_since, report=report, report_href=href,
        failure_reason=job.get("failureReason"), delivery=in_short(recorded if isinstance(recorded, dict) else None),
        delivery_refused=is_refusal(recorded if isinstance(recorded, dict) else None), page_href=page,
    )


def configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    return configuration_error(error, logger=logger, route="status_page", method=method)


def _build_status_page() -> StatusPage:
    from shared.poller.storage import BlobClients
    from shared.poller.store import StateStore
    from shared.proxy.listing import default_list_proxy

    lists = default_list_proxy.get()
    settings = AppSettings.from_environ(os.environ)
    blobs = BlobClients(storage_client_id=settings.poller.storage_client_id)
    states = StateStore(blobs.state_container(settings.poller.state_storage, settings.poller.state_container))
    return StatusPage(settings=settings, lists=lists, states=states)


# The process's page: the list route's proxy (so its caches and budget) and the poller's state container.
default_status_page = OncePerProcess(_build_status_page)

