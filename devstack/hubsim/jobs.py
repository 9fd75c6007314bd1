"""Import/export jobs of one hub: validation, the one-active-job quota, lifecycle, retention, seeding.

Lifecycle (one worker thread per created job): enqueued for `enqueued_ms`, then running with progress
rising in `progress_steps` steps over `running_ms`, then the real blob work, then completed or failed.
Cancellation wakes the worker; a job cancelled while its blob work is under way stays cancelled.
"""

from __future__ import annotations

import copy
import datetime
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from devstack.hubsim.errors import ErrorCode, HubError
from devstack.hubsim.registry import Registry
from devstack.hubsim.storage import BlobAccess, StorageFailure
from devstack.hubsim.vocab import (
    DEFAULT_DEVICES_BLOB,
    DEFAULT_RETENTION_SECONDS,
    IMPORT_ERRORS_BLOB,
    EndTimeWhileRunning,
    JobStatus,
    JobType,
    RejectedLinesEnd,
    StorageAuthenticationType,
)

log = logging.getLogger("devstack.hubsim.jobs")

# Fields the service generates: ignored (overwritten) at creation.
SYSTEM_FIELDS = ("jobId", "startTimeUtc", "endTimeUtc", "status", "progress", "failureReason")
BOOLEAN_FIELDS = ("excludeKeysInExport", "includeConfigurations")
STRING_FIELDS = ("inputBlobName", "outputBlobName", "configurationsBlobName", "inputBlobContainerUri")
DEFAULT_CONFIGURATIONS_BLOB = "configurations.txt"
MAX_PROGRESS_BEFORE_WORK = 90


@dataclass(frozen=True, kw_only=True)
class ImportErrorsBehaviour:
    """How an import with rejected device lines ends, and the shape of its log lines (the defaults follow the
    evidence in docs/iothub-evidence.md; PUT /devstack/import-errors plays the other readings)."""

    rejected_lines_end: RejectedLinesEnd = RejectedLinesEnd.COMPLETED
    device_id_field: bool = False
    empty_log: bool = True  # an import with nothing rejected still writes its (empty) log

    def to_json(self) -> dict[str, Any]:
        return {"rejected_lines_end": self.rejected_lines_end.value, "device_id_field": self.device_id_field,
                "empty_log": self.empty_log}


@dataclass(frozen=True, kw_only=True)
class JobTiming:
    enqueued_ms: int = 200
    running_ms: int = 1000
    progress_steps: int = 4


