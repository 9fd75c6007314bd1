"""The cadence's pure core (shared/poller/cadence.py): which hubs a tick lists, from the shared record."""

from __future__ import annotations

import itertools
import json

import pytest

from shared.poller.cadence import (
    CadenceRecord,
    CadenceSettings,
    Due,
    HubCadence,
    Listing,
    claimed,
    due_hubs,
    due_reason,
    finished,
    nudged,
)

SETTINGS = CadenceSettings(idle_seconds=300, recent_seconds=300, schedule_seconds=30)
T0 = 1_800_000_000.0


def run(record: CadenceRecord, now: float, found: dict[str, Listing], hubs: tuple[str, ...] = ("a",),
        settings: CadenceSettings = SETTINGS) -> tuple[CadenceRecord, dict[str, Due]]:
    """One tick: decide, claim, list (what `found` says each listed hub showed), finish."""
    due = due_hubs(record, hubs, now=now, settings=settings)
    record = claimed(record, due, now=now)
    return finished(record, {hub: found.get(hub, Listing(ok=True)) for hub in due}, looked=now), due


@pytest.mark.parametrize("jitter", [0.0, 0.4, -0.4, 2.0])
def test_an_idle_hub_is_listed_twelve_times_an_hour_on_a_thirty_second_timer(jitter: float) -> None:
    record, listed = CadenceRecord(), []
    for n in range(120 * 3):  # three hours of ticks every 30 s, each a little late or early
        now = T0 + 30 * n + (jitter if n % 2 else 0.0)
        record, due = run(record, now, {})
        listed += [now] if due else []
    assert len(listed) == 36
    # Every tenth tick, never the ninth or the eleventh.
    gaps = {round(b - a) for a, b in itertools.pairwise(listed)}
    assert gaps <= {300 - 1, 300, 300 + 1, 302, 298}


def test_a_busy_hub_is_listed_on_every_tick_until_its_job_ended_the_recent_window_ago() -> None:
    record, _ = run(CadenceRecord(), T0, {})  # first look: idle
    record, due = run(record, T0 + 30, {})
    assert due == {}
    record = nudged(record, "a", now=T0 + 40) or record
    record, due = run(record, T0 + 60, {"a": Listing(ok=True, active=True)})
    assert due == {"a": Due.NUDGED}
    reasons = []
    for n in range(3, 20):  # active until T0 + 150, then finished and written
        record, due = run(record, T0 + 30 * n, {"a": Listing(ok=True, active=n <= 5)})
        reasons.append(due.get("a"))
    # Busy after each look that found the job active (the last at T0 + 150); then recent for 300 s from that
    # look (T0 + 210 .. T0 + 420); then idle, last looked at T0 + 420.
    assert reasons[:4] == [Due.BUSY] * 4
    assert reasons[4:12] == [Due.RECENT] * 8
    assert reasons[12:] == [None] * 5


def test_pending_work_keeps_a_hub_due_for_the_recent_window_then_at_its_idle_interval() -> None:
    settings = CadenceSettings(idle_seconds=300, recent_seconds=120, schedule_seconds=30)
    record, _ = run(CadenceRecord(), T0, {"a": Listing(ok=True, pending=True)})
    assert record.of("a").pending_since == T0
    due = [due_reason(record.of("a"), now=T0 + s, settings=settings) for s in (30, 119, 121, 284, 285)]
    assert due == [Due.BUSY, Due.BUSY, None, None, Due.IDLE]
    record, _ = run(record, T0 + 30, {"a": Listing(ok=True, pending=True)})
    assert record.of("a").pending_since == T0  # the first of the looks in a row
    record, _ = run(record, T0 + 60, {"a": Listing(ok=True)})
    assert record.of("a").pending_since is None


def test_a_failed_listing_is_tried_on_the_next_tick_and_a_new_hub_at_once() -> None:
    record, due = run(CadenceRecord(), T0, {"a": Listing(ok=False)}, hubs=("a", "b"))
    assert due == {"a": Due.NEW, "b": Due.NEW}
    record, due = run(record, T0 + 30, {}, hubs=("a", "b", "c"))
    assert due == {"a": Due.FAILED, "c": Due.NEW}
    record, due = run(record, T0 + 60, {}, hubs=("a", "b", "c"))
    assert due == {}


