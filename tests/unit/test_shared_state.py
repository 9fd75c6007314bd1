"""What the instances share, without storage: the budget's sliding window, the cache entry's format (and its
refusal of anything unredacted or corrupt), stale serving's limits, and the store's circuit (one log line an
outage)."""

from __future__ import annotations

import json
import logging

import pytest

from shared.cache.budget import HOLD_SECONDS, WINDOW_SECONDS, BudgetLog
from shared.cache.health import StoreHealth
from shared.errors import CredentialError, HubBudgetExhausted, HubServiceError, JobNotFoundError
from shared.jobs import JobStatus
from shared.proxy.prepared import (
    MAX_STALE_SECONDS,
    Answer,
    Claim,
    CorruptEntry,
    Entry,
    Failure,
    PreparedJob,
    newest_usable,
)
from tests.support.secrets import Secrets

SIG = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
PLANTED = Secrets()
PLANTED.add("the job's SAS signature", SIG)
JOB = {"jobId": "j", "status": "running", "progress": 40,
       "outputBlobContainerUri": f"https://acct.blob.core.windows.net/c?sv=2021-08-06&sig={SIG}"}


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the call budget's log -----------------------------------------------------------------------------------
def test_the_budget_grants_exactly_its_limit_in_any_window() -> None:
    log, now = BudgetLog(), 100.0
    for _ in range(5):
        assert log.wait(now, 5) == 0
        log = log.granted(now)
    assert log.wait(now, 5) == pytest.approx(WINDOW_SECONDS + HOLD_SECONDS)
    # One call stops counting a window (plus the hold) after it was granted, not before.
    assert log.wait(now + WINDOW_SECONDS, 5) > 0
    assert log.wait(now + WINDOW_SECONDS + HOLD_SECONDS + 0.001, 5) == 0


def test_the_budget_waits_for_the_oldest_call_that_must_expire() -> None:
    log = BudgetLog()
    for moment in (0.0, 10.0, 20.0):
        log = log.granted(moment)
    # Limit 2 with 3 calls listed: two must stop counting, the second of them at 10 + 61.
    assert log.wait(30.0, 2) == pytest.approx(10.0 + WINDOW_SECONDS + HOLD_SECONDS - 30.0)


def test_a_pause_from_the_hub_holds_whatever_the_count() -> None:
    log = BudgetLog().paused(50.0)
    assert log.wait(20.0, 100) == pytest.approx(30.0)
    assert log.paused(40.0).paused_until == 50.0  # a pause is never shortened
    assert log.wait(50.0, 100) == 0


def test_the_stored_log_round_trips_and_anything_else_reads_as_empty() -> None:
    log = BudgetLog().granted(1.5).granted(2.25).paused(9.0)
    assert BudgetLog.from_bytes(log.to_bytes()) == log
    for junk in (None, b"", b"not json", b"[]", b'{"v": 1, "ends": "x"}', b'{"v": 2, "ends": []}',
                 b'{"v": 1, "ends": [NaN]}'):
        assert BudgetLog.from_bytes(junk) == BudgetLog()


def test_a_merged_log_keeps_both_lists_live_calls() -> None:
    mine, theirs = BudgetLog().granted(0.0), BudgetLog().granted(5.0).paused(70.0)
    merged = mine.merged(theirs, now=1.0)
    assert len(merged.ends) == 2 and merged.paused_until == 70.0
    assert mine.merged(theirs, now=WINDOW_SECONDS + HOLD_SECONDS + 0.5).ends == (5.0 + WINDOW_SECONDS + HOLD_SECONDS,)


# -- the shared cache's entry ----------------------------------------------------------------------------------
def _prepared(job: dict[str, object] = JOB, fetched_at: float = 1_000.0) -> PreparedJob:
    return PreparedJob.from_job(dict(job), redact_sas=True, tracking_id="t-1", attempts=1, fetched_at=fetched_at)


def test_an_entry_round_trips_and_stores_only_the_redacted_body() -> None:
    job = _prepared()
    entry = Entry(answer=Answer.of(job), claim=Claim(id="c", at=999.0))
    data = entry.to_bytes()
    PLANTED.assert_absent(data.decode(), "the shared entry")
    assert "sig=REDACTED" in data.decode()
    back = Entry.from_bytes(data)
    assert back == entry
    assert back.answer is not None
    served = back.answer.job()
    assert served is not None
    assert (served.body, served.etag, served.status) == (job.body, job.etag, JobStatus.RUNNING)


