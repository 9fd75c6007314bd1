"""Retry timing: Retry-After (seconds or date), the throttling body's "Wait N seconds", backoff."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from shared.clock import Deadline
from shared.http.retry import MAX_RETRY_AFTER_SECONDS, BackoffPolicy, retry_after_seconds

THROTTLE_BODY = (
    '{"Message":"ErrorCode:ThrottlingBacklogTimeout;The request has been throttled. Wait 10 seconds and try again. '
    'Operation type: CRUD","ExceptionMessage":"Tracking ID:55f07849-G:0-TimeStamp:10/12/2021 07:18:02"}'
)


def test_retry_after_header_wins_over_body() -> None:
    assert retry_after_seconds({"Retry-After": "3"}, THROTTLE_BODY) == 3.0


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds({"Retry-After": when}, "")
    assert seconds is not None and 25 <= seconds <= 31


def test_wait_text_of_the_real_throttling_body() -> None:
    assert retry_after_seconds({}, THROTTLE_BODY) == 10.0
    assert retry_after_seconds({}, "{}") is None
    assert retry_after_seconds({"Retry-After": "soon"}, "") is None


def test_backoff_grows_and_is_bounded() -> None:
    policy = BackoffPolicy(base_seconds=0.5, max_seconds=4, rng=random.Random(7))
    delays = [policy.delay(attempt=n, retry_after=None) for n in range(1, 8)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 4 for d in delays)
    assert 2 <= delays[-1] <= 4
    assert 10 <= policy.delay(attempt=1, retry_after=10) <= 10.5


def test_deadline_counts_down_on_the_given_clock() -> None:
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    assert deadline.remaining() == 5
    now[0] = 104.0
    assert deadline.remaining() == 1 and not deadline.expired
    now[0] = 106.0
    assert deadline.remaining() == 0 and deadline.expired


@pytest.mark.parametrize(("value", "seconds"), [
    ("inf", MAX_RETRY_AFTER_SECONDS), ("1e999", MAX_RETRY_AFTER_SECONDS), ("86400", MAX_RETRY_AFTER_SECONDS),
    ("-5", 0.0), ("nan", None),
])
def test_absurd_retry_after_values_are_bounded_not_dropped(value: str, seconds: float | None) -> None:
    """A wait too long is held to the longest one (the server did ask us to wait: dropping the value would
    retry at once); a negative one is no wait; only a value that is no number at all is no value, and then the
    throttling text's "Wait 10 seconds" is what the hub said (a NaN header used to hide it)."""
    assert retry_after_seconds({"Retry-After": value}, THROTTLE_BODY) == (10.0 if seconds is None else seconds)
    assert retry_after_seconds({"Retry-After": value}, "") == seconds


def test_an_absurd_wait_in_the_throttling_text_is_bounded() -> None:
    assert retry_after_seconds({}, "Wait " + "9" * 400 + " seconds") == MAX_RETRY_AFTER_SECONDS
