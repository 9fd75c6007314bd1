"""get_job's cache shared by every instance, behind each instance's own (cache.py).

One entry per (hub, api-version, jobId), and one per (hub, api-version) for the hub's job list (the list route,
`DocumentKind.JOB_LIST`), in the shared store (shared/cache/store.py, a container in
AzureWebJobsStorage; the entry's format is in prepared.py). An instance that has no fresh answer of its own
reads the entry:

- a fresh answer (an active job or a 404 younger than GET_JOB_CACHE_TTL_SECONDS, a finished job younger than a
  day) is served: the hub is not asked;
- a live claim means another instance is asking the hub: wait, reading the entry again (20 ms, growing to
  250 ms), until the claim's answer or failure is written;
- otherwise claim the entry: a write conditional on the ETag just read (or on there being no entry). Exactly one
  instance wins; it asks the hub, writes the answer (a 404 too, or the failure for those who waited) and so
  clears the claim. A claim older than the hub's retry budget is a dead instance's, and is taken over.

A waiter never waits past what it needs to ask the hub itself: near the end of its budget it does (without a
claim), so a slow or dead claimant costs a hub call, never an answer. When the store fails, the caller goes on per
instance (the circuit of shared/cache/health.py makes the next ones skip it at once), and so does a caller that
finds it unavailable. Writes after a hub call never fail the caller.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable

from shared.cache.store import MAX_BLOB_BYTES, MAX_LIST_BLOB_BYTES, SharedStore
from shared.cache.sweep import Sweeper, expires_metadata
from shared.clock import Deadline
from shared.errors import CredentialError, HubBudgetExhausted, HubError, JobNotFoundError, SharedStoreUnavailable
from shared.logs import log_event
from shared.proxy.prepared import (
    CLOCK_TOLERANCE_SECONDS,
    MAX_STALE_SECONDS,
    Answer,
    Claim,
    CorruptEntry,
    DocumentKind,
    Entry,
    Failure,
    PreparedJob,
    Source,
    newest_usable,
)
from shared.settings import AppSettings

logger = logging.getLogger("get_job")

JobKey = tuple[str, str, str]  # (hub, jobId, api-version); the list's jobId is "" (no job has that id)
# A finished job never changes, but the hub forgets it after 30 days: fetch it again once a day at most.
TERMINAL_MAX_AGE_SECONDS = 24 * 3600.0
POLL_FIRST_SECONDS = 0.02
POLL_MAX_SECONDS = 0.25
# A hub's list is kept this long after its fetch: the last known jobs while the hub cannot be listed.
LAST_KNOWN_LIST_SECONDS = 24 * 3600.0
# How long a caller without a stale answer waits for the call budget before a 429.
BUDGET_WAIT_SECONDS = 2.0
# Claims lost in a row before a caller asks the hub without one (entries rewritten as fast as they are read).
MAX_LOST_CLAIMS = 5
ENTRIES_PREFIX = "jobs/"
# The list's entry: `jobs/{hub}/list/{api-version}.json`, under the same prefix (one sweep) and apart from every
# job's (`jobs/{hub}/{api-version}/{jobId}.json`: no api-version is "list").
LIST_SEGMENT = "list"


def fetch_alone(fetch: Callable[[float], PreparedJob], *, local: PreparedJob | None, now: float) -> PreparedJob:
    """Per instance: ask the hub; when it or the budget says wait, this instance's last answer, if young enough."""
    stale = newest_usable(now, local)
    try:
        return fetch(0.0 if stale is not None else BUDGET_WAIT_SECONDS)
    except HubBudgetExhausted as error:
        if stale is None:
            raise
        return stale.stale(error.retry_after)


