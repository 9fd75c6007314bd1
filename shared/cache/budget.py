"""The hubs' call budget (IOTHUB_CALLS_PER_MINUTE), kept by the app as a whole: every instance, get_job and the
poller alike, since the HubClient asks it before every request it sends to a hub, retries included.

The algorithm is a sliding-window log. Per hub, one blob (`budget/{hub}.json` in the shared container) lists when
each call granted in the last minute stops counting: its grant time + 60 s + HOLD_SECONDS (the longest a granted
call may take to leave). A call may go when fewer calls than the budget are listed and the hub has not asked
everyone to wait (`pausedUntil`, from a 429's Retry-After). Granting writes the list with the new call added,
conditional on the ETag that was read, so two instances never both take the last call: in any 60 s the hub sees
at most the budget from this app, however many instances there are. The budget is only consulted for calls that
really go to the hub, so a grant costs one conditional write (the last list and its ETag are kept, and a refusal
read from them needs no call at all: the list only ever grows between two reads).

While storage is unavailable (shared/cache/health.py), each instance keeps the count on its own, starting from
the last list it saw: the budget then holds per instance only, and the hub's own throttle is the backstop.

Grants ahead (the poller's list calls, `reserve_next`): a caller that will call the hub again within `reserve_next`
seconds has its next call granted now, on a worker, while this call goes: the grant's entry in the log stops
counting `reserve_next` + 61 s from now, so it counts for a full minute after the latest moment it may be used, and
the budget is not weakened. The next call then takes the reserved grant without a storage write on its path; one
not used in time is dropped (its entry still counts: conservative). A reserved call sees a 429's pause known to
this instance; a pause another instance wrote since the reservation is learned by the next write (at most one
call per hub and instance goes during it; the hub's own 429 answers it).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from shared.cache.store import SharedStore, default_shared_store
from shared.errors import HubBudgetExhausted, SharedStoreUnavailable
from shared.logs import carried
from shared.settings import HubClientSettings

WINDOW_SECONDS = 60.0
HOLD_SECONDS = 1.0
# Rounds of read and conditional write before a grant gives up for now (other instances kept winning).
MAX_ROUNDS = 4
CONTENDED_WAIT_SECONDS = 0.2
LOG_VERSION = 1
RESERVE_WORKERS = 4  # grants ahead written at once, off the callers' paths


@dataclass(frozen=True)
class BudgetLog:
    """One hub's calls of the last minute, as the times they stop counting (sorted), and the hub's pause."""

    ends: tuple[float, ...] = ()
    paused_until: float = 0.0

    def wait(self, now: float, limit: int) -> float:
        """0 if a call may go now, else the seconds until one may."""
        first = bisect.bisect_right(self.ends, now)  # the first call still counting
        live = len(self.ends) - first
        wait = max(0.0, self.paused_until - now)
        if live >= limit:
            wait = max(wait, self.ends[first + live - limit] - now)
        return wait

    def granted(self, now: float, *, ahead: float = 0.0) -> BudgetLog:
        """With a call granted now; `ahead` > 0: a call that may go any time in the next `ahead` seconds (it
        counts until a full window after the last of them)."""
        first = bisect.bisect_right(self.ends, now)
        end = now + ahead + WINDOW_SECONDS + HOLD_SECONDS
        live = list(self.ends[first:])
        if live and ahead <= 0:
            end = max(end, live[-1])  # kept sorted should the clock step back
        bisect.insort(live, end)
        return replace(self, ends=tuple(live))

    def paused(self, until: float) -> BudgetLog:
        return replace(self, paused_until=max(self.paused_until, until))

    def merged(self, other: BudgetLog, now: float) -> BudgetLog:
        """Both lists' live calls (the app's, as last read, and this instance's own since)."""
        ends = sorted({end for end in (*self.ends, *other.ends) if end > now})
        return BudgetLog(ends=tuple(ends), paused_until=max(self.paused_until, other.paused_until))

    def to_bytes(self) -> bytes:
        return json.dumps({"v": LOG_VERSION, "ends": [round(end, 3) for end in self.ends],
                           "pausedUntil": round(self.paused_until, 3)}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> BudgetLog:
        """The stored log; an empty one for a missing or unreadable blob (which is then replaced)."""
        if not data:
            return cls()
        try:
            raw = json.loads(data)
            ends = tuple(sorted(float(end) for end in raw["ends"]))
            paused = float(raw.get("pausedUntil", 0.0))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()
        if raw.get("v") != LOG_VERSION or not all(end == end for end in (*ends, paused)):  # NaN is not a time
            return cls()
        return cls(ends=ends, paused_until=paused)


class CallBudget:
    """Per instance: every hub's log in this process."""

    def __init__(self, limit_for: Callable[[str], int], *, clock: Callable[[], float] = time.time) -> None:
        self._limit_for = limit_for
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, BudgetLog] = {}
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret
        self._reserved: dict[str, float] = {}  # hub -> until when its grant ahead may be used (this clock)
        self._reserving: set[str] = set()
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None

    def acquire(self, hub: str, *, wait_seconds: float, sleep: Callable[[float], None] = time.sleep,
                reserve_next: float = 0.0) -> None:
        """Take one call to `hub`, waiting up to `wait_seconds` for one to come free; else HubBudgetExhausted
        (nothing is sent), whose `retry_after` says when to come back. `reserve_next` > 0: the caller calls again
        within that many seconds; its next call is granted ahead, on a worker (see the module's docstring)."""
        key = hub.lower()
        if reserve_next > 0 and self._use_reserved(key):
            self._reserve(key, reserve_next)
            return
        give_up = time.monotonic() + max(0.0, wait_seconds)
        while True:
            wait = self._take(key)
            if wait <= 0:
                if reserve_next > 0:
                    self._reserve(key, reserve_next)
                return
            if wait > give_up - time.monotonic():
                raise HubBudgetExhausted(
                    "the app's call budget for the hub is spent for now (IOTHUB_CALLS_PER_MINUTE)", hub=hub,
                    retry_after=wait, error_code="CallBudgetExhausted", attempts=0,
                )
            sleep(wait + self._rng.uniform(0, 0.05))  # a little jitter: waiting instances do not return at once

    def pause(self, hub: str, seconds: float) -> None:
        """The hub answered 429 asking to wait `seconds`: no instance calls it before then."""
        until = self._clock() + seconds
        with self._lock:
            self._logs[hub.lower()] = self._logs.get(hub.lower(), BudgetLog()).paused(until)

    def reserved(self, hub: str) -> bool:
        """Does this instance hold a grant ahead for `hub`, usable now?"""
        with self._lock:
            return self._reserved.get(hub.lower(), 0.0) > self._clock()

    def _use_reserved(self, hub: str) -> bool:
        now = self._clock()
        with self._lock:
            until = self._reserved.pop(hub, 0.0)
            return until > now and self._logs.get(hub, BudgetLog()).paused_until <= now

    def _reserve(self, hub: str, ahead: float) -> None:
        """Grant the hub's next call ahead, on a worker: the caller's call goes meanwhile."""
        with self._lock:
            if hub in self._reserving or self._reserved.get(hub, 0.0) > self._clock():
                return
            self._reserving.add(hub)
            if self._workers is None:
                self._workers = concurrent.futures.ThreadPoolExecutor(RESERVE_WORKERS,
                                                                      thread_name_prefix="budget-ahead")
            workers = self._workers
        workers.submit(carried(self._reserve_now), hub, ahead)

    def _reserve_now(self, hub: str, ahead: float) -> None:
        try:
            now = self._clock()
            if self._take(hub, ahead=ahead) <= 0:
                with self._lock:
                    self._reserved[hub] = now + ahead
        finally:
            with self._lock:
                self._reserving.discard(hub)

    def _take(self, hub: str, *, ahead: float = 0.0) -> float:
        return self._take_locally(hub, ahead=ahead)

    def _take_locally(self, hub: str, *, ahead: float = 0.0) -> float:
        now = self._clock()
        with self._lock:
            log = self._logs.get(hub, BudgetLog())
            wait = log.wait(now, self._limit_for(hub))
            if wait <= 0:
                self._logs[hub] = log.granted(now, ahead=ahead)
            return wait

    def _adopt(self, hub: str, log: BudgetLog) -> None:
        """The app's log as last read: what this instance counts from if storage fails."""
        now = self._clock()
        with self._lock:
            self._logs[hub] = self._logs.get(hub, BudgetLog()).merged(log, now)


