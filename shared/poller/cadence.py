"""The poller's cadence (pure): which hubs a tick lists, from one record every instance shares.

The timer runs often (POLL_SCHEDULE, every 30 s by default); a tick lists only the hubs that are due:
- a hub never listed, or whose last listing failed;
- a hub busy at its last listing (an active job, or work the poller still has to write), and one whose last
  active job was seen less than MONITOR_RECENT_END_MINUTES ago, until its report is written;
- a hub nudged since its last look: get_job or GET /api/jobs answered with an active job while the record said
  the hub was idle (shared/poller/cadence_store.py's nudge);
- any other (idle) hub once MONITOR_IDLE_LIST_SECONDS have passed since its last look.

A tick claims what it lists by writing `looked` (ETag-conditional, cadence_store.py): an overlapping tick, or
one on another instance, then finds an idle hub looked at and leaves it, so an idle hub costs one list call per
idle interval however many ticks run. Busy hubs are due on every tick, overlapping ones included: exactly once
is the state's guarantee (core.py), not the cadence's. Times are seconds since the epoch, by the poller's clock.
No I/O: tests/unit exercises it directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

RECORD_VERSION = 1
# A tick may start a little before the exact idle interval has passed (the timer's own jitter): up to half a
# schedule interval early still counts, so an idle hub is listed every Nth run, not every (N+1)th.
EARLY_SHARE = 0.5
EARLY_SECONDS_IRREGULAR = 1.0  # the slack when the schedule has no regular interval
MAX_HUBS = 1000  # a record naming more hubs than any settings can is not ours: read as empty
MAX_RECORD_BYTES = 256 * 1024


class Due(str, Enum):
    """Why a hub is listed this tick (the tick's log line counts them)."""

    NEW = "new"  # never listed, or the record was lost
    FAILED = "failed"  # its last listing failed: tried again on the next tick
    BUSY = "busy"  # an active job, or work to write, at its last listing
    RECENT = "recent"  # an active job was seen within the recently-ended window
    NUDGED = "nudged"  # get_job or the list route saw an active job since the last look
    IDLE = "idle"  # idle, and its idle interval has passed
    UNKNOWN = "unknown"  # the shared record could not be read: every hub is listed (never miss a job)
    EVERY = "every"  # the cadence is off (MONITOR_IDLE_LIST_SECONDS=0): every hub on every run


@dataclass(frozen=True, kw_only=True)
class CadenceSettings:
    idle_seconds: float  # MONITOR_IDLE_LIST_SECONDS; 0: every hub on every tick
    recent_seconds: float  # MONITOR_RECENT_END_MINUTES, in seconds
    schedule_seconds: float | None  # the timer's interval (None: irregular)

    @property
    def early_seconds(self) -> float:
        if self.schedule_seconds is None:
            return EARLY_SECONDS_IRREGULAR
        return EARLY_SHARE * self.schedule_seconds


@dataclass(frozen=True, kw_only=True)
class HubCadence:
    looked: float | None = None  # when a tick last claimed the hub (its start)
    active_seen: float | None = None  # the last look that found an active job
    active: bool = False  # the last finished listing found an active job
    pending_since: float | None = None  # the first of the looks in a row that left work pending (None: none left)
    failed: bool = False  # the last listing failed
    nudged: float | None = None  # the last nudge (an active job seen by get_job or the list route)

    @property
    def busy(self) -> bool:
        return self.active or self.pending_since is not None

    def to_json(self) -> dict[str, Any]:
        raw = {"looked": self.looked, "activeSeen": self.active_seen, "active": self.active,
               "pendingSince": self.pending_since, "failed": self.failed, "nudged": self.nudged}
        return {key: value for key, value in raw.items() if value is not None and value is not False}

    @classmethod
    def from_json(cls, raw: Any) -> HubCadence:
        if not isinstance(raw, dict):
            return cls()
        return cls(looked=_time(raw.get("looked")), active_seen=_time(raw.get("activeSeen")),
                   active=raw.get("active") is True, pending_since=_time(raw.get("pendingSince")),
                   failed=raw.get("failed") is True, nudged=_time(raw.get("nudged")))


def _time(value: Any) -> float | None:
    # bool is an int: never a time. NaN and infinities are not times either.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class CadenceRecord:
    """Every hub's cadence, by lower-cased hub name (`cadence.json` in the poller's state container)."""

    hubs: Mapping[str, HubCadence] = field(default_factory=dict)

    def of(self, hub: str) -> HubCadence:
        return self.hubs.get(hub.lower(), HubCadence())

    def with_hub(self, hub: str, cadence: HubCadence) -> CadenceRecord:
        return CadenceRecord({**self.hubs, hub.lower(): cadence})

    def to_bytes(self) -> bytes:
        body = {"v": RECORD_VERSION, "hubs": {hub: c.to_json() for hub, c in sorted(self.hubs.items())}}
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> CadenceRecord:
        """The stored record; an empty one (every hub due as new) for a missing, oversized or unreadable blob."""
        if not data or len(data) > MAX_RECORD_BYTES:
            return cls()
        try:
            raw = json.loads(data)
        except ValueError:
            return cls()
        if not isinstance(raw, dict) or raw.get("v") != RECORD_VERSION or not isinstance(raw.get("hubs"), dict):
            return cls()
        hubs = raw["hubs"]
        if len(hubs) > MAX_HUBS:
            return cls()
        return cls({str(hub).lower(): HubCadence.from_json(value) for hub, value in hubs.items()})


def due_reason(cadence: HubCadence, *, now: float, settings: CadenceSettings) -> Due | None:
    """Why the hub is due now, or None if a tick leaves it this time."""
    if cadence.looked is None:
        return Due.NEW
    if cadence.failed:
        return Due.FAILED
    if cadence.nudged is not None and cadence.nudged >= cadence.looked:
        return Due.NUDGED
    if cadence.active:
        return Due.BUSY
    # Work left to write (a report not yet written, a snapshot refused) keeps the hub on every tick for the
    # recently-ended window; past it, the idle interval retries it (a delivery in backoff needs no more).
    if cadence.pending_since is not None and now - cadence.pending_since < settings.recent_seconds:
        return Due.BUSY
    if cadence.active_seen is not None and now - cadence.active_seen < settings.recent_seconds:
        return Due.RECENT
    # A clock that went back (another instance's) makes the hub due rather than silent for long.
    since = now - cadence.looked
    if since < 0 or since >= settings.idle_seconds - settings.early_seconds:
        return Due.IDLE
    return None


def due_hubs(record: CadenceRecord, hubs: Iterable[str], *, now: float,
             settings: CadenceSettings) -> dict[str, Due]:
    """The hubs (of `hubs`) due now, with why."""
    due = {}
    for hub in hubs:
        reason = due_reason(record.of(hub), now=now, settings=settings)
        if reason is not None:
            due[hub] = reason
    return due


# Hubs due on every run anyway: a tick whose due hubs are all of these needs no claim (an overlapping tick lists
# them too), and stamps their look when it finishes.
UNCLAIMED = frozenset({Due.BUSY, Due.RECENT})


def needs_claim(due: Mapping[str, Due]) -> bool:
    return any(reason not in UNCLAIMED for reason in due.values())


def claimed(record: CadenceRecord, due: Iterable[str], *, now: float) -> CadenceRecord:
    """The record with `due` looked at now (the claim a tick writes before it lists them)."""
    hubs = dict(record.hubs)
    for hub in due:
        hubs[hub.lower()] = replace(record.of(hub), looked=now)
    return CadenceRecord(hubs)


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What one hub's listing of this tick found (HubOutcome's summary)."""

    ok: bool
    active: bool = False  # an active (not finished) job was listed
    pending: bool = False  # work is left to write (a snapshot, latest.json or a report not yet written)


def finished(record: CadenceRecord, listings: Mapping[str, Listing], *, looked: float) -> CadenceRecord:
    """The record with what this tick's listings (claimed, or started, at `looked`) found. A nudge is kept: one
    newer than the look stays due; a later look takes it."""
    hubs = dict(record.hubs)
    for hub, listing in listings.items():
        before = record.of(hub)
        if not listing.ok:
            hubs[hub.lower()] = replace(before, failed=True)
            continue
        pending_since = (before.pending_since or looked) if listing.pending else None
        active_seen = looked if listing.active else before.active_seen
        if before.active_seen is not None and active_seen is not None:
            active_seen = max(before.active_seen, active_seen)  # a slower, older tick never moves it back
        stamped = looked if before.looked is None else max(before.looked, looked)
        hubs[hub.lower()] = replace(before, looked=stamped, failed=False, active=listing.active,
                                    pending_since=pending_since, active_seen=active_seen)
    return CadenceRecord(hubs)


def nudged(record: CadenceRecord, hub: str, *, now: float) -> CadenceRecord | None:
    """The record with the hub nudged now; None when no nudge is needed: the hub stays due until its next
    listing anyway (never listed, failing, an active job at its last listing, or nudged since its last look).
    A hub due only for a while (recently active, work pending, its idle interval) is nudged: the next tick may
    come after that while."""
    cadence = record.of(hub)
    if cadence.looked is None or cadence.failed or cadence.active:
        return None
    if cadence.nudged is not None and cadence.nudged >= cadence.looked:
        return None
    return record.with_hub(hub, replace(cadence, nudged=max(now, cadence.looked)))
