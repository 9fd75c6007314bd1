"""What a tick did: each hub's outcome (listed, changed, written, failed and why) and the tick's own summary,
which the timer logs and the tests, the soak and the cadence read."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.poller.cadence import Listing


@dataclass(kw_only=True)
class HubOutcome:
    hub: str
    ok: bool = False
    error: str | None = None
    jobs_listed: int = 0
    changes: int = 0
    snapshots_written: int = 0
    latest_written: int = 0
    reports_written: int = 0
    write_failures: int = 0
    claim_conflicts: int = 0
    timed_out: bool = False
    throttled: bool = False  # skipped for this tick: the hub (or the call budget) asked to wait past its budget
    due: str = ""  # why the cadence listed it this tick (shared/poller/cadence.py's Due)
    active: bool = False  # an active job was listed
    pending: bool = False  # work is left for a later tick

    def listing(self) -> Listing:
        return Listing(ok=self.ok, active=self.active, pending=self.pending)


@dataclass(kw_only=True)
class TickResult:
    hubs: dict[str, HubOutcome] = field(default_factory=dict)
    duration_ms: float = 0.0
    budget_seconds: float = 0.0  # the tick's budget (shared/poller/budget.py)
    idle: list[str] = field(default_factory=list)  # hubs the cadence left for a later tick (not listed)

    @property
    def all_failed(self) -> bool:
        return bool(self.hubs) and not any(o.ok for o in self.hubs.values())