def test_an_overlapping_tick_leaves_an_idle_hub_another_tick_claimed() -> None:
    record, _ = run(CadenceRecord(), T0, {})
    first = due_hubs(record, ["a"], now=T0 + 300, settings=SETTINGS)
    record = claimed(record, first, now=T0 + 300)
    # The second tick reads the record with the first one's claim: the idle hub is not due for it.
    assert first == {"a": Due.IDLE}
    assert due_hubs(record, ["a"], now=T0 + 301, settings=SETTINGS) == {}


def test_a_nudge_is_written_only_for_a_hub_not_due_anyway_and_is_taken_by_the_next_look() -> None:
    assert nudged(CadenceRecord(), "a", now=T0) is None  # never listed: due anyway
    record, _ = run(CadenceRecord(), T0, {})
    nudge = nudged(record, "A", now=T0 + 10)
    assert nudge is not None and nudge.of("a").nudged == T0 + 10
    assert nudged(nudge, "a", now=T0 + 11) is None  # nudged since the last look already
    assert due_reason(nudge.of("a"), now=T0 + 30, settings=SETTINGS) is Due.NUDGED
    after, due = run(nudge, T0 + 30, {"a": Listing(ok=True, active=True)})
    assert due == {"a": Due.NUDGED}
    assert nudged(after, "a", now=T0 + 40) is None  # busy: due on every tick anyway
    # A nudge from an instance whose clock is behind the claim still counts (it is taken at the claim's time).
    behind = nudged(record, "a", now=T0 - 100)
    assert behind is not None and due_reason(behind.of("a"), now=T0 + 30, settings=SETTINGS) is Due.NUDGED


def test_a_nudge_that_lands_while_a_tick_lists_the_hub_stays_due() -> None:
    record, _ = run(CadenceRecord(), T0, {})
    record = claimed(record, {"a": Due.IDLE}, now=T0 + 300)
    record = nudged(record, "a", now=T0 + 301) or record
    record = finished(record, {"a": Listing(ok=True)}, looked=T0 + 300)  # the list was taken before the job
    assert due_reason(record.of("a"), now=T0 + 330, settings=SETTINGS) is Due.NUDGED


def test_an_older_tick_finishing_late_never_moves_the_last_active_look_back() -> None:
    record = finished(CadenceRecord(), {"a": Listing(ok=True, active=True)}, looked=T0 + 60)
    record = finished(record, {"a": Listing(ok=True, active=True)}, looked=T0)
    assert record.of("a").active_seen == T0 + 60


def test_the_cadence_off_lists_every_hub_on_every_tick() -> None:
    off = CadenceSettings(idle_seconds=0, recent_seconds=0, schedule_seconds=30)
    record, _ = run(CadenceRecord(), T0, {})
    assert due_hubs(record, ["a"], now=T0 + 1, settings=off) == {"a": Due.IDLE}


def test_a_clock_behind_the_last_look_makes_the_hub_due_rather_than_silent() -> None:
    record, _ = run(CadenceRecord(), T0, {})
    assert due_reason(record.of("a"), now=T0 - 3600, settings=SETTINGS) is Due.IDLE


def test_the_record_round_trips_and_a_hostile_one_reads_as_empty() -> None:
    record = CadenceRecord({"a": HubCadence(looked=T0, active_seen=T0 - 5, active=True, pending_since=T0,
                                            failed=True, nudged=T0 + 1)})
    assert CadenceRecord.from_bytes(record.to_bytes()) == record
    for data in (None, b"", b"[]", b"{", b'{"v":2,"hubs":{}}', b'{"v":1,"hubs":[]}',
                 json.dumps({"v": 1, "hubs": {f"h{n}": {} for n in range(1001)}}).encode(), b" " * (300 * 1024)):
        assert CadenceRecord.from_bytes(data) == CadenceRecord()
    # Times that are not times are dropped: the hub is new again (listed), never skipped for ever.
    odd = CadenceRecord.from_bytes(b'{"v":1,"hubs":{"A":{"looked":NaN,"active":"yes","nudged":true}}}')
    assert odd.of("a") == HubCadence()
    assert due_reason(odd.of("a"), now=T0, settings=SETTINGS) is Due.NEW
    big = CadenceRecord.from_bytes(b'{"v":1,"hubs":{"a":{"looked":1e999}}}')
    assert big.of("a").looked is None