@pytest.mark.parametrize("data", [
    b"", b"{", b"[]", b'{"v": 2}', b'{"v": 1, "answer": {"fetchedAt": "soon", "body": null}}',
    b'{"v": 1, "answer": {"fetchedAt": 1, "body": "[1]"}}',
    b'{"v": 1, "answer": {"fetchedAt": 1e999, "body": null}}',
    b'{"v": 1, "claim": {"at": 1}}',
    b'{"v": 1, "failure": {"claim": "c", "type": "ValueError", "message": "x"}}',
])
def test_anything_that_is_not_an_entry_is_refused(data: bytes) -> None:
    with pytest.raises(CorruptEntry):
        Entry.from_bytes(data)


def test_an_entry_holding_a_signature_is_refused() -> None:
    """Whoever wrote it, a body that redaction would change is never served from the shared cache."""
    body = json.dumps(JOB, separators=(",", ":"))
    data = json.dumps({"v": 1, "answer": {"fetchedAt": 1.0, "body": body}}).encode()
    with pytest.raises(CorruptEntry, match="not a redacted job"):
        Entry.from_bytes(data)


@pytest.mark.parametrize("error", [
    HubBudgetExhausted("spent", hub="devhub", retry_after=12.5, error_code="CallBudgetExhausted", attempts=0),
    HubServiceError("the hub answered 500", hub="devhub", status_code=500, tracking_id="t-9", attempts=3),
    CredentialError("managed identity", "no token"),
])
def test_a_claims_failure_reaches_its_waiters_as_the_same_error(error: Exception) -> None:
    failure = Failure.of("claim-1", error)
    assert failure is not None
    stored = Entry.from_bytes(Entry(failure=failure).to_bytes()).failure
    assert stored is not None and stored.claim == "claim-1"
    again = stored.error()
    assert type(again) is type(error) and str(again) == str(error)
    if isinstance(error, HubBudgetExhausted):
        assert isinstance(again, HubBudgetExhausted) and again.retry_after == 12.5
    if isinstance(error, HubServiceError):
        assert isinstance(again, HubServiceError)
        assert (again.status_code, again.tracking_id, again.attempts) == (500, "t-9", 0)


def test_a_not_found_answer_raises_the_hubs_404() -> None:
    answer = Answer.not_found(JobNotFoundError("no", hub="devhub", status_code=404, tracking_id="t"), 5.0)
    back = Entry.from_bytes(Entry(answer=answer).to_bytes()).answer
    assert back is not None and back.job() is None
    assert isinstance(back.error("devhub"), JobNotFoundError)


def test_stale_serving_takes_the_newest_answer_within_its_limit() -> None:
    old, new = _prepared(fetched_at=100.0), _prepared(fetched_at=130.0)
    assert newest_usable(140.0, old, new, None) is new
    assert newest_usable(100.0 + MAX_STALE_SECONDS + 1, old) is None
    assert newest_usable(50.0, old) is None  # from a clock far ahead: not believed
    stale = new.stale(7.0)
    assert (stale.source.value, stale.retry_after, stale.attempts) == ("stale", 7.0, 0)


# -- the store's circuit ---------------------------------------------------------------------------------------
def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "shared_store"]


def test_an_outage_is_logged_once_and_ends_with_one_probe(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared_store")
    clock = Clock(0.0)
    health = StoreHealth(clock=clock, first_pause=2.0, max_pause=8.0)
    tickets = [health.ticket() for _ in range(3)]  # three calls in flight when storage goes
    in_flight = [ticket for ticket in tickets if ticket is not None]
    assert len(in_flight) == 3
    for ticket in in_flight:
        health.failed(ticket, "HTTP 503")
    assert health.down and not health.worth_trying and health.ticket() is None  # skipped at once, no timeout paid
    clock.now = 2.0
    assert health.worth_trying  # a probe is due: callers must try, or the outage would never end
    probe = health.ticket()
    assert probe is not None and probe.probe and health.ticket() is None  # one probe at a time
    health.failed(probe, "HTTP 503")
    clock.now = 5.9
    assert health.ticket() is None  # the pause doubled: 4 s
    clock.now = 6.0
    probe = health.ticket()
    assert probe is not None
    health.succeeded(in_flight[0])  # a call from before the outage proves nothing
    assert health.down
    health.succeeded(probe)
    assert not health.down
    assert _events(caplog) == ["shared_store_unavailable", "shared_store_recovered"]
    line = json.loads(caplog.records[-1].getMessage())
    assert line["downSeconds"] == 6.0
    # A second outage is a second episode, with its own pair of lines.
    ticket = health.ticket()
    assert ticket is not None
    health.failed(ticket, "ServiceRequestError")
    assert _events(caplog)[-1] == "shared_store_unavailable"
