"""The poller's record of one hub, as stored in its state blob (`{state_container}/hubs/{hub}.json`).

A record per job: what was last seen of it, its seq, and the work claimed for it but not yet confirmed
written (shared/poller/core.py and confirm.py say how the record changes; shared/poller/store.py how it is stored).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from shared.errors import StateTooNew, StateUnreadable
from shared.jobs import JobStatus

# 2: records gained `prefix`, `refused`, `refused_key`, `anomaly`, and the hub `events` and `confirmId`. A
# version-1 state reads as is (the new fields take their defaults); a state of a later version is never
# planned on or rewritten by this code (old and new instances overlap during every deployment).
STATE_VERSION = 2
# A job's pending snapshots are capped: if its storage stays broken while it keeps moving, the oldest
# intermediate snapshots are given up (the newest one and the report always stay).
MAX_PENDING_SNAPSHOTS = 50
# After this many failed attempts to write a job's files, the poller stops trying (logged once).
MAX_WRITE_FAILURES = 100
# importErrors.log that cannot be read this many times running: the report is written without it.
IMPORT_LOG_ATTEMPTS = 3
# IoT Hub keeps a job in its list for 30 days after it ends. A job missing from a list is forgotten only
# once its last observed change is older than that (plus a margin) and nothing is pending for it: a job
# missing from one list (an empty or partial answer) keeps its record, so its seq continues if it returns.
FORGET_AFTER = datetime.timedelta(days=31)


class ReportState(str, Enum):
    NONE = "none"  # not finished yet
    PENDING = "pending"  # failed, cancelled, or an import whose errors log must be looked at
    WRITTEN = "written"
    NOT_NEEDED = "notNeeded"  # completed (with no rejected lines), or ended before the backfill window


@dataclass(kw_only=True)
class PendingSnapshot:
    seq: int
    blob: str
    document: dict[str, Any]


@dataclass(kw_only=True)
class PendingLatest:
    rev: int
    document: dict[str, Any]


@dataclass(kw_only=True)
class JobRecord:
    job_id: str
    seq: int = 0
    status: JobStatus | None = None
    progress: int | None = None
    changed_at: str | None = None  # when this (status, progress) was first observed
    timeline: list[dict[str, Any]] = field(default_factory=list)
    pending: list[PendingSnapshot] = field(default_factory=list)
    latest: PendingLatest | None = None
    latest_rev: int = 0  # the newest revision claimed for latest.json
    latest_etag: str | None = None  # ETag of latest.json as this poller last wrote it
    stalled: bool = False
    stalled_since: str | None = None
    report: ReportState = ReportState.NONE
    skipped: str | None = None
    backfilled: bool = False
    write_failures: int = 0
    absent_since: str | None = None  # first list that did not name the job (None: in the last list)
    # The blob prefix of this job's folder when not MONITOR_PREFIX: `{prefix}/{hub}` when another hub's job
    # with the same id already holds `{prefix}/{jobId}` in the same container.
    prefix: str | None = None
    refused: str | None = None  # why the job's storage target is refused, while it is (logged once per reason)
    refused_key: str | None = None  # the target fields it was refused for (a change is looked at again)
    anomaly: str | None = None  # the hub's last odd answer for this job (logged once per kind)
    # Whether the report reached the job's own container (shared/reports/delivery.py); set once its copy is written.
    delivery: dict[str, Any] | None = None
    # A job given up after failed writes whose report was owed: the newest (redacted) document it was observed
    # with, which that report, saying why it was given up, is built from (the app's own copy only).
    note_document: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a later version, kept as they were

    @property
    def has_work(self) -> bool:
        return bool(self.pending) or self.latest is not None or self.report == ReportState.PENDING

    @property
    def needs_writing(self) -> bool:
        """A tick has work for it: pending work of a job not given up, or the report owed by one given up."""
        return self.has_work and (self.skipped is None or self.report is ReportState.PENDING)

    def stored_document(self) -> dict[str, Any] | None:
        """The newest redacted job document the state holds for pending work (None if none)."""
        if self.latest is not None:
            return self.latest.document
        return self.pending[-1].document if self.pending else self.note_document

    def to_json(self) -> dict[str, Any]:
        # Compact: empty or default fields are left out (a hub keeps up to 30 days of jobs). Built by
        # hand: dataclasses.asdict deep-copies and dominated the cost of saving a hub of 500 jobs.
        data: dict[str, Any] = {**self.extra, "job_id": self.job_id}
        for name, default in _RECORD_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                data[name] = value.value if isinstance(value, Enum) else value
        if self.pending:
            data["pending"] = [asdict(p) for p in self.pending]
        if self.latest is not None:
            data["latest"] = asdict(self.latest)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        values = dict(data)
        values["pending"] = [PendingSnapshot(**p) for p in values.get("pending", [])]
        latest = values.get("latest")
        values["latest"] = PendingLatest(**latest) if isinstance(latest, Mapping) else None
        if values.get("status") is not None:
            values["status"] = JobStatus.parse(values["status"])
        if "report" in values:
            values["report"] = ReportState(values["report"])
        known = set(cls.__dataclass_fields__) - {"extra"}
        return cls(**{k: v for k, v in values.items() if k in known},
                   extra={k: v for k, v in values.items() if k not in known and k != "extra"})


_RECORD_DEFAULTS: dict[str, Any] = {
    name: value for name, value in vars(JobRecord(job_id="")).items()
    if name not in ("job_id", "pending", "latest", "extra")
}


@dataclass(kw_only=True)
class HubState:
    hub: str
    created_at: str
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    # Log lines of claimed changes, logged by the tick whose confirm takes them out (exactly once).
    events: list[dict[str, Any]] = field(default_factory=list)
    confirm_id: str | None = None  # the tick that saved the last confirm (its events are logged once it lands)
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a later version, kept as they were

    def to_bytes(self) -> bytes:
        payload: dict[str, Any] = {
            **self.extra,
            "version": STATE_VERSION,
            "hub": self.hub,
            "createdAtUtc": self.created_at,
            "jobs": {job_id: record.to_json() for job_id, record in sorted(self.jobs.items())},
        }
        if self.events:
            payload["events"] = self.events
        if self.confirm_id is not None:
            payload["confirmId"] = self.confirm_id
        return json.dumps(payload, separators=(",", ":")).encode()

    @staticmethod
    def records_of(data: bytes) -> dict[str, dict[str, Any]]:
        """The job records of a stored state, as JSON objects (unknown fields kept); the version rule of
        `from_bytes`. Raises StateUnreadable or StateTooNew."""
        try:
            payload = _readable_payload(data)
            jobs = payload.get("jobs", {})
            if not isinstance(jobs, dict):
                raise ValueError("no jobs")
            return {str(k): v for k, v in jobs.items() if isinstance(v, dict)}
        except StateTooNew:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise StateUnreadable(f"the state blob is not a state this app can read ({type(exc).__name__})") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> HubState:
        """Raises StateUnreadable (not this app's JSON) or StateTooNew (a later version wrote it)."""
        try:
            payload = _readable_payload(data)
            known = {"version", "hub", "createdAtUtc", "jobs", "events", "confirmId"}
            return cls(
                hub=str(payload["hub"]),
                created_at=str(payload["createdAtUtc"]),
                jobs={str(k): JobRecord.from_json(v) for k, v in payload.get("jobs", {}).items()},
                events=[dict(e) for e in payload.get("events", [])],
                confirm_id=payload.get("confirmId"),
                extra={k: v for k, v in payload.items() if k not in known},
            )
        except StateTooNew:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateUnreadable(f"the state blob is not a state this app can read ({type(exc).__name__})") from None


def _readable_payload(data: bytes) -> dict[str, Any]:
    """A stored state's JSON object, if this version may read it: ValueError when it is not a state at all,
    StateTooNew when a later version wrote it."""
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    version = payload.get("version", 1)
    if not isinstance(version, int):
        raise ValueError("no version")
    if version > STATE_VERSION:
        raise StateTooNew(f"the state was written by a later version ({version} > {STATE_VERSION})")
    return payload
