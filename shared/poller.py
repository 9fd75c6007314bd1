"""One poll tick: list every hub's jobs (one GET /jobs each, hubs concurrently), record what changed.

Per hub: read its state blob, list its jobs, plan and claim (ETag-conditional), write the claimed
snapshot / latest.json / report blobs, confirm (ETag-conditional). See shared/monitor_state.py for why
this order makes every write exactly-once across retried, late, overlapping or interrupted ticks.

The tick ends inside its budget (MONITOR_TICK_BUDGET_SECONDS): the hub list gets at most half of it,
every later step checks the deadline, and the tick stops waiting for a hub that overruns. A failing hub
or storage account is logged and the rest go on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.blob_targets import BlobClients, JobTargets, job_targets, request_options, sas_refused
from shared.errors import CredentialError, HubError, JobMonitorError, TargetRejected
from shared.failure_reports import TimelineEntry, build_report, render_markdown
from shared.hub_client import HubClient, default_hub_client
from shared.import_errors import ImportErrorSummary, SummaryAborted, summarize_chunks
from shared.logs import log_event
from shared.monitor_state import (
    IMPORT_LOG_ATTEMPTS,
    Done,
    HubView,
    JobRecord,
    PendingLatest,
    PendingSnapshot,
    PlanSettings,
    PollerEvent,
    ReportState,
    StateConflict,
    StateStore,
    confirm,
    plan,
)
from shared.retry import Deadline
from shared.settings import AppSettings, HubSettings
from shared.snapshots import blob_safe_job_id, latest_blob_name, report_json_blob_name, report_md_blob_name

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

logger = logging.getLogger("jobmonitor.poller")

IMPORT_ERRORS_BLOB = "importErrors.log"
CLAIM_ATTEMPTS = 5  # plan/claim rounds against concurrent ticks before giving the hub up this tick
JOB_WORKERS = 8  # a hub's jobs with work are written this many at a time
LIST_SHARE = 0.5  # the hub list may use at most this share of what is left of the budget
MAX_SHOWN_JOB_ID = 256  # a jobId that is not blob-safe is logged cut to this length
SAFETY_SECONDS = 1.0  # stop starting new work this long before the budget ends
JSON_CONTENT = "application/json"
# importErrors.log: read at most this much (a longer log is summarised from its head, with a note), within
# this share of what is left of the tick's budget.
MAX_IMPORT_LOG_BYTES = 64 << 20
IMPORT_LOG_SHARE = 0.5
MARKDOWN_CONTENT = "text/markdown; charset=utf-8"


class TickFailedError(JobMonitorError):
    """Every hub failed this tick: raised so that the timer's retry policy tries again."""


@dataclass(kw_only=True)
class HubOutcome:
    hub: str
    ok: bool = False
    error: str | None = None
    jobs_listed: int = 0
    changes: int = 0
    snapshots_written: int = 0
    latest_written: int = 0
    reports_written: int = 0
    write_failures: int = 0
    claim_conflicts: int = 0
    timed_out: bool = False


