"""The poller's log events. The values are what docs/poller.md and the alert queries (infra/alerts) look for."""

from __future__ import annotations

from enum import Enum


class PollerEvent(str, Enum):
    """The poller's log events. The values are what docs/poller.md and the alert queries name: keep them."""

    JOB_CHANGED = "poller.job_changed"
    REPORT_WRITTEN = "poller.report_written"
    REPORT_NOT_DELIVERED = "poller.report_not_delivered"
    JOB_STALLED = "poller.job_stalled"
    JOB_SKIPPED = "poller.job_skipped"
    BACKFILLED = "poller.backfilled"
    WRITE_FAILED = "poller.write_failed"
    SAS_REFUSED = "poller.sas_refused"
    INPUT_NOT_COUNTED = "poller.input_not_counted"
    HUB_ANOMALY = "poller.hub_anomaly"
    STATE_RECOVERED = "poller.state_recovered"
    HUB_FAILED = "poller.hub_failed"
    HUB_TIMED_OUT = "poller.hub_timed_out"
    TICK = "poller.tick"
    CADENCE_UNKNOWN = "poller.cadence_unknown"
    HUB_NUDGED = "poller.hub_nudged"
