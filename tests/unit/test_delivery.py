"""The report's delivery beside the job (shared/reports/delivery.py): backoff, the history window, the words."""

from __future__ import annotations

import datetime

from shared.reports import delivery
from shared.reports.delivery import Delivery, DeliveryState, Refusal, Refused

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
JOB = {"jobId": "j", "status": "failed", "endTimeUtc": "2026-03-01T11:00:00.000Z"}
NO_WRITE = Refused(reason=Refusal.SAS_NO_WRITE, http_status=403, error_code="AuthorizationPermissionMismatch",
                   hint="sasExpiredOrLacksPermissions", advice="give the SAS Write")


def test_refused_attempts_back_off_doubling_up_to_six_hours() -> None:
    first = delivery.refused(None, NO_WRITE, job=JOB, now=NOW)
    assert (first.state, first.attempts) == (DeliveryState.REFUSED, 1)
    assert first.next_attempt_utc == "2026-03-01T12:01:00.000Z"
    assert first.give_up_after_utc == "2026-03-31T11:00:00.000Z"  # the job's end plus the hub's 30 days
    assert not delivery.due(first, NOW + datetime.timedelta(seconds=59))
    assert delivery.due(first, NOW + datetime.timedelta(minutes=1))
    second = delivery.refused(first, NO_WRITE, job=JOB, now=NOW + datetime.timedelta(minutes=1))
    assert second.next_attempt_utc == "2026-03-01T12:03:00.000Z" and second.first_attempt_utc == first.first_attempt_utc
    assert [delivery.backoff(n) for n in (1, 2, 3, 9, 10, 500)] == [
        datetime.timedelta(minutes=m) for m in (1, 2, 4, 256, 360, 360)]


def test_a_delivery_is_given_up_once_its_next_attempt_would_fall_past_the_history_window() -> None:
    late = NOW + datetime.timedelta(days=29, hours=22, minutes=59, seconds=30)
    last = delivery.refused(Delivery(state=DeliveryState.REFUSED, attempts=130, first_attempt_utc="a",
                                     last_attempt_utc="b", give_up_after_utc="2026-03-31T11:00:00.000Z"),
                            NO_WRITE, job=JOB, now=late)
    assert last.state is DeliveryState.GIVEN_UP and last.next_attempt_utc is None and last.final
    assert not delivery.due(last, late + datetime.timedelta(days=1))
    # Within the window the same refusal is tried again.
    assert delivery.refused(None, NO_WRITE, job=JOB, now=NOW).state is DeliveryState.REFUSED
    # A refusal no later attempt can pass (a refused SAS where the identity may not write) is given up at once.
    final = Refused(reason=Refusal.SAS_REFUSED, http_status=403, error_code="AuthenticationFailed", hint=None,
                    advice=None, final=True)
    assert delivery.refused(None, final, job=JOB, now=NOW).state is DeliveryState.GIVEN_UP


def test_a_job_end_in_the_future_or_missing_does_not_stretch_or_shrink_the_window() -> None:
    assert delivery.give_up_after({"endTimeUtc": "2099-01-01T00:00:00Z"}, NOW) == NOW + delivery.HISTORY_WINDOW
    assert delivery.give_up_after({}, NOW) == NOW + delivery.HISTORY_WINDOW


def test_the_delivery_in_words() -> None:
    refused = delivery.refused(None, NO_WRITE, job=JOB, now=NOW).to_json()
    words = delivery.describe(refused)
    assert words is not None
    assert words.startswith("not written beside the job: the SAS has no Write permission: create the job with sp=rwd")
    assert "(HTTP 403 AuthorizationPermissionMismatch)" in words and "next after 2026-03-01T12:01:00.000Z" in words
    done = delivery.delivered(Delivery.from_json(refused), NOW).to_json()
    assert delivery.describe(done) == "written beside the job (2026-03-01T12:00:00.000Z)"
    assert done["attempts"] == 2
    assert delivery.describe(None) is None
    assert delivery.describe({"state": "nonsense", "attempts": 1}) is None  # unreadable: nothing claimed


def test_a_recorded_delivery_round_trips_and_rejects_what_it_cannot_read() -> None:
    recorded = delivery.refused(None, NO_WRITE, job=JOB, now=NOW)
    assert Delivery.from_json(recorded.to_json()) == recorded
    for bad in ("x", {"state": "refused"}, {**recorded.to_json(), "attempts": True},
                {**recorded.to_json(), "attempts": -1}):
        assert Delivery.from_json(bad) is None
    assert delivery.is_refusal(recorded.to_json()) and not delivery.is_refusal(None)
    assert not delivery.is_refusal(delivery.delivered(None, NOW).to_json())


def test_long_advice_from_storage_is_cut_when_recorded() -> None:
    wordy = Refused(reason=Refusal.STORAGE_ERROR, http_status=500, error_code="E" * 1000, hint=None, advice="a" * 1000)
    recorded = delivery.refused(None, wordy, job=JOB, now=NOW)
    assert recorded.advice is not None and len(recorded.advice) <= delivery.MAX_REASON_CHARS + 1
    assert recorded.error_code is not None and len(recorded.error_code) <= delivery.MAX_REASON_CHARS + 1
