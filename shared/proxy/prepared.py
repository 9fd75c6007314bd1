"""A hub answer made ready to serve, and how it is kept in the shared cache (no I/O).

An entry of the shared cache is one JSON blob per (hub, api-version, jobId), or per (hub, api-version) for the
hub's job list (`DocumentKind`), holding:
- `answer`: the last answer, a job or a list of jobs (the redacted body) or "not found", with when it was fetched;
- `claim`: the instance fetching it now (single flight across instances), with when it claimed;
- `failure`: what the last claim's hub call raised, for the instances that waited on that claim.

Only redacted documents are stored: a body is written as the routes serve it with GET_JOB_REDACT_SAS on, and a
body read back must be exactly what redaction makes of it, or the entry counts as corrupt (ignored, replaced).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

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
from shared.jobs import JobStatus
from shared.proxy.answers import JSON_CONTENT_TYPE
from shared.redaction import redact_job

ENTRY_VERSION = 1
# How old a document may be served when the hub or the call budget says wait ("slightly stale").
MAX_STALE_SECONDS = 60.0
# Instances compare wall-clock times; a time this far in the future is not believed (a clock gone wrong).
CLOCK_TOLERANCE_SECONDS = 2.0
# A stale answer is reused by an instance for at least this long (and at most the TTL).
MIN_STALE_REUSE_SECONDS = 0.5
# Listed jobs whose redaction this process remembers (20 hubs of 1,000 jobs).
MAX_REMEMBERED_JOBS = 20_000


class DocumentKind(str, Enum):
    """What an entry's body is: one job (get_job) or the hub's list of jobs (the list route)."""

    JOB = "job"
    JOB_LIST = "jobList"


class CorruptEntry(ValueError):
    """A stored blob that is not an entry of ours: ignored, and replaced by the next write."""


class Source(str, Enum):
    """Where a caller's document came from, as the log line's `cache` field says."""

    HUB = "miss"  # this caller's own hub call
    SHARED = "shared"  # another instance's answer, read from the shared cache
    SHARED_WAIT = "shared-wait"  # waited for another instance's hub call
    STALE = "stale"  # past the TTL: the hub or the call budget said wait, and this is the last answer


@dataclass(frozen=True, kw_only=True)
class PreparedJob:
    """Redacted body bytes and their ETag, computed once; `fetched_at` is wall-clock time (instances compare it)."""

    body: bytes
    etag: str
    status: JobStatus
    tracking_id: str | None
    attempts: int
    fetched_at: float
    source: Source = Source.HUB
    retry_after: float = 0.0  # a stale answer: when the hub may be asked again
    # A list fetched by this process: the redacted jobs its body was serialised from (never stored: the body is the
    # document), so that its view needs no second parse. None for a job, and for a list read back from storage.
    jobs: tuple[dict[str, Any], ...] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_job(cls, job: dict[str, Any], *, redact_sas: bool, tracking_id: str | None, attempts: int,
                 fetched_at: float) -> PreparedJob:
        body = json.dumps(redact_job(job, redact_sas=redact_sas), separators=(",", ":")).encode()
        return cls(body=body, etag=etag_of(body), status=JobStatus.parse(job.get("status")), tracking_id=tracking_id,
                   attempts=attempts, fetched_at=fetched_at)

    @classmethod
    def from_list(cls, jobs: list[dict[str, Any]], *, redact_sas: bool, tracking_id: str | None, attempts: int,
                  fetched_at: float) -> PreparedJob:
        """The hub's list as one document. A list is never final (jobs come and go): its status is UNKNOWN, which
        the caches treat as an active job's, kept for the TTL only."""
        redacted, body = redacted_jobs.serialised(jobs, redact_sas=redact_sas)
        return cls(body=body, etag=etag_of(body), status=JobStatus.UNKNOWN, tracking_id=tracking_id,
                   attempts=attempts, fetched_at=fetched_at, jobs=tuple(redacted))

    def age(self, now: float) -> float:
        return now - self.fetched_at

    def reuse_seconds(self, ttl_seconds: float, *, now: float) -> float:
        """How long an instance may reuse this answer: what is left of its TTL since it was fetched (by any
        instance), or, for a stale one, until the hub may be asked again (at least MIN_STALE_REUSE_SECONDS, so
        that callers over the budget are answered from memory, not each with a look at the budget)."""
        if self.source is Source.STALE:
            return min(ttl_seconds, max(MIN_STALE_REUSE_SECONDS, self.retry_after))
        return ttl_seconds - max(0.0, self.age(now))

    def answer_headers(self, etag: str, *, now: float) -> dict[str, str]:
        """The headers of an answer built from this document: never cached by the caller; `Age` for a stale one
        (older than the TTL: the hub or the call budget said wait; RFC 9111)."""
        headers = {"ETag": etag, "Cache-Control": "no-store", "Content-Type": JSON_CONTENT_TYPE}
        if self.tracking_id:
            headers["x-upstream-request-id"] = self.tracking_id
        if self.source is Source.STALE:
            headers["Age"] = str(max(0, int(self.age(now))))
        return headers

    def stale(self, retry_after: float) -> PreparedJob:
        return replace(self, source=Source.STALE, retry_after=retry_after, attempts=0)