def utc_iso(moment: float | None = None) -> str:
    moment = time.time() if moment is None else moment
    stamp = datetime.datetime.fromtimestamp(moment, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _parse_iso(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


@dataclass
class _Job:
    props: dict[str, Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None

    @property
    def status(self) -> JobStatus:
        try:
            return JobStatus(self.props.get("status"))
        except ValueError:
            return JobStatus.UNKNOWN

    @property
    def active(self) -> bool:
        return not self.status.terminal


def _invalid(text: str) -> HubError:
    return HubError(ErrorCode.ARGUMENT_INVALID, text)


def _check_uri(body: dict[str, Any], name: str, *, required: bool) -> None:
    value = body.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise _invalid(f"{name} is required and must be an absolute blob container URI.")


def validate_create(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object of job properties.")
    try:
        job_type = JobType(body.get("type"))
    except ValueError:
        raise _invalid("Job type must be 'export' or 'import'.") from None
    _check_uri(body, "outputBlobContainerUri", required=True)
    _check_uri(body, "inputBlobContainerUri", required=job_type is JobType.IMPORT)
    auth = body.get("storageAuthenticationType")
    if auth is not None:
        try:
            StorageAuthenticationType(auth)
        except ValueError:
            raise _invalid("storageAuthenticationType must be 'keyBased' or 'identityBased'.") from None
    for name in BOOLEAN_FIELDS:
        if name in body and not isinstance(body[name], bool):
            raise _invalid(f"{name} must be a boolean.")
    for name in STRING_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise _invalid(f"{name} must be a string.")
    if "identity" in body and body["identity"] is not None and not isinstance(body["identity"], dict):
        raise _invalid("identity must be an object.")
    job_id = body.get("jobId")
    if job_id is not None and (not isinstance(job_id, str) or not job_id.strip()):
        raise _invalid("jobId must be a non-empty string.")
    return body


class JobStore:
    """Thread-safe jobs of one hub."""

    def __init__(
        self,
        *,
        registry: Registry,
        blobs: BlobAccess,
        timing: JobTiming | None = None,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self._registry = registry
        self._blobs = blobs
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self.timing = timing or JobTiming()
        self.retention_seconds = retention_seconds
        self.import_errors = ImportErrorsBehaviour()
        self.end_time_while_running = EndTimeWhileRunning.ABSENT

    # -- reading ---------------------------------------------------------------------------------
    def _prune(self) -> None:
        horizon = time.time() - self.retention_seconds
        expired = [k for k, j in self._jobs.items() if j.ended_at is not None and j.ended_at < horizon]
        for job_id in expired:
            del self._jobs[job_id]

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            self._prune()
            job = self._jobs.get(job_id)
            if job is None:
                raise HubError(ErrorCode.JOB_NOT_FOUND, f"Job with id '{job_id}' not found.")
            return self._view(job)

    def list_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune()
            return [self._view(j) for j in self._jobs.values()]

    def _view(self, job: _Job) -> dict[str, Any]:
        """The job as answered: a job not ended carries the variant's endTimeUtc sentinel, if one is set."""
        props = copy.deepcopy(job.props)
        sentinel = self.end_time_while_running.sentinel
        if sentinel is not None and job.active:
            props["endTimeUtc"] = sentinel
        return props

    # -- writing ---------------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        body = validate_create(body)
        auth = StorageAuthenticationType(body.get("storageAuthenticationType", StorageAuthenticationType.KEY_BASED))
        if auth is StorageAuthenticationType.IDENTITY_BASED and not self._blobs.identity_enabled:
            raise HubError(ErrorCode.MANAGED_IDENTITY_NOT_ENABLED, "Managed identity is not enabled for this IoT hub.")
        job_id = body.get("jobId") or str(uuid.uuid4())
        props: dict[str, Any] = {
            "jobId": job_id,
            "startTimeUtc": utc_iso(),
            "type": body["type"],
            "status": JobStatus.ENQUEUED.value,
            "progress": 0,
        }
        props.update({k: copy.deepcopy(v) for k, v in body.items() if k not in SYSTEM_FIELDS})
        with self._lock:
            self._prune()
            if job_id in self._jobs:
                raise HubError(ErrorCode.JOB_ALREADY_EXISTS, f"A job with id '{job_id}' already exists.")
            if any(j.active for j in self._jobs.values()):
                raise HubError(
                    ErrorCode.JOB_QUOTA_EXCEEDED,
                    f"Only one active import/export job is allowed per IoT hub "
                    f"({ErrorCode.JOB_QUOTA_EXCEEDED.number}). Wait for the active job to finish or cancel it.",
                )
            job = _Job(props)
            self._jobs[job_id] = job
            snapshot = copy.deepcopy(props)
        threading.Thread(target=self._run, args=(job, self.timing), name=f"hubsim-job-{job_id}", daemon=True).start()
        return snapshot

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Active → cancelled; a terminal job is answered unchanged (documented in the package)."""
        with self._lock:
            self._prune()
            job = self._jobs.get(job_id)
            if job is None:
                raise HubError(ErrorCode.JOB_NOT_FOUND, f"Job with id '{job_id}' not found.")
            if job.active:
                self._finish(job, JobStatus.CANCELLED)
            return copy.deepcopy(job.props)

    def seed(self, entries: list[Any]) -> list[str]:
        now = time.time()
        seeded: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise _invalid("Each seeded job must be a JSON object.")
            props = copy.deepcopy(entry)
            props.setdefault("jobId", str(uuid.uuid4()))
            props.setdefault("type", JobType.EXPORT.value)
            props.setdefault("status", JobStatus.COMPLETED.value)
            props.setdefault("startTimeUtc", utc_iso(now))
            seeded.append(props)
        with self._lock:
            for props in seeded:
                job = _Job(props)
                if not job.active:
                    job.ended_at = _parse_iso(props.get("endTimeUtc")) or now
                self._jobs[str(props["jobId"])] = job
        return [str(p["jobId"]) for p in seeded]

    def reset(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
            self._jobs.clear()

    def set_timing(self, timing: JobTiming) -> None:
        self.timing = timing

    def update_timing(self, **changes: int) -> JobTiming:
        self.timing = replace(self.timing, **changes)
        return self.timing

    # -- lifecycle -------------------------------------------------------------------------------
    def _finish(self, job: _Job, status: JobStatus, failure: str | None = None) -> None:
        """Caller holds the lock."""
        job.props["status"] = status.value
        job.props["endTimeUtc"] = utc_iso()
        if status is JobStatus.COMPLETED:
            job.props["progress"] = 100
        if failure is not None:
            job.props["failureReason"] = failure
        job.ended_at = time.time()
        job.cancel.set()

    def _set(self, job: _Job, **changes: Any) -> bool:
        with self._lock:
            if not job.active or job.cancel.is_set():
                return False
            job.props.update(changes)
            return True

    def _run(self, job: _Job, timing: JobTiming) -> None:
        if job.cancel.wait(timing.enqueued_ms / 1000) or not self._set(job, status=JobStatus.RUNNING.value):
            return
        steps = max(timing.progress_steps, 1)
        interval = timing.running_ms / 1000 / (steps + 1)
        for step in range(1, steps + 1):
            if job.cancel.wait(interval):
                return
            self._set(job, progress=min(MAX_PROGRESS_BEFORE_WORK, step * 100 // (steps + 1)))
        if job.cancel.wait(interval):
            return
        with self._lock:
            props = copy.deepcopy(job.props)
        try:
            failure = self._do_work(props)
        except StorageFailure as exc:
            failure = str(exc)
        except Exception:
            log.exception("job %s: unexpected error in its blob work", props.get("jobId"))
            failure = f"ErrorCode:{ErrorCode.SERVER_ERROR.code_name};An internal error occurred while running the job."

        with self._lock:
            if job.active:
                self._finish(job, JobStatus.FAILED if failure else JobStatus.COMPLETED, failure)

    def _do_work(self, props: dict[str, Any]) -> str | None:
        auth = StorageAuthenticationType(props.get("storageAuthenticationType", StorageAuthenticationType.KEY_BASED))
        output = str(props["outputBlobContainerUri"])
        if props["type"] == JobType.EXPORT.value:
            text = self._registry.export_text(exclude_keys=bool(props.get("excludeKeysInExport", False)))
            self._blobs.write(output, auth, props.get("outputBlobName") or DEFAULT_DEVICES_BLOB, text)
            if props.get("includeConfigurations"):
                name = props.get("configurationsBlobName") or DEFAULT_CONFIGURATIONS_BLOB
                self._blobs.write(output, auth, name, "")
            return None
        input_uri = str(props["inputBlobContainerUri"])
        text = self._blobs.read(input_uri, auth, props.get("inputBlobName") or DEFAULT_DEVICES_BLOB)
        result = self._registry.import_text(text)
        behaviour = self.import_errors
        if not result.errors:
            if behaviour.empty_log:  # "an empty log means no errors" (the clone-hub guide)
                self._blobs.write(output, auth, props.get("outputBlobName") or IMPORT_ERRORS_BLOB, "")
            return None
        log = "".join(f"{error.to_json(with_device_id=behaviour.device_id_field)}\n" for error in result.errors)
        # An import names the blob for its errors with outputBlobName, as the management API documents.
        self._blobs.write(output, auth, props.get("outputBlobName") or IMPORT_ERRORS_BLOB, log)
        if behaviour.rejected_lines_end is RejectedLinesEnd.COMPLETED:
            return None  # rejected lines are not a job-level fault: the job completes, the log says what failed
        return (
            f"ErrorCode:ImportErrors;{len(result.errors)} of {result.lines} devices failed to import; "
            f"{result.applied} were applied. See {props.get('outputBlobName') or IMPORT_ERRORS_BLOB} in the output "
            "blob container."
        )