class SharedJobCache:
    def __init__(self, *, store: SharedStore, ttl_seconds: float, retry_budget_seconds: float, max_entries: int,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 kind: DocumentKind = DocumentKind.JOB) -> None:
        self._store = store
        self._kind = kind
        self._max_bytes = MAX_LIST_BLOB_BYTES if kind is DocumentKind.JOB_LIST else MAX_BLOB_BYTES
        self._ttl = ttl_seconds
        # A claimant asks the hub for at most its retry budget: a claim older than that (and a little) is dead.
        self._claim_seconds = retry_budget_seconds + CLOCK_TOLERANCE_SECONDS
        # What a waiter keeps back to ask the hub itself if the claim is not answered in time.
        self._reserve = max(2.0, retry_budget_seconds / 4)
        self._clock = clock
        self._sleep = sleep
        self._sweeper = Sweeper(store=store, prefix=ENTRIES_PREFIX, max_entries=max_entries, clock=clock)

    def blob_name(self, key: JobKey) -> str:
        hub, job_id, api_version = key
        if self._kind is DocumentKind.JOB_LIST:
            return f"{ENTRIES_PREFIX}{hub.lower()}/{LIST_SEGMENT}/{api_version}.json"
        return f"{ENTRIES_PREFIX}{hub.lower()}/{api_version}/{job_id}.json"

    def get(self, key: JobKey, fetch: Callable[[float], PreparedJob], *, deadline: Deadline,
            local: PreparedJob | None) -> PreparedJob:
        """The job's document; `fetch(budget_wait_seconds)` asks the hub; `local` is this instance's last answer
        (for stale serving). Raises what the hub call raised (JobNotFoundError, HubError, CredentialError)."""
        if self._store.available:
            try:
                return self._get(key, fetch, deadline=deadline, local=local)
            except SharedStoreUnavailable:
                pass  # nothing was asked of the hub yet: go on per instance
        return fetch_alone(fetch, local=local, now=self._clock())

    def last_known(self, key: JobKey) -> PreparedJob | None:
        """The entry's last answer whatever its age, read without a hub call: what the list route and the status
        page show, with its age, while the hub cannot be listed. None without one (or without the store)."""
        if not self._store.available:
            return None
        try:
            blob = self._store.read(self.blob_name(key), max_bytes=self._max_bytes)
        except SharedStoreUnavailable:
            return None
        answer = _parse(blob.data, self._kind).answer
        return answer.job(Source.STALE) if answer is not None else None

    def _get(self, key: JobKey, fetch: Callable[[float], PreparedJob], *, deadline: Deadline,
             local: PreparedJob | None) -> PreparedJob:
        name = self.blob_name(key)
        blob = self._store.read(name, max_bytes=self._max_bytes)
        waited_on: str | None = None
        waiting_since = time.monotonic()
        poll = POLL_FIRST_SECONDS
        lost = 0
        while True:
            entry = _parse(blob.data, self._kind)
            now = self._clock()
            answer = entry.answer
            if answer is not None and self._fresh(answer, now):
                return _served(answer, key, Source.SHARED_WAIT if waited_on else Source.SHARED)
            if waited_on is not None and entry.failure is not None and entry.failure.claim == waited_on:
                error = entry.failure.error()  # the claim this caller waited on failed: so does it, like its leader
                return _stale_or_raise(error, now, answer, local)
            claim = entry.claim
            live = claim is not None and -CLOCK_TOLERANCE_SECONDS <= now - claim.at < self._claim_seconds
            if claim is not None and live:
                patience = deadline.remaining() - self._reserve
                if patience > 0:
                    waited_on = claim.id
                    self._sleep(min(poll, patience))
                    poll = min(poll * 1.5, POLL_MAX_SECONDS)
                    blob = self._store.read(name, max_bytes=self._max_bytes)
                    continue
                # Waited as long as it may: ask the hub itself, so a slow or dead claimant costs a call, not an answer.
                log_event(logger, "shared_claim_outwaited", level=logging.WARNING, hub=key[0], jobId=key[1],
                          waitedSeconds=round(time.monotonic() - waiting_since, 1))
                return self._lead(name, key, entry, blob.etag, None, fetch, local)
            if lost >= MAX_LOST_CLAIMS:
                return self._lead(name, key, entry, blob.etag, None, fetch, local)
            mine = Claim(id=uuid.uuid4().hex, at=now)
            claimed = dataclasses.replace(entry, claim=mine, failure=None)
            etag = self._store.write(name, claimed.to_bytes(), etag=blob.etag, metadata=self._expires(claimed, now))
            if etag is None:
                lost += 1
                # Another instance wrote first: see what it did.
                blob = self._store.read(name, max_bytes=self._max_bytes)
                continue
            return self._lead(name, key, claimed, etag, mine, fetch, local)

    def _lead(self, name: str, key: JobKey, entry: Entry, etag: str | None, claim: Claim | None,
              fetch: Callable[[float], PreparedJob], local: PreparedJob | None) -> PreparedJob:
        now = self._clock()
        previous = entry.answer.job(Source.STALE) if entry.answer is not None else None
        stale = newest_usable(now, previous, local)
        try:
            job = fetch(0.0 if stale is not None else BUDGET_WAIT_SECONDS)
        except JobNotFoundError as error:
            self._finish(name, etag, Entry(answer=Answer.not_found(error, self._clock())))
            raise
        except (HubError, CredentialError) as error:
            if claim is not None:
                failure = Failure.of(claim.id, error)
                self._finish(name, etag, dataclasses.replace(entry, claim=None, failure=failure))
            if isinstance(error, HubBudgetExhausted) and stale is not None:
                return stale.stale(error.retry_after)
            raise
        self._finish(name, etag, Entry(answer=Answer.of(job)))
        return job

    def _finish(self, name: str, etag: str | None, entry: Entry) -> None:
        """Write what the hub said, if the entry is still as this caller left it; a failure costs nothing."""
        try:
            if self._store.write(name, entry.to_bytes(), etag=etag, metadata=self._expires(entry, self._clock())):
                self._sweeper.maybe_sweep()
        except SharedStoreUnavailable:
            pass  # the answer is the caller's anyway; the circuit logged the outage

    def _fresh(self, answer: Answer, now: float) -> bool:
        age = now - answer.fetched_at
        if age < -CLOCK_TOLERANCE_SECONDS:
            return False  # written by a clock far ahead: not believed, fetched again
        return age < (TERMINAL_MAX_AGE_SECONDS if answer.terminal else self._ttl)

    def _expires(self, entry: Entry, now: float) -> dict[str, str]:
        """When the sweep may delete the entry: once it can serve nobody, stale serving included (a hub's list is
        served as its last known one while the hub cannot be listed: it is kept a day)."""
        ends = [now + self._claim_seconds + MAX_STALE_SECONDS]
        if entry.answer is not None:
            keep = TERMINAL_MAX_AGE_SECONDS if entry.answer.terminal else self._ttl + MAX_STALE_SECONDS
            if self._kind is DocumentKind.JOB_LIST:
                keep = max(keep, LAST_KNOWN_LIST_SECONDS)
            ends.append(entry.answer.fetched_at + keep)
        return expires_metadata(max(ends))