class _RedactedJobs:
    """Redaction of listed jobs, remembered by each job's exact text with its JSON. A hub's list repeats the same
    jobs call after call (a finished job never changes), and redaction costs ~0.2 ms a job: a list of 500, or the
    status page's 20 hubs of them, would otherwise spend most of its time redacting and serialising what it
    redacted a few seconds before."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[bool, str], tuple[dict[str, Any], bytes]] = OrderedDict()

    def __call__(self, jobs: list[dict[str, Any]], *, redact_sas: bool) -> list[dict[str, Any]]:
        return [redacted for redacted, _json in self._entries(jobs, redact_sas=redact_sas)]

    def serialised(self, jobs: list[dict[str, Any]], *, redact_sas: bool) -> tuple[list[dict[str, Any]], bytes]:
        """The redacted jobs and their JSON array, joined from each job's own (the bytes json.dumps would make
        of the whole list with the same separators)."""
        entries = self._entries(jobs, redact_sas=redact_sas)
        return [redacted for redacted, _json in entries], b"[" + b",".join(j for _job, j in entries) + b"]"

    def _entries(self, jobs: list[dict[str, Any]], *, redact_sas: bool) -> list[tuple[dict[str, Any], bytes]]:
        # A job's key is its repr: exact (JSON values with one repr are one value: strings are quoted, 1 and 1.0
        # and True differ), and a fifth of json.dumps's cost. Another key order is another key: a miss, never a
        # wrong hit. One lock for the whole list, not one per job.
        keys = [(redact_sas, repr(job)) for job in jobs]
        with self._lock:
            found = [self._known.get(key) for key in keys]
            for key, known in zip(keys, found, strict=True):
                if known is not None:
                    self._known.move_to_end(key)
        # Outside the lock: ~0.2 ms a job.
        fresh = {i: _entry(redact_job(jobs[i], redact_sas=redact_sas)) for i, known in enumerate(found)
                 if known is None}
        if fresh:
            with self._lock:
                for i, redacted in fresh.items():
                    self._known[keys[i]] = redacted
                while len(self._known) > self._limit:
                    self._known.popitem(last=False)
        # Shared between callers: serialised, never changed.
        return [known if known is not None else fresh[i] for i, known in enumerate(found)]


def _entry(redacted: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    return redacted, json.dumps(redacted, separators=(",", ":")).encode()


redacted_jobs = _RedactedJobs(MAX_REMEMBERED_JOBS)


def newest_usable(now: float, *candidates: PreparedJob | None) -> PreparedJob | None:
    """The newest answer young enough to serve stale (at most MAX_STALE_SECONDS past its fetch): what a caller
    gets, rather than a 429, when the hub or the call budget says wait."""
    usable = [c for c in candidates if c is not None and -CLOCK_TOLERANCE_SECONDS <= c.age(now) <= MAX_STALE_SECONDS]
    return max(usable, key=lambda c: c.fetched_at, default=None)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, kw_only=True)
class Claim:
    id: str
    at: float


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A job (`body`, and its `status`) or, with `body` None, the hub's "no such job"."""

    fetched_at: float
    body: bytes | None
    status: JobStatus | None = None
    tracking_id: str | None = None
    error_code: str | None = None

    @classmethod
    def of(cls, job: PreparedJob) -> Answer:
        return cls(fetched_at=job.fetched_at, body=job.body, status=job.status, tracking_id=job.tracking_id)

    @classmethod
    def not_found(cls, error: JobNotFoundError, fetched_at: float) -> Answer:
        return cls(fetched_at=fetched_at, body=None, tracking_id=error.tracking_id, error_code=error.error_code)

    @property
    def terminal(self) -> bool:
        return self.status is not None and self.status.is_terminal

    def job(self, source: Source = Source.SHARED) -> PreparedJob | None:
        if self.body is None or self.status is None:
            return None
        return PreparedJob(body=self.body, etag=etag_of(self.body), status=self.status, tracking_id=self.tracking_id,
                           attempts=0, fetched_at=self.fetched_at, source=source)

    def error(self, hub: str) -> JobNotFoundError:
        return JobNotFoundError("the hub has no such job", hub=hub, status_code=404, error_code=self.error_code,
                                tracking_id=self.tracking_id, attempts=0)


# The errors a claim's hub call may end with, by name, for the instances that waited on it.
_ERRORS: dict[str, type[HubError]] = {
    cls.__name__: cls for cls in (HubAuthError, HubBudgetExhausted, HubServiceError, HubThrottledError,
                                  HubTimeoutError, JobNotFoundError)
}