@dataclass(kw_only=True)
class TickResult:
    hubs: dict[str, HubOutcome] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def all_failed(self) -> bool:
        return bool(self.hubs) and not any(o.ok for o in self.hubs.values())


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


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
    ) -> None:
        self._settings = settings
        self._poller = settings.poller
        self._import_log_max_bytes = import_log_max_bytes
        self._hub_client = hub_client or default_hub_client(settings.hub)
        self._blobs = blobs or BlobClients(storage_client_id=settings.poller.storage_client_id)
        self._clock = clock
        self._plan_settings = PlanSettings(
            prefix=self._poller.prefix,
            stall_after_seconds=self._poller.stall_after_seconds,
            backfill_seconds=self._poller.backfill_seconds,
        )
        self._store_lock = threading.Lock()
        self._store: StateStore | None = None
        self._siblings_ready: set[tuple[str, str]] = set()
        # Per hub, what the state said after this process's last tick (see HubView): a job list equal
        # to it needs no state read, so a steady tick costs one list call per hub and nothing else.
        self._views: dict[str, HubView] = {}
        self._views_lock = threading.Lock()
        # (hub, jobId) whose SAS storage refused: written with the managed identity from then on.
        self._sas_refused: set[tuple[str, str]] = set()
        self._sas_lock = threading.Lock()
        self._unnamed: set[tuple[str, str]] = set()  # (hub, jobId) not blob-safe, already logged

    def _state_store(self) -> StateStore:
        with self._store_lock:
            if self._store is None:
                self._store = StateStore(
                    self._blobs.state_container(self._poller.state_storage, self._poller.state_container)
                )
            return self._store

    # -- the tick ----------------------------------------------------------------------------------
    def tick(self, *, past_due: bool = False) -> TickResult:
        deadline = Deadline(max(1.0, self._poller.tick_budget_seconds - SAFETY_SECONDS))
        started = self._clock()
        result = TickResult()
        hubs = self._settings.hub.hubs
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=min(len(hubs), 32),
                                                         thread_name_prefix="poll-hub")
        try:
            futures = {executor.submit(self._poll_hub, hub, deadline): hub for hub in hubs}
            done, not_done = concurrent.futures.wait(futures, timeout=deadline.remaining() + SAFETY_SECONDS / 2)
            for future in done:
                outcome = future.result()
                result.hubs[outcome.hub] = outcome
            for future in not_done:
                hub = futures[future]
                result.hubs[hub.name] = HubOutcome(hub=hub.name, error="the tick's time budget ran out",
                                                   timed_out=True)
                log_event(logger, PollerEvent.HUB_TIMED_OUT, level=logging.WARNING, hub=hub.name,
                          budgetSeconds=self._poller.tick_budget_seconds)
        finally:
            # Never wait for a straggler: what it leaves pending, the next tick finishes.
            executor.shutdown(wait=False, cancel_futures=True)
        result.duration_ms = round((self._clock() - started).total_seconds() * 1000, 1)
        log_event(
            logger, PollerEvent.TICK, pastDue=past_due, durationMs=result.duration_ms,
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

    def _poll_hub(self, hub: HubSettings, deadline: Deadline) -> HubOutcome:
        outcome = HubOutcome(hub=hub.name)
        try:
            self._poll_hub_inner(hub, deadline, outcome)
        except HubError as exc:
            outcome.error = f"{type(exc).__name__}: {exc.message}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error=type(exc).__name__,
                      message=exc.message, statusCode=exc.status_code, errorCode=exc.error_code,
                      trackingId=exc.tracking_id, attempts=exc.attempts)
        except CredentialError as exc:
            outcome.error = f"CredentialError: {exc}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error="CredentialError",
                      message=str(exc), credential=exc.credential_kind)
        except _BudgetExhausted:
            outcome.error, outcome.timed_out = "the tick's time budget ran out", True
            log_event(logger, PollerEvent.HUB_TIMED_OUT, level=logging.WARNING, hub=hub.name,
                      budgetSeconds=self._poller.tick_budget_seconds)
        except Exception as exc:
            # The state storage failing (or anything unforeseen) costs this hub's tick, not the others'.
            outcome.error = f"{type(exc).__name__}"
            log_event(logger, PollerEvent.HUB_FAILED, level=logging.ERROR, hub=hub.name, error=type(exc).__name__,
                      message=_storage_message(exc))
        return outcome

    def _poll_hub_inner(self, hub: HubSettings, deadline: Deadline, outcome: HubOutcome) -> None:
        store = self._state_store()
        listed = self._hub_client.list_jobs(hub, deadline=Deadline(deadline.remaining() * LIST_SHARE))
        listed_at = self._clock()
        jobs = []
        for job in listed.value:
            if blob_safe_job_id(job.get("jobId")) is not None:
                jobs.append(job)
            else:
                self._skip_unnamed(hub, job.get("jobId"))
        outcome.jobs_listed = len(jobs)
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
            _check(deadline)
            state, etag = store.load(hub.name, now=listed_at, **_io(deadline))
            events = plan(state, jobs, first_run=etag is None, listed_at=listed_at, settings=self._plan_settings,
                          reject=reject)
            if events or etag is None:
                try:
                    etag = store.save(state, etag, **_io(deadline))
                except StateConflict:
                    outcome.claim_conflicts += 1
                    continue
            for event in events:
                log_event(logger, event.event, level=logging.WARNING if event.warning else logging.INFO,
                          hub=hub.name, **event.fields)
                outcome.changes += event.event == PollerEvent.JOB_CHANGED
            break
        else:
            raise StateConflict(hub.name)

        work = [record for record in state.jobs.values() if record.has_work and record.skipped is None]
        done: dict[str, Done] = {}
        if work:
            done = self._write_all(hub, work, by_id, targets, deadline, outcome)
        listed_ids = set(by_id)
        # Confirm: fold what was written into the freshest state.
        for _ in range(CLAIM_ATTEMPTS):
            if not confirm(state, done, listed_ids=listed_ids, now=listed_at):
                break
            try:
                etag = store.save(state, etag, **_io(deadline))
                break
            except StateConflict:
                outcome.claim_conflicts += 1
                state, etag = store.load(hub.name, now=listed_at, **_io(deadline))
        for job_id, result in done.items():
            record = state.jobs.get(job_id)
            if result.failed and record is not None and record.skipped is not None:
                log_event(logger, PollerEvent.JOB_SKIPPED, level=logging.WARNING, hub=hub.name, jobId=job_id,
                          reason=record.skipped)
        view = state.view(stall_after_seconds=self._poller.stall_after_seconds)
        if view is not None:
            with self._views_lock:
                self._views[hub.name] = view
        outcome.ok = True

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
                cache[job_id] = job_targets(job, self._poller)
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
    ) -> dict[str, Done]:
        done: dict[str, Done] = {}
        lock = threading.Lock()

        def one(record: JobRecord) -> None:
            job = by_id.get(record.job_id)
            listed = job is not None
            if job is None:
                # No longer listed: write from the (redacted) document the claim stored, which leaves the
                # managed identity as the only credential; failing that, it counts toward giving up.
                job = record.stored_document()
            found = self._targets(job, targets) if job is not None else "no stored document to write from"
            if isinstance(found, str) or job is None:
                if listed:
                    return
                result = Done(failed=True)
                log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub.name, jobId=record.job_id,
                          error="JobNotListed", message=found, failures=record.write_failures + 1)
            else:
                result = self._write_job(hub, record, job, found, deadline)
            with lock:
                done[record.job_id] = result
                outcome.snapshots_written += len(result.snapshots)
                outcome.latest_written += result.latest_rev is not None
                outcome.reports_written += result.report_written
                outcome.write_failures += result.failed

        if len(work) == 1:
            one(work[0])
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=JOB_WORKERS, thread_name_prefix="poll-job") as pool:
                for future in [pool.submit(one, record) for record in work]:
                    future.result()
        return done

    def _write_job(
        self, hub: HubSettings, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline
    ) -> Done:
        done = Done()
        key = (hub.name, record.job_id)
        if key in self._sas_refused:
            targets = targets.with_identity() or targets
        try:
            try:
                self._write_job_blobs(hub, record, job, targets, deadline, done)
            except Exception as exc:
                if not sas_refused(exc) or not targets.uses_sas:
                    raise
                fallback = targets.with_identity()
                if fallback is None:
                    # A refused SAS never widens what the identity may touch: outside the operator's list, the
                    # job is skipped (one log line, when the state records it).
                    done.failed = True
                    done.skip = (f"storage refused the job's SAS ({_storage_message(exc)}) and "
                                 f"{targets.monitor.describe()} is not in MONITOR_IDENTITY_CONTAINERS")
                    return done
                # An expired SAS is often why the job failed: its report must not depend on that SAS.
                with self._sas_lock:
                    self._sas_refused.add(key)
                log_event(logger, PollerEvent.SAS_REFUSED, hub=hub.name, jobId=record.job_id,
                          container=targets.monitor.describe(), message=_storage_message(exc))
                self._write_job_blobs(hub, record, job, fallback, deadline, done)
        except _BudgetExhausted:
            pass  # left pending; the next tick finishes it
        except Exception as exc:
            done.failed = True
            log_event(logger, PollerEvent.WRITE_FAILED, level=logging.WARNING, hub=hub.name, jobId=record.job_id,
                      container=targets.monitor.describe(), error=type(exc).__name__, message=_storage_message(exc),
                      failures=record.write_failures + 1)
        return done

    def _write_job_blobs(
        self, hub: HubSettings, record: JobRecord, job: Mapping[str, Any], targets: JobTargets, deadline: Deadline,
        done: Done,
    ) -> None:
        container = self._blobs.container(targets.monitor)
        if self._poller.container is not None and targets.monitor.target.container == self._poller.container:
            _check(deadline)
            self._ensure_sibling(container, targets, deadline)
        for pending in sorted(record.pending, key=lambda p: p.seq):
            _check(deadline)
            self._write_snapshot(container, pending, deadline)
            done.snapshots.add(pending.seq)
        if record.latest is not None:
            _check(deadline)
            done.latest_etag = self._write_latest(container, record, record.latest, deadline)
            done.latest_rev = record.latest.rev
        if record.report == ReportState.PENDING:
            _check(deadline)
            done.report_written = self._write_report(hub, record, job, targets, container, deadline)

    def _ensure_sibling(self, container: ContainerClient, targets: JobTargets, deadline: Deadline) -> None:
        """MONITOR_CONTAINER is created on first use in each account (once per process)."""
        from azure.core.exceptions import ResourceExistsError

        key = (targets.monitor.target.account_url, targets.monitor.target.container)
        if key in self._siblings_ready:
            return
        with contextlib.suppress(ResourceExistsError):
            container.create_container(**_io(deadline))
        self._siblings_ready.add(key)

    @staticmethod
    def _write_snapshot(container: ContainerClient, pending: PendingSnapshot, deadline: Deadline) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        # Already there means written by an earlier, interrupted or overlapping tick: same seq, same name.
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(
                pending.blob, _json_bytes(pending.document), overwrite=False,
                content_settings=ContentSettings(content_type=JSON_CONTENT), **_io(deadline),
            )

    def _write_latest(
        self, container: ContainerClient, record: JobRecord, latest: PendingLatest, deadline: Deadline
    ) -> str | None:
        """Write latest.json only forward: its metadata carries the revision, compared on any conflict."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        name = latest_blob_name(self._poller.prefix, record.job_id)
        data = _json_bytes(latest.document)
        metadata = {"monitorrev": str(latest.rev), "monitorseq": str(record.seq)}
        settings = ContentSettings(content_type=JSON_CONTENT)
        etag = record.latest_etag
        blob = container.get_blob_client(name)
        for _ in range(4):
            _check(deadline)  # no round starts after the deadline
            try:
                if etag is None:
                    result = blob.upload_blob(data, overwrite=False, metadata=metadata, content_settings=settings,
                                              **_io(deadline))
                else:
                    result = blob.upload_blob(data, overwrite=True, metadata=metadata, content_settings=settings,
                                              etag=etag, match_condition=MatchConditions.IfNotModified,
                                              **_io(deadline))
                return str(result["etag"])
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                _check(deadline)
                try:
                    properties = blob.get_blob_properties(**_io(deadline))
                except ResourceNotFoundError:
                    etag = None
                    continue
                theirs = int((properties.metadata or {}).get("monitorrev", "0") or 0)
                if theirs >= latest.rev:
                    return str(properties.etag)  # as new or newer already: nothing to do
                etag = str(properties.etag)
        raise StateConflict(f"latest.json of {record.job_id} kept changing")

    def _write_report(
        self,
        hub: HubSettings,
        record: JobRecord,
        job: Mapping[str, Any],
        targets: JobTargets,
        container: ContainerClient,
        deadline: Deadline,
    ) -> bool:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        json_name = report_json_blob_name(self._poller.prefix, record.job_id)
        md_name = report_md_blob_name(self._poller.prefix, record.job_id)
        summary, note = None, None
        if str(job.get("type", "")).lower() == "import":
            summary, note = self._import_summary(record, targets, deadline)
        report = build_report(
            job, hub=hub.name, timeline=[TimelineEntry(
                seq=int(e["seq"]), status=str(e["status"]), progress=e.get("progress"),
                polled_at_utc=str(e["polledAtUtc"]), blob=str(e.get("blob", "")),
            ) for e in record.timeline],
            import_errors=summary, import_errors_note=note, generated_at=self._clock(),
        )
        document: dict[str, Any] = report.to_json()
        _check(deadline)
        created = False
        try:
            container.upload_blob(json_name, _json_bytes(document), overwrite=False,
                                  content_settings=ContentSettings(content_type=JSON_CONTENT), **_io(deadline))
            created = True
        except ResourceExistsError:
            # Written by an earlier or overlapping tick: the Markdown follows what is stored.
            _check(deadline)
            document = json.loads(container.download_blob(json_name, **_io(deadline)).readall())
        _check(deadline)
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(md_name, render_markdown(document).encode(), overwrite=False,
                                  content_settings=ContentSettings(content_type=MARKDOWN_CONTENT), **_io(deadline))
        if created:
            log_event(logger, PollerEvent.REPORT_WRITTEN, hub=hub.name, jobId=record.job_id,
                      status=document.get("status"), hint=report.hint.key, blob=json_name,
                      importErrorLines=summary.total_lines if summary is not None else None)
        return True

    def _import_summary(
        self, record: JobRecord, targets: JobTargets, deadline: Deadline
    ) -> tuple[ImportErrorSummary | None, str | None]:
        """Summarise importErrors.log from the job's output container; (None, note) when it cannot be.

        At most `import_log_max_bytes` are read, within a share of what is left of the tick's budget (the
        report still has to be written). Running out of time counts as a failed attempt; after
        IMPORT_LOG_ATTEMPTS of them the report is written from the part that was read, and says so."""
        if targets.output is None:
            return None, (f"{IMPORT_ERRORS_BLOB} was not read: the output container has no usable SAS and is not "
                          "one the app's identity may read (MONITOR_IDENTITY_CONTAINERS)")
        log_deadline = Deadline(deadline.remaining() * IMPORT_LOG_SHARE)
        try:
            blob = self._blobs.container(targets.output).get_blob_client(IMPORT_ERRORS_BLOB)
            downloader = blob.download_blob(offset=0, length=self._import_log_max_bytes, **_io(log_deadline))
            size = _blob_size(downloader.properties)
            summary = summarize_chunks(downloader.chunks(), should_stop=lambda: log_deadline.remaining() <= 0)
        except SummaryAborted as aborted:
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
                raise ImportLogOverrun from None  # counts as a failed attempt; the next tick tries again
            return aborted.summary, (
                f"{IMPORT_ERRORS_BLOB} was only partly read: the time budget ran out {IMPORT_LOG_ATTEMPTS} times; "
                f"the summary covers its first {aborted.summary.bytes_read} bytes"
            )
        except Exception as exc:
            if _not_found(exc):
                return None, f"{IMPORT_ERRORS_BLOB} was not found in the output container"
            if sas_refused(exc) and not targets.output.uses_identity:
                raise  # _write_job tries the managed identity, where it is allowed
            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS:
                raise  # try again next tick
            return None, f"{IMPORT_ERRORS_BLOB} could not be read ({_storage_message(exc)})"
        if size > self._import_log_max_bytes:
            return summary, (f"{IMPORT_ERRORS_BLOB} is {size} bytes: truncated, the summary covers its first "
                             f"{self._import_log_max_bytes} bytes")
        return summary, None


class ImportLogOverrun(Exception):
    """importErrors.log could not be read within its share of the budget (a failed attempt)."""


class _BudgetExhausted(Exception):
    pass


def _check(deadline: Deadline) -> None:
    if deadline.remaining() <= 0:
        raise _BudgetExhausted


def _io(deadline: Deadline) -> dict[str, Any]:
    """Timeouts (and retries) of one storage call, bounded by what is left of the tick's budget."""
    return request_options(deadline.remaining())


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False).encode()


def _blob_size(properties: Any) -> int:
    """The whole blob's size from a ranged download's properties (`Content-Range: bytes 0-99/12345`)."""
    content_range = getattr(properties, "content_range", None)
    if isinstance(content_range, str) and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(getattr(properties, "size", 0) or 0)


def _not_found(exc: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def _storage_message(exc: Exception) -> str:
    """What went wrong, without the request URL (it may carry a SAS): status and error code only."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None)
        code = getattr(code, "value", code)  # azure-storage's StorageErrorCode enum: its value, not its name
        return f"HTTP {exc.status_code} {code or exc.reason or ''}".strip()
    return type(exc).__name__


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
