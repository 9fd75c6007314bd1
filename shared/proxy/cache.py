"""Throttle protection for get_job: terminal jobs cached for good, active ones coalesced briefly.

Sync functions run on a thread pool, so one instance is shared by concurrent invocations: every
structure here is guarded by a lock, and callers waiting on the same key share one upstream call.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from shared.errors import CachedFailure, CoalescedWaitTimeout

V = TypeVar("V")


class CacheOutcome(str, Enum):
    MISS = "miss"  # this caller went upstream
    COALESCED = "coalesced"  # waited for another caller's upstream call
    HIT = "hit"  # served from a recent answer (TTL)
    TERMINAL_HIT = "terminal-hit"  # served from the terminal-job cache


@dataclass
class _Flight(Generic[V]):
    done: threading.Event
    value: V | None = None
    error: Exception | None = None
    waiters: int = 0  # callers parked on this flight (under the cache's lock)


class JobCache(Generic[V]):
    """Single-flight with a short TTL for every answer, plus a bounded LRU for final ones.

    `is_final(value)` says an answer never changes (a job in a terminal state). Errors are shared
    with the callers already waiting but, unless `cache_error` says so, not kept for later ones; they
    reach callers as CachedFailure, which says whether this caller made the call (MISS) or not.
    `ttl_of(value)`, if given, caps how long a value is reused: an answer another instance fetched a
    while ago has less of its TTL left.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_final_entries: int,
        is_final: Callable[[V], bool],
        cache_error: Callable[[Exception], bool] = lambda _error: False,
        ttl_of: Callable[[V], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_final = max_final_entries
        self._is_final = is_final
        self._cache_error = cache_error
        self._ttl_of = ttl_of
        self._clock = clock
        self._lock = threading.Lock()
        self._final: OrderedDict[Hashable, V] = OrderedDict()
        self._recent: dict[Hashable, tuple[float, V | None, Exception | None]] = {}
        self._flights: dict[Hashable, _Flight[V]] = {}

    def get(
        self, key: Hashable, fetch: Callable[[], V], *, wait_seconds: float | None = None
    ) -> tuple[V, CacheOutcome]:
        """The value for `key` and how it was come by; raises CachedFailure, or CoalescedWaitTimeout
        when another caller's call outlasts `wait_seconds`."""
        with self._lock:
            if key in self._final:
                self._final.move_to_end(key)
                return self._final[key], CacheOutcome.TERMINAL_HIT
            recent = self._recent.get(key)
            if recent is not None:
                expires, value, error = recent
                if self._clock() < expires:
                    if error is not None:
                        raise CachedFailure(error, CacheOutcome.HIT)
                    return value, CacheOutcome.HIT  # type: ignore[return-value]
                del self._recent[key]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = _Flight(done=threading.Event())
                self._flights[key] = flight
            else:
                flight.waiters += 1
        if not leader:
            try:
                arrived = flight.done.wait(wait_seconds)
            finally:
                with self._lock:
                    flight.waiters -= 1
            if not arrived:
                raise CoalescedWaitTimeout(f"waited {wait_seconds:g}s for a shared upstream call")
            if flight.error is not None:
                raise CachedFailure(flight.error, CacheOutcome.COALESCED)
            return flight.value, CacheOutcome.COALESCED  # type: ignore[return-value]
        try:
            value = fetch()
        except Exception as error:
            self._land(key, flight, None, error)
            raise CachedFailure(error, CacheOutcome.MISS) from error
        except BaseException:
            # Not an answer (interpreter shutdown, a kill): release the waiters with nothing kept.
            self._land(key, flight, None, RuntimeError("the shared upstream call was interrupted"))
            raise
        self._land(key, flight, value, None)
        return value, CacheOutcome.MISS

    def _land(self, key: Hashable, flight: _Flight[V], value: V | None, error: Exception | None) -> None:
        with self._lock:
            flight.value, flight.error = value, error
            del self._flights[key]
            if error is None and value is not None and self._is_final(value) and self._max_final > 0:
                self._final[key] = value
                self._final.move_to_end(key)
                while len(self._final) > self._max_final:
                    self._final.popitem(last=False)
            else:
                ttl = self._ttl
                if error is None and value is not None and self._ttl_of is not None:
                    ttl = min(ttl, self._ttl_of(value))
                if ttl > 0 and (error is None or self._cache_error(error)):
                    self._recent[key] = (self._clock() + ttl, value, error)
                    self._prune()
        flight.done.set()

    def _prune(self) -> None:
        # Keeps the TTL map from growing with ids nobody asks for again.
        if len(self._recent) > max(64, 4 * self._max_final):
            now = self._clock()
            for stale in [k for k, (expires, _v, _e) in self._recent.items() if expires <= now]:
                del self._recent[stale]

    def waiting(self) -> int:
        """Callers parked right now on another caller's upstream call (a diagnostic; tests use it as a gate)."""
        with self._lock:
            return sum(flight.waiters for flight in self._flights.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._final) + len(self._recent)