@dataclass(frozen=True, kw_only=True)
class Failure:
    """What a claim's hub call raised: names, codes and ids only (the same text the caller is answered with)."""

    claim: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, claim: str, error: Exception) -> Failure | None:
        if isinstance(error, CredentialError):
            return cls(claim=claim, fields={"type": "CredentialError", "kind": error.credential_kind,
                                            "message": str(error)})
        if not isinstance(error, HubError) or type(error).__name__ not in _ERRORS:
            return None
        fields: dict[str, Any] = {
            "type": type(error).__name__, "message": error.message, "hub": error.hub, "statusCode": error.status_code,
            "errorCode": error.error_code, "trackingId": error.tracking_id,
        }
        if isinstance(error, HubThrottledError):
            fields["retryAfter"] = error.retry_after
        return cls(claim=claim, fields=fields)

    def error(self) -> Exception:
        """The error, as it reaches a caller who waited for it (attempts 0: they made none)."""
        kind = str(self.fields["type"])
        message = str(self.fields.get("message", ""))
        if kind == "CredentialError":
            credential_kind = str(self.fields.get("kind", "credential"))
            return CredentialError(credential_kind, message.removeprefix(f"{credential_kind}: "))
        cls = _ERRORS[kind]
        common: dict[str, Any] = {
            "hub": str(self.fields["hub"]), "status_code": _int(self.fields.get("statusCode")),
            "error_code": _text(self.fields.get("errorCode")), "tracking_id": _text(self.fields.get("trackingId")),
            "attempts": 0,
        }
        if issubclass(cls, HubThrottledError):
            return cls(message, retry_after=float(self.fields.get("retryAfter") or 1.0), **common)
        return cls(message, **common)


@dataclass(frozen=True, kw_only=True)
class Entry:
    answer: Answer | None = None
    claim: Claim | None = None
    failure: Failure | None = None

    def to_bytes(self) -> bytes:
        answer = None if self.answer is None else {
            "fetchedAt": self.answer.fetched_at,
            "body": None if self.answer.body is None else self.answer.body.decode(),
            "trackingId": self.answer.tracking_id, "errorCode": self.answer.error_code,
        }
        claim = None if self.claim is None else {"id": self.claim.id, "at": self.claim.at}
        failure = None if self.failure is None else {"claim": self.failure.claim, **self.failure.fields}
        return json.dumps({"v": ENTRY_VERSION, "answer": answer, "claim": claim, "failure": failure},
                          separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, kind: DocumentKind = DocumentKind.JOB) -> Entry:
        """The stored entry; raises CorruptEntry if it is not one (corrupt, foreign, of another kind, or holding a
        body that is not redacted)."""
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or raw.get("v") != ENTRY_VERSION:
                raise CorruptEntry("not an entry of this version")
            return cls(answer=_answer(raw.get("answer"), kind), claim=_claim(raw.get("claim")),
                       failure=_failure(raw.get("failure")))
        except CorruptEntry:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeError) as exc:
            raise CorruptEntry(f"not an entry: {exc if isinstance(exc, ValueError) else type(exc).__name__}") from None


def _answer(raw: Any, kind: DocumentKind) -> Answer | None:
    if raw is None:
        return None
    body, status = raw["body"], None
    if body is not None:
        encoded = str(body).encode()
        document = json.loads(encoded)
        if kind is DocumentKind.JOB_LIST:
            if not isinstance(document, list) or not all(isinstance(job, dict) for job in document):
                raise ValueError("the stored body is not a list of jobs")
            redacted: Any = redacted_jobs(document, redact_sas=True)
            status = JobStatus.UNKNOWN
        else:
            if not isinstance(document, dict):
                raise ValueError("the stored body is not a job")
            redacted, status = redact_job(document, redact_sas=True), JobStatus.parse(document.get("status"))
        # Redaction is idempotent (shared/redaction.py): a body an instance wrote is a fixed point of it, so this
        # holds for every entry written by the app, and fails for one planted unredacted.
        if json.dumps(redacted, separators=(",", ":")).encode() != encoded:
            noun = "job list" if kind is DocumentKind.JOB_LIST else "job"
            raise ValueError(f"the stored body is not a redacted {noun}")
        body = encoded
    return Answer(fetched_at=_time(raw["fetchedAt"]), body=body, status=status,
                  tracking_id=_text(raw.get("trackingId")), error_code=_text(raw.get("errorCode")))


def _claim(raw: Any) -> Claim | None:
    return None if raw is None else Claim(id=str(raw["id"]), at=_time(raw["at"]))


def _failure(raw: Any) -> Failure | None:
    if raw is None:
        return None
    fields = {name: value for name, value in raw.items() if name != "claim"}
    if fields.get("type") not in (*_ERRORS, "CredentialError") or not isinstance(fields.get("message"), str):
        raise ValueError("not a failure")
    if fields["type"] != "CredentialError" and not isinstance(fields.get("hub"), str):
        raise ValueError("not a failure")
    return Failure(claim=str(raw["claim"]), fields=fields)


def _time(value: Any) -> float:
    moment = float(value)
    if moment != moment or moment in (float("inf"), float("-inf")):
        raise ValueError("not a time")
    return moment


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