def _parse(data: bytes | None, kind: DocumentKind) -> Entry:
    """The stored entry; an empty one for a missing blob and for anything that is not an entry (corrupt, foreign,
    unredacted): ignored here, and replaced by the next write, which is conditional on its ETag."""
    if data is None:
        return Entry()
    try:
        return Entry.from_bytes(data, kind)
    except CorruptEntry:
        return Entry()


def _served(answer: Answer, key: JobKey, source: Source) -> PreparedJob:
    job = answer.job(source)
    if job is None:
        raise answer.error(key[0])
    return job


def _stale_or_raise(error: Exception, now: float, answer: Answer | None, local: PreparedJob | None) -> PreparedJob:
    stale = newest_usable(now, answer.job(Source.STALE) if answer is not None else None, local)
    if isinstance(error, HubBudgetExhausted) and stale is not None:
        return stale.stale(error.retry_after)
    raise error


def default_shared_cache(settings: AppSettings, *, kind: DocumentKind) -> SharedJobCache | None:
    """The shared tier of a route's cache, or None: when SHARED_CACHE_ENABLED is false, and for get_job when
    GET_JOB_REDACT_SAS is false (only redacted documents are stored: with signatures in its answers, each
    instance keeps its own). Lists are always redacted, so always shareable."""
    if not settings.shared_cache.enabled or (kind is DocumentKind.JOB and not settings.proxy.redact_sas):
        return None
    from shared.cache.store import default_shared_store

    return SharedJobCache(
        store=default_shared_store(settings.shared_cache), ttl_seconds=settings.proxy.cache_ttl_seconds,
        retry_budget_seconds=settings.hub.retry_budget_seconds, max_entries=settings.shared_cache.max_entries,
        kind=kind,
    )
