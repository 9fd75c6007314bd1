"""The get_job cache's bounds, on a clock the test moves: how long an answer is reused (its own TTL, or less when
`ttl_of` says so), when a terminal answer is kept for good and when only for the TTL, what an interrupted fetch
leaves behind, and when the TTL map is pruned. No threads: test_cache.py covers the single flight."""

from __future__ import annotations

import pytest

from shared.proxy.cache import CacheOutcome, JobCache
from tests.unit.test_cache import Clock

TTL = 2.0


def cache_of(clock: Clock, *, size: int = 3, ttl: float = TTL, ttl_of: float | None = None) -> JobCache[str]:
    return JobCache(ttl_seconds=ttl, max_final_entries=size, is_final=lambda v: v.startswith("done"),
                    ttl_of=None if ttl_of is None else (lambda _value: ttl_of), clock=clock)


def outcome(cache: JobCache[str], key: str, value: str = "running") -> CacheOutcome:
    return cache.get(key, lambda: value)[1]


def test_an_answer_with_less_ttl_left_is_reused_only_that_long() -> None:
    clock = Clock()
    cache = cache_of(clock, ttl=10, ttl_of=0.5)
    assert outcome(cache, "j") is CacheOutcome.MISS
    clock.now = 0.49
    assert outcome(cache, "j") is CacheOutcome.HIT
    clock.now = 0.5
    assert outcome(cache, "j") is CacheOutcome.MISS


def test_ttl_of_never_lengthens_the_ttl() -> None:
    clock = Clock()
    cache = cache_of(clock, ttl=TTL, ttl_of=60)
    outcome(cache, "j")
    clock.now = TTL
    assert outcome(cache, "j") is CacheOutcome.MISS


def test_a_ttl_under_a_second_still_coalesces_callers_for_that_long() -> None:
    clock = Clock()
    cache = cache_of(clock, ttl=0.5)
    outcome(cache, "j")
    clock.now = 0.25
    assert outcome(cache, "j") is CacheOutcome.HIT


def test_with_no_room_for_terminal_answers_they_are_reused_for_the_ttl_only() -> None:
    clock = Clock()
    cache = cache_of(clock, size=0)
    assert outcome(cache, "j", "done") is CacheOutcome.MISS
    clock.now = TTL / 2
    assert outcome(cache, "j", "done") is CacheOutcome.HIT
    clock.now = TTL
    assert outcome(cache, "j", "done") is CacheOutcome.MISS


def test_one_slot_keeps_one_terminal_answer_for_good() -> None:
    clock = Clock()
    cache = cache_of(clock, size=1)
    outcome(cache, "j", "done")
    clock.now = 1e6
    assert outcome(cache, "j", "done") is CacheOutcome.TERMINAL_HIT


def test_an_interrupted_fetch_keeps_nothing_and_the_next_caller_fetches_again() -> None:
    cache = cache_of(Clock())

    def interrupted() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.get("j", interrupted)
    assert len(cache) == 0
    assert outcome(cache, "j") is CacheOutcome.MISS


def test_the_size_counts_terminal_and_recent_answers() -> None:
    cache = cache_of(Clock())
    outcome(cache, "a", "done")
    outcome(cache, "b")
    outcome(cache, "c")
    assert len(cache) == 3


@pytest.mark.parametrize(("size", "threshold"), [(3, 64), (20, 80)])
def test_the_ttl_map_is_pruned_of_expired_answers_once_it_passes_its_bound(size: int, threshold: int) -> None:
    """The bound is max(64, 4 x the terminal cache's size); expired answers go when one more lands past it."""
    clock = Clock()
    cache = cache_of(clock, size=size)
    for n in range(threshold - 1):
        outcome(cache, f"old-{n}")
    clock.now = TTL  # every answer so far has expired (expiry is at TTL exactly)
    outcome(cache, "at-the-bound")
    assert len(cache) == threshold  # not past the bound: nothing pruned
    outcome(cache, "past-the-bound")
    assert len(cache) == 2  # the two fresh answers


def test_ttl_of_is_asked_about_the_answer_itself() -> None:
    clock = Clock()
    cache: JobCache[str] = JobCache(ttl_seconds=10, max_final_entries=3, is_final=lambda v: False,
                                    ttl_of=lambda value: 0.5 if value == "stale" else 60, clock=clock)
    cache.get("a", lambda: "stale")
    cache.get("b", lambda: "fresh")
    clock.now = 1
    assert cache.get("a", lambda: "stale")[1] is CacheOutcome.MISS
    assert cache.get("b", lambda: "fresh")[1] is CacheOutcome.HIT