class SharedBudget(CallBudget):
    """The budget kept in the shared store; per instance (CallBudget) while the store is unavailable."""

    def __init__(self, limit_for: Callable[[str], int], *, store: SharedStore,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(limit_for, clock=clock)
        self._store = store
        self._seen: dict[str, tuple[BudgetLog, str | None]] = {}  # hub -> the log and ETag last read or written
        self._seen_lock = threading.Lock()

    @staticmethod
    def blob_name(hub: str) -> str:
        return f"budget/{hub.lower()}.json"

    def pause(self, hub: str, seconds: float) -> None:
        super().pause(hub, seconds)
        until = self._clock() + seconds
        # Without storage this instance pauses anyway; the others learn it from their own 429.
        with contextlib.suppress(SharedStoreUnavailable):
            self._update(hub.lower(), lambda log, _now: (log.paused(until), 0.0), force=True)

    def _take(self, hub: str, *, ahead: float = 0.0) -> float:
        limit = self._limit_for(hub)

        def grant(log: BudgetLog, now: float) -> tuple[BudgetLog | None, float]:
            wait = log.wait(now, limit)
            return (log.granted(now, ahead=ahead), 0.0) if wait <= 0 else (None, wait)

        if self._store.available:
            try:
                return self._update(hub, grant, force=False)
            except SharedStoreUnavailable:
                pass
        return self._take_locally(hub, ahead=ahead)

    def _update(self, hub: str, change: Callable[[BudgetLog, float], tuple[BudgetLog | None, float]],
                *, force: bool) -> float:
        """Apply `change` to the stored log with a conditional write; its wait if it writes nothing."""
        name = self.blob_name(hub)
        with self._seen_lock:
            seen = self._seen.get(hub)
        for _ in range(MAX_ROUNDS):
            if seen is None or force:
                blob = self._store.read(name)
                seen, force = (BudgetLog.from_bytes(blob.data), blob.etag), False
            log, etag = seen
            now = self._clock()
            new, wait = change(log, now)
            if new is None:
                # Refused by the log last seen: the stored one can only hold more calls since (nobody removes
                # a call before it stops counting), so the refusal stands without reading it again.
                self._adopt(hub, log)
                return wait
            new_etag = self._store.write(name, new.to_bytes(), etag=etag)
            if new_etag is not None:
                with self._seen_lock:
                    self._seen[hub] = (new, new_etag)
                self._adopt(hub, new)
                return 0.0
            seen = None  # another instance wrote first: read again
        with self._seen_lock:
            self._seen.pop(hub, None)
        return CONTENDED_WAIT_SECONDS


def default_call_budget(settings: HubClientSettings) -> CallBudget:
    """The budget the process's HubClient keeps: shared through AzureWebJobsStorage unless SHARED_CACHE_ENABLED
    is false."""
    shared = settings.shared_cache
    if shared is not None and shared.enabled:
        return SharedBudget(settings.calls_per_minute_for, store=default_shared_store(shared))
    return CallBudget(settings.calls_per_minute_for)
