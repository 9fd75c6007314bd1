"""One poll tick: list every hub's jobs (one GET /jobs each, hubs concurrently), record what changed.

Per hub: read its state blob, list its jobs, plan and claim (ETag-conditional), write the claimed
snapshot / latest.json / report blobs, confirm (ETag-conditional). See shared/poller/core.py for why
this order makes every write exactly-once across retried, late, overlapping or interrupted ticks.

The tick ends inside its budget (MONITOR_TICK_BUDGET_SECONDS): the hub list gets at most half of it,
every later step checks the deadline, and the tick stops waiting for a hub that overruns. A failing hub
or storage account is logged and the rest go on.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline, utc_now
from shared.errors import (
    CredentialError,
    HubError,
    HubThrottledError,
    StateConflict,
    TargetRejected,
    TickBudgetExhausted,
)
from shared.jobs import ACTIVE_STATUSES, job_status
from shared.logs import carried, log_event
from shared.poller.budget import tick_budget_seconds
from shared.poller.cadence import Due
from shared.poller.cadence_store import CadenceBoard, cadence_settings, cadence_store
from shared.poller.confirm import WriteOutcome, confirm
from shared.poller.core import HubView, PlanSettings, hub_view, plan
from shared.poller.documents import blob_safe_job_id
from shared.poller.events import PollerEvent
from shared.poller.import_evidence import MAX_IMPORT_LOG_BYTES
from shared.poller.outcomes import HubOutcome, TickResult
from shared.poller.report_writer import ReportWriter
from shared.poller.state import JobRecord
from shared.poller.storage import BlobClients, call_options, check_deadline, storage_error_text
from shared.poller.store import StateStore
from shared.poller.targets import JobTargets, job_targets
from shared.poller.writer import JobWriter
from shared.reports.copies import ReportCopies
from shared.reports.delivery import is_refusal
from shared.settings import AppSettings, HubSettings

if TYPE_CHECKING:
    from shared.iothub.client import HubClient

logger = logging.getLogger("jobmonitor.poller")

CLAIM_ATTEMPTS = 5  # plan/claim rounds against concurrent ticks before giving the hub up this tick
JOB_WORKERS = 8  # a hub's jobs with work are written this many at a time
LIST_SHARE = 0.5  # the hub list may use at most this share of what is left of the budget
MAX_SHOWN_JOB_ID = 256  # a jobId that is not blob-safe is logged cut to this length
SAFETY_SECONDS = 1.0  # stop starting new work this long before the budget ends
# A hub listed for one of these is likely listed on the next run too: its next call budget grant is taken ahead,
# while this run's list call goes (shared/cache/budget.py), to be used within the timer's interval and this slack.
EVERY_RUN = frozenset({Due.BUSY, Due.RECENT, Due.NUDGED, Due.UNKNOWN, Due.EVERY})
RESERVE_SLACK_SECONDS = 10.0


class Poller:
    """Process-wide (see `default_poller`): its clients, sessions and credentials outlive invocations."""

    def __init__(
        self,
        settings: AppSettings,
        *,
        hub_client: HubClient | None = None,
        blobs: BlobClients | None = None,
        clock: Callable[[], datetime.datetime] = utc_now,
        import_log_max_bytes: int = MAX_IMPORT_LOG_BYTES,
        cadence: CadenceBoard | None = None,
    ) -> None:
        from shared.iothub.client import default_hub_client

        self._settings = settings
        self._config = settings.poller
        self._hub_client = hub_client or default_hub_client(settings.hub)
        self._blobs = blobs or BlobClients(storage_client_id=settings.poller.storage_client_id)
        self._clock = clock
        self._budget_seconds = tick_budget_seconds(self._config.tick_budget_seconds, self._config.schedule)
        copies = ReportCopies.of_app(self._blobs, self._config)
        reports = ReportWriter(blobs=self._blobs, copies=copies, prefix=self._config.prefix, clock=clock,
                               import_log_max_bytes=import_log_max_bytes)
        self._writer = JobWriter(blobs=self._blobs, reports=reports, prefix=self._config.prefix,
                                 sibling_container=self._config.container)
        self._plan_settings = PlanSettings(
            prefix=self._config.prefix,
            stall_after_seconds=self._config.stall_after_seconds,
            backfill_seconds=self._config.backfill_seconds,
        )
        self._cadence = cadence or CadenceBoard(cadence_store(settings, self._blobs), cadence_settings(settings))
        self._store_lock = threading.Lock()
        self._store: StateStore | None = None
        # Per hub, what the state said after this process's last tick (see HubView): a job list equal
        # to it needs no state read, so a steady tick costs one list call per hub and nothing else.
        self._views: dict[str, HubView] = {}
        self._views_lock = threading.Lock()
        self._unnamed: set[tuple[str, str]] = set()  # (hub, jobId) not blob-safe, already logged

    def _state_store(self) -> StateStore:
        with self._store_lock:
            if self._store is None:
                self._store = StateStore(
                    self._blobs.state_container(self._config.state_storage, self._config.state_container)
                )
            return self._store

    # -- the tick ----------------------------------------------------------------------------------
    def tick(self, *, past_due: bool = False) -> TickResult:
        deadline = Deadline(max(1.0, self._budget_seconds - SAFETY_SECONDS))
        started = self._clock()
        result = TickResult(budget_seconds=self._budget_seconds)
        begun = self._cadence.begin([hub.name for hub in self._settings.hub.hubs], now=started.timestamp())
        hubs = [hub for hub in self._settings.hub.hubs if hub.name in begun.due]
        result.idle = [hub.name for hub in self._settings.hub.hubs if hub.name not in begun.due]
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(hubs), 32)),
                                                         thread_name_prefix="poll-hub")
        try:
            futures = {executor.submit(carried(self._poll_hub), hub, deadline, begun.due[hub.name]): hub
                       for hub in hubs}
            done, not_done = concurrent.futures.wait(futures, timeout=deadline.remaining() + SAFETY_SECONDS / 2)
            for future in done:
                outcome = future.result()
                result.hubs[outcome.hub] = outcome
            for future in not_done:
                hub = futures[future]
                result.hubs[hub.name] = HubOutcome(hub=hub.name, error="the tick's time budget ran out",
                                                   timed_out=True)
                log_event(logger, PollerEvent.HUB_TIMED_OUT, level=logging.WARNING, hub=hub.name,
                          budgetSeconds=self._budget_seconds)
        finally:
            # Never wait for a straggler: what it leaves pending, the next tick finishes.
            executor.shutdown(wait=False, cancel_futures=True)
        for name, outcome in result.hubs.items():
            outcome.due = begun.due[name].value
        self._cadence.finish(begun, {name: outcome.listing() for name, outcome in result.hubs.items()})
        result.duration_ms = round((self._clock() - started).total_seconds() * 1000, 1)
        log_event(
            logger, PollerEvent.TICK, pastDue=past_due, durationMs=result.duration_ms,
            budgetSeconds=self._budget_seconds, hubsLeftIdle=len(result.idle),
            hubsNudged=sum(o.due == "nudged" for o in result.hubs.values()),
            hubsThrottled=sum(o.throttled for o in result.hubs.values()),
            hubsOk=sum(o.ok for o in result.hubs.values()), hubsFailed=sum(not o.ok for o in result.hubs.values()),
            jobsListed=sum(o.jobs_listed for o in result.hubs.values()),
            changes=sum(o.changes for o in result.hubs.values()),
            snapshots=sum(o.snapshots_written for o in result.hubs.values()),
            latestWritten=sum(o.latest_written for o in result.hubs.values()),
            reports=sum(o.reports_written for o in result.hubs.values()),
            writeFailures=sum(o.write_failures for o in result.hubs.values()),
            claimConflicts=sum(o.claim_conflicts for o in result.hubs.values()),
        )
        return result

    def _poll_hub(self, hub: HubSettings, deadline: Deadline, due: Due) -> HubOutcome:
        outcome = HubOutcome(hub=hub.name)
        try:
            self._poll_hub_inner(hub, deadline, outcome, self._reserve_next(due))
        except HubThrottledError as exc:
            # Asked to wait past what is left of the tick (HubClient never retries past its deadline, the call
            # budget never sleeps past it): skipped for this tick, said so; the next tick asks again.
            outcome.throttled = True
            outcome.error = (f"{type(exc).__name__}: {exc.message}; skipped for this tick: the hub asked to wait "
                             f"{exc.retry_after:g} s, past the tick's budget")
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error=type(exc).__name__,
                      message=exc.message, statusCode=exc.status_code, errorCode=exc.error_code,
                      trackingId=exc.tracking_id, attempts=exc.attempts, retryAfterSeconds=exc.retry_after,
                      skipped="this tick", budgetSeconds=self._budget_seconds)
        except HubError as exc:
            outcome.error = f"{type(exc).__name__}: {exc.message}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error=type(exc).__name__,
                      message=exc.message, statusCode=exc.status_code, errorCode=exc.error_code,
                      trackingId=exc.tracking_id, attempts=exc.attempts)
        except CredentialError as exc:
            outcome.error = f"CredentialError: {exc}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error="CredentialError",
                      message=str(exc), credential=exc.credential_kind)
        except TickBudgetExhausted:
            outcome.error, outcome.timed_out = "the tick's time budget ran out", True
            log_event(logger, PollerEvent.HUB_TIMED_OUT, level=logging.WARNING, hub=hub.name,
                      budgetSeconds=self._budget_seconds)
        except Exception as exc:
            # The state storage failing (or anything unforeseen) costs this hub's tick, not the others'.
            outcome.error = f"{type(exc).__name__}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error=type(exc).__name__,
                      message=storage_error_text(exc))
        return outcome

    def _reserve_next(self, due: Due) -> float:
        """How soon this hub is listed again, if it is likely on the next run (its next grant is taken ahead)."""
        interval = self._cadence.settings.schedule_seconds
        if interval is None or due not in EVERY_RUN:
            return 0.0
        return interval + RESERVE_SLACK_SECONDS

    def _poll_hub_inner(self, hub: HubSettings, deadline: Deadline, outcome: HubOutcome, reserve_next: float) -> None:
        store = self._state_store()
        listed = self._hub_client.list_jobs(hub, deadline=Deadline(deadline.remaining() * LIST_SHARE),
                                            reserve_next_seconds=reserve_next)
        listed_at = self._clock()
        jobs = []
        for job in listed.value:
            if blob_safe_job_id(job.get("jobId")) is not None:
                jobs.append(job)
            else:
                self._skip_unnamed(hub, job.get("jobId"))
        outcome.jobs_listed = len(jobs)
        outcome.active = any(job_status(job) in ACTIVE_STATUSES for job in jobs)
        by_id = {str(job["jobId"]): job for job in jobs}
        with self._views_lock:
            view = self._views.pop(hub.name, None)
        if view is not None and view.matches(jobs, now=listed_at):
            with self._views_lock:
                self._views.setdefault(hub.name, view)
            outcome.ok = True
            return
        targets: dict[str, JobTargets | str] = {}

        def reject(job: Mapping[str, Any]) -> str | None:
            found = self._targets(job, targets)
            return found if isinstance(found, str) else None

        # Plan and claim, again from a fresh read whenever another tick got there first.
        for _ in range(CLAIM_ATTEMPTS):
            check_deadline(deadline)
            loaded = store.load(hub.name, now=listed_at, **call_options(deadline))
            state, etag = loaded.state, loaded.etag
            if loaded.moved_aside is not None:
                log_event(logger, PollerEvent.STATE_RECOVERED, level=logging.WARNING, hub=hub.name,
                          reason="the state blob could not be read", movedTo=loaded.moved_aside)
            first_run = etag is None or loaded.moved_aside is not None
            changes = plan(state, jobs, first_run=first_run, listed_at=listed_at, settings=self._plan_settings,
                           reject=reject)
            if changes or first_run:
                try:
                    etag = store.save(state, etag, **call_options(deadline))
                except StateConflict:
                    outcome.claim_conflicts += 1
                    continue
            break
        else:
            raise StateConflict(hub.name)

        work = [record for record in state.jobs.values() if record.needs_writing]
        done: dict[str, WriteOutcome] = {}
        if work:
            done = self._write_all(hub, work, by_id, targets, deadline, outcome, lineage=state.created_at)
        # Confirm: fold what was written into the freshest state. The claimed log lines go out once the
        # confirm that takes them out of the state lands (also when its answer was lost: its id is there).
        confirm_id = uuid.uuid4().hex
        for _ in range(CLAIM_ATTEMPTS):
            confirmed = confirm(state, done, listed_ids=set(by_id), now=listed_at, settings=self._plan_settings,
                                confirm_id=confirm_id)
            if not confirmed.changed:
                break
            try:
                etag = store.save(state, etag, **call_options(deadline))
            except StateConflict:
                outcome.claim_conflicts += 1
                loaded = store.load(hub.name, now=listed_at, **call_options(deadline))
                state, etag = loaded.state, loaded.etag
                if state.confirm_id != confirm_id:
                    continue  # not ours: fold the outcomes into the fresher state
            self._emit(hub, confirmed.events, outcome)
            break
        view = hub_view(state, stall_after_seconds=self._config.stall_after_seconds)
        outcome.pending = view is None  # work left (or its log lines): the cadence looks again soon
        if view is not None:
            with self._views_lock:
                self._views[hub.name] = view
        outcome.ok = True

    @staticmethod
    def _emit(hub: HubSettings, events: list[dict[str, Any]], outcome: HubOutcome) -> None:
        for event in events:
            log_event(logger, str(event["event"]), level=logging.WARNING if event.get("warning") else logging.INFO,
                      hub=hub.name, **event.get("fields", {}))
            outcome.changes += event["event"] == PollerEvent.JOB_CHANGED.value

    def _skip_unnamed(self, hub: HubSettings, job_id: object) -> None:
        """A listed jobId that cannot name a blob: the job is not watched; logged once per process."""
        shown = (job_id if isinstance(job_id, str) else repr(job_id))[:MAX_SHOWN_JOB_ID]
        with self._views_lock:
            if (hub.name, shown) in self._unnamed:
                return
            self._unnamed.add((hub.name, shown))
        log_event(logger, PollerEvent.JOB_SKIPPED, level=logging.WARNING, hub=hub.name, jobId=shown,
                  reason="the jobId cannot be used as a blob name")

    def _targets(self, job: Mapping[str, Any], cache: dict[str, JobTargets | str]) -> JobTargets | str:
        job_id = str(job.get("jobId"))
        if job_id not in cache:
            try:
                cache[job_id] = job_targets(job, self._config)
            except TargetRejected as exc:
                cache[job_id] = exc.reason
        return cache[job_id]

    # -- writing -----------------------------------------------------------------------------------
    def _write_all(
        self,
        hub: HubSettings,
        work: list[JobRecord],
        by_id: Mapping[str, Mapping[str, Any]],
        targets: dict[str, JobTargets | str],
        deadline: Deadline,
        outcome: HubOutcome,
        *,
        lineage: str,
    ) -> dict[str, WriteOutcome]:
        done: dict[str, WriteOutcome] = {}
        lock = threading.Lock()

        def one(record: JobRecord) -> None:
            try:
                result = self._write_one(hub, record, by_id, targets, deadline, lineage)
            except TickBudgetExhausted:
                raise
            except Exception as exc:
                # Whatever one job's fields raise is that job's failure (counted toward giving up), not the hub's.
                result = WriteOutcome(failed=True, error=type(exc).__name__)
                log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub.name, jobId=record.job_id,
                          error=type(exc).__name__, message=storage_error_text(exc),
                          failures=record.write_failures + 1)
            with lock:
                done[record.job_id] = result
                outcome.snapshots_written += len(result.snapshots)
                outcome.latest_written += result.latest_rev is not None
                outcome.reports_written += result.report_written
                # A refused delivery beside the job is a failed write too, though backoff (not a count) retries it.
                outcome.write_failures += result.failed or is_refusal(result.delivery)

        if len(work) == 1:
            one(work[0])
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=JOB_WORKERS, thread_name_prefix="poll-job") as pool:
                for future in [pool.submit(carried(one), record) for record in work]:
                    future.result()
        return done

    def _write_one(
        self, hub: HubSettings, record: JobRecord, by_id: Mapping[str, Mapping[str, Any]],
        targets: dict[str, JobTargets | str], deadline: Deadline, lineage: str,
    ) -> WriteOutcome:
        job = by_id.get(record.job_id)
        listed = job is not None
        if job is None:
            # No longer listed: write from the (redacted) document the claim stored, which leaves the
            # managed identity as the only credential; failing that, it counts toward giving up.
            job = record.stored_document()
        if record.skipped is not None and job is not None:
            # Given up after failed writes: the report it owes says why (shared/poller/confirm.py, _give_up).
            return self._writer.write_note(hub.name, record, job, deadline)
        found = self._targets(job, targets) if job is not None else "no stored document to write from"
        if isinstance(found, str) or job is None:
            # The target is refused now (the plan logged it once) or gone with the list: a failed attempt,
            # counted towards giving up.
            if not listed:
                log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub.name,
                          jobId=record.job_id, error="JobNotListed", message=found,
                          failures=record.write_failures + 1)
            return WriteOutcome(failed=True)
        return self._writer.write(hub.name, record, job, found, deadline, lineage=lineage, listed=list(by_id.values()))

_default_lock = threading.Lock()
_default_pollers: dict[AppSettings, Poller] = {}


def default_poller(settings: AppSettings) -> Poller:
    """The process's poller for these settings (Functions reuses the worker process between ticks)."""
    with _default_lock:
        poller = _default_pollers.get(settings)
        if poller is None:
            poller = Poller(settings)
            _default_pollers[settings] = poller
        return poller
