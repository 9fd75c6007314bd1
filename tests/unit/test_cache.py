"""The get_job cache: single flight under real threads, TTL, terminal LRU, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.errors import CachedFailure, CoalescedWaitTimeout
from shared.proxy.cache import CacheOutcome, JobCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cache(clock: Clock, *, ttl: float = 2.0, size: int = 3) -> JobCache[str]:
    return JobCache(ttl_seconds=ttl, max_final_entries=size, is_final=lambda v: v.startswith("done"),
                    cache_error=lambda e: isinstance(e, LookupError), clock=clock)


def wait_until(condition: Callable[[], bool], what: str, *, seconds: float = 10.0) -> None:
    """Poll `condition` until it holds (a gate: the wait ends when the state is reached, not after a guess)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.001)


def test_fifty_concurrent_callers_share_one_fetch() -> None:
    """The leader's fetch is held open until the 49 others are parked on it (counted by the cache): then
    every one of them was coalesced, none went upstream and none was served afterwards from the TTL."""
    cache = _cache(Clock())
    release = threading.Event()
    calls = 0

    def fetch() -> str:
        nonlocal calls
        calls += 1
        release.wait(10)
        return "running"

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(cache.get, "job", fetch) for _ in range(50)]
        wait_until(lambda: cache.waiting() == 49 or calls > 1, "49 callers parked on the leader's fetch")
        release.set()
        results = [f.result(timeout=10) for f in futures]
    assert calls == 1
    assert {value for value, _ in results} == {"running"}
    outcomes = [outcome for _, outcome in results]
    assert (outcomes.count(CacheOutcome.MISS), outcomes.count(CacheOutcome.COALESCED)) == (1, 49)
    assert cache.waiting() == 0


def test_active_answers_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = _cache(clock)
    assert cache.get("j", lambda: "running-1") == ("running-1", CacheOutcome.MISS)
    clock.now = 1.9
    assert cache.get("j", lambda: "running-2") == ("running-1", CacheOutcome.HIT)
    clock.now = 2.0
    assert cache.get("j", lambda: "running-2") == ("running-2", CacheOutcome.MISS)


def test_terminal_answers_never_expire_and_the_lru_is_bounded() -> None:
    clock = Clock()
    cache = _cache(clock, size=2)
    cache.get("a", lambda: "done-a")
    cache.get("b", lambda: "done-b")
    clock.now = 10_000
    assert cache.get("a", lambda: "x") == ("done-a", CacheOutcome.TERMINAL_HIT)  # a becomes most recent
    cache.get("c", lambda: "done-c")  # evicts b, the least recently used
    assert cache.get("b", lambda: "done-b2") == ("done-b2", CacheOutcome.MISS)
    assert cache.get("c", lambda: "x") == ("done-c", CacheOutcome.TERMINAL_HIT)
    assert len(cache) == 2


def test_errors_reach_callers_with_their_outcome_and_only_chosen_ones_are_kept() -> None:
    clock = Clock()
    cache = _cache(clock)

    def boom() -> str:
        raise RuntimeError("upstream failed")

    with pytest.raises(CachedFailure) as failed:
        cache.get("j", boom)
    assert isinstance(failed.value.error, RuntimeError) and failed.value.outcome is CacheOutcome.MISS
    assert cache.get("j", lambda: "running") == ("running", CacheOutcome.MISS)  # not kept

    def missing() -> str:
        raise LookupError("no such job")

    with pytest.raises(CachedFailure):
        cache.get("k", missing)
    with pytest.raises(CachedFailure) as kept:
        cache.get("k", lambda: "running")  # kept for the TTL
    assert isinstance(kept.value.error, LookupError) and kept.value.outcome is CacheOutcome.HIT
    clock.now = 5
    assert cache.get("k", lambda: "running") == ("running", CacheOutcome.MISS)


def test_a_waiter_gives_up_after_its_own_budget_and_others_share_the_error() -> None:
    cache = _cache(Clock())
    release, entered = threading.Event(), threading.Event()

    def slow_failure() -> str:
        entered.set()
        release.wait(5)
        raise RuntimeError("upstream failed")

    with ThreadPoolExecutor(max_workers=3) as pool:
        leader = pool.submit(cache.get, "j", slow_failure)
        assert entered.wait(5)  # the leader's call is in flight
        impatient = pool.submit(cache.get, "j", lambda: "never called", wait_seconds=0.05)
        with pytest.raises(CoalescedWaitTimeout):
            impatient.result(timeout=5)  # the leader's call is still held open: it gave up on its own
        assert not leader.done()
        assert cache.waiting() == 0  # the caller who gave up is parked no more
        patient = pool.submit(cache.get, "j", lambda: "never called", wait_seconds=5)
        wait_until(lambda: cache.waiting() == 1, "the patient caller parked on the leader's call")
        release.set()
        with pytest.raises(CachedFailure) as led:
            leader.result(timeout=5)
        with pytest.raises(CachedFailure) as waited:
            patient.result(timeout=5)
    assert led.value.outcome is CacheOutcome.MISS
    assert waited.value.outcome is CacheOutcome.COALESCED
