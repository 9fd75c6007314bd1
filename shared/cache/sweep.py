"""Keeping the shared cache bounded, in age and in count.

Every entry is written with an `expires` metadata value (when it is of no more use, stale serving included). At
most once a minute for the whole app, one instance sweeps: it wins a conditional write of `sweep.json`, lists the
entries, deletes the expired ones and then, if more than SHARED_CACHE_MAX_ENTRIES are left, the least recently
written. Each delete is conditional on the ETag listed, so an entry rewritten meanwhile is kept. Between two
sweeps the cache grows by at most the hubs' call budgets (an entry is written only after a hub call), so the
bound holds within a minute's calls. The sweep runs on a thread of its own, never in a caller's time, and its
outcome is logged by the next caller, on that caller's thread: a line the sweep's thread logged after its
invocation ended would never reach Application Insights (shared/logs.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.cache.store import Listed, SharedStore
from shared.errors import SharedStoreUnavailable
from shared.logs import carried, log_event

logger = logging.getLogger("shared_store")

SWEEP_INTERVAL_SECONDS = 60.0
MARKER = "sweep.json"
EXPIRES = "expires"  # metadata: epoch seconds after which the blob may be deleted
UNKNOWN_KEEP_SECONDS = 24 * 3600.0  # a blob without a readable `expires` (not written by us): a day after writing


@dataclass(frozen=True)
class SweepResult:
    expired: int
    evicted: int
    kept: int


def expires_metadata(moment: float) -> dict[str, str]:
    return {EXPIRES: str(int(moment) + 1)}


class Sweeper:
    def __init__(self, *, store: SharedStore, prefix: str, max_entries: int,
                 interval_seconds: float = SWEEP_INTERVAL_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._prefix = prefix
        self._max_entries = max_entries
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._running = False
        self._next_try = 0.0  # monotonic: this process does not even read the marker before then
        self._finished: list[SweepResult] = []  # sweeps done, not logged yet

    def maybe_sweep(self) -> None:
        """Start a sweep on a thread of its own if none ran in the app for a minute."""
        with self._lock:
            finished, self._finished = self._finished, []
        for result in finished:
            log_event(logger, "shared_cache_swept", expired=result.expired, evicted=result.evicted, kept=result.kept)
        with self._lock:
            if self._running or time.monotonic() < self._next_try:
                return
            self._running, self._next_try = True, time.monotonic() + self._interval
        threading.Thread(target=carried(self._run), name="shared-cache-sweep", daemon=True).start()

    def _run(self) -> None:
        try:
            if self.try_claim():
                result = self.sweep()
                with self._lock:
                    self._finished.append(result)
        except SharedStoreUnavailable:
            pass  # the store's circuit logged it; the next write tries again after the interval
        finally:
            with self._lock:
                self._running = False

    def try_claim(self) -> bool:
        """Win this minute's sweep for the whole app: a write of the marker conditional on the ETag read."""
        blob = self._store.read(MARKER)
        now = self._clock()
        try:
            last = float(json.loads(blob.data or b"{}").get("lastSweep", 0.0))
        except (ValueError, AttributeError, TypeError):
            last = 0.0
        if 0.0 <= now - last < self._interval:
            return False
        data = json.dumps({"v": 1, "lastSweep": now}).encode()
        return self._store.write(MARKER, data, etag=blob.etag) is not None

    def sweep(self) -> SweepResult:
        now = self._clock()
        listed = self._store.listing(self._prefix)
        expired = [blob for blob in listed if _expires(blob) <= now]
        removed = sum(self._store.delete(blob.name, etag=blob.etag) for blob in expired)
        left = sorted((blob for blob in listed if _expires(blob) > now), key=lambda blob: blob.last_modified)
        excess = left[: max(0, len(left) - self._max_entries)]
        evicted = sum(self._store.delete(blob.name, etag=blob.etag) for blob in excess)
        return SweepResult(expired=removed, evicted=evicted, kept=len(left) - evicted)


def _expires(blob: Listed) -> float:
    try:
        moment = float(blob.metadata[EXPIRES])
    except (KeyError, ValueError):
        moment = float("nan")
    if moment != moment or moment in (float("inf"), float("-inf")):  # not a time: not one of ours
        return blob.last_modified.timestamp() + UNKNOWN_KEEP_SECONDS
    return moment
