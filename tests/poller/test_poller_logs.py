"""The poller's log lines: the tick's summary counters, and event and state names as the docs and alerts use them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from shared.jobs import JobStatus
from shared.poller.events import PollerEvent
from shared.poller.state import JobRecord, ReportState
from tests.support.poller import (
    PollerEnv,
    container_sas_uri,
    events,
    new_container,
)


def test_tick_line_carries_every_outcome_counter(env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    """(c) jobs_listed, latest_written and claim_conflicts were counted but never read: the tick line has them."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    poller = env.poller()
    poller.tick()
    env.hubsim.control("devhub").seed_jobs([{"jobId": "counted", "type": "export", "status": "running",
                                             "progress": 5,
                                             "outputBlobContainerUri": container_sas_uri(env.azurite, container)}])
    poller.tick()
    line = events(caplog, "poller.tick")[-1]
    assert (line["jobsListed"], line["changes"], line["snapshots"], line["latestWritten"], line["claimConflicts"]) == (
        1, 1, 1, 1, 0)


def test_state_enums_round_trip_as_the_same_strings() -> None:
    """(d) ReportState, JobRecord.status and the event names are enums; the state blob and the event table
    in docs/poller.md (which the Kusto queries rely on) still see the same strings."""
    events_doc = (Path(__file__).parents[2] / "docs" / "poller.md").read_text()
    assert all(f"`{event.value}`" in events_doc for event in PollerEvent)
    record = JobRecord(job_id="j", status=JobStatus.FAILED, report=ReportState.PENDING)
    data = record.to_json()
    assert (data["status"], data["report"]) == ("failed", "pending")
    assert type(data["status"]) is str and type(data["report"]) is str
    back = JobRecord.from_json(json.loads(json.dumps(data)))
    assert (back.status, back.report) == (JobStatus.FAILED, ReportState.PENDING)
