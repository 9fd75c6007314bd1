"""Whether a report reached the job's own container ("beside the job"), said in words.

The app's own copy (shared/reports/copies.py) is written first and on its own; the copy beside the job is
written with the job's SAS (or the app's identity where the operator allows it) into someone else's
container, which may refuse it. What happened is recorded (`Delivery`, in the job's state record and in the
copy the report route serves): delivered, or refused with the HTTP status, storage's error code and the advice,
and when the next attempt is due. Refused deliveries are tried again with backoff for the hub's job history
window (IoT Hub keeps a job listed for 30 days after it ends), then given up.

Pure: no I/O, so tests/unit exercises it directly.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.clock import parse_utc, utc_iso

# IoT Hub lists a job for 30 days after it ends (docs/iothub-evidence.md): past that, nobody looks for its files.
HISTORY_WINDOW = datetime.timedelta(days=30)
# Backoff between attempts: doubled from FIRST_RETRY up to MAX_RETRY (a SAS is fixed in minutes or never).
FIRST_RETRY = datetime.timedelta(minutes=1)
MAX_RETRY = datetime.timedelta(hours=6)
MAX_REASON_CHARS = 300  # storage's code and the advice are short; anything longer is cut when recorded


class DeliveryState(str, Enum):
    DELIVERED = "delivered"  # written beside the job
    REFUSED = "refused"  # not written beside the job; tried again at `next_attempt_utc`
    GIVEN_UP = "givenUp"  # not written beside the job, and no longer tried


class Refusal(str, Enum):
    """Why the job's container refused the report, in the operator's words (the short part of the advice)."""

    SAS_NO_WRITE = "the SAS has no Write permission: create the job with sp=rwd"
    SAS_REFUSED = "the SAS was refused: it has expired or its signature is wrong"
    IDENTITY_NO_ROLE = "the app's identity has no data role there: give it Storage Blob Data Contributor"
    FIREWALL = "the storage account's firewall refused the app"
    STORAGE_ERROR = "storage answered with an error"
    UNREACHABLE = "the job's storage could not be reached"


@dataclass(frozen=True, kw_only=True)
class Delivery:
    state: DeliveryState
    attempts: int
    first_attempt_utc: str
    last_attempt_utc: str
    reason: str | None = None  # a Refusal's words
    http_status: int | None = None
    error_code: str | None = None  # storage's x-ms-error-code
    hint: str | None = None  # a hint key of docs/operations.md
    advice: str | None = None
    next_attempt_utc: str | None = None
    give_up_after_utc: str | None = None

    def to_json(self) -> dict[str, Any]:
        fields = {
            "state": self.state.value, "attempts": self.attempts, "firstAttemptUtc": self.first_attempt_utc,
            "lastAttemptUtc": self.last_attempt_utc, "reason": self.reason, "httpStatus": self.http_status,
            "errorCode": self.error_code, "hint": self.hint, "advice": self.advice,
            "nextAttemptUtc": self.next_attempt_utc, "giveUpAfterUtc": self.give_up_after_utc,
        }
        return {key: value for key, value in fields.items() if value is not None}

    @classmethod
    def from_json(cls, data: object) -> Delivery | None:
        """A recorded delivery; None for anything this version cannot read (then treated as never tried)."""
        if not isinstance(data, Mapping):
            return None
        try:
            state = DeliveryState(data["state"])
            attempts = data["attempts"]
            if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
                return None
            status = data.get("httpStatus")
            return cls(
                state=state, attempts=attempts, first_attempt_utc=str(data["firstAttemptUtc"]),
                last_attempt_utc=str(data["lastAttemptUtc"]), reason=_opt(data.get("reason")),
                http_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                error_code=_opt(data.get("errorCode")), hint=_opt(data.get("hint")), advice=_opt(data.get("advice")),
                next_attempt_utc=_opt(data.get("nextAttemptUtc")), give_up_after_utc=_opt(data.get("giveUpAfterUtc")),
            )
        except (KeyError, ValueError, TypeError):
            return None

    @property
    def final(self) -> bool:
        return self.state is not DeliveryState.REFUSED


@dataclass(frozen=True, kw_only=True)
class Refused:
    """One refused attempt, as the writer saw it (no URL, no SAS: status, code and advice only)."""

    reason: Refusal
    http_status: int | None
    error_code: str | None
    hint: str | None
    advice: str | None
    final: bool = False  # no later attempt can succeed (a refused SAS where the identity may not write)


def is_refusal(recorded: Mapping[str, Any] | None) -> bool:
    """A recorded delivery (as stored) that says the job's container refused the report."""
    return (recorded or {}).get("state") in (DeliveryState.REFUSED.value, DeliveryState.GIVEN_UP.value)


def delivery_final(report: Mapping[str, Any]) -> bool:
    """A report (the app's copy) whose delivery beside the job will not change any more: delivered, given up, or
    a copy from before deliveries were recorded."""
    if report.get("delivery") is None:
        return True
    recorded = Delivery.from_json(report.get("delivery"))
    return recorded is None or recorded.final


def due(previous: Delivery | None, now: datetime.datetime) -> bool:
    """Whether a delivery should be attempted now: never tried, or refused and its next attempt has come."""
    if previous is None:
        return True
    if previous.state is not DeliveryState.REFUSED:
        return False
    next_attempt = parse_utc(previous.next_attempt_utc)
    return next_attempt is None or now >= next_attempt


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th refused attempt: 1 min, 2, 4, ... up to 6 h."""
    return min(MAX_RETRY, FIRST_RETRY * (1 << min(max(0, attempts - 1), 20)))


def give_up_after(job: Mapping[str, Any], now: datetime.datetime) -> datetime.datetime:
    """The end of the job's history window: its end (or, if the hub gave none, now) plus 30 days."""
    ended = parse_utc(job.get("endTimeUtc"))
    return (ended if ended is not None and ended <= now else now) + HISTORY_WINDOW


def delivered(previous: Delivery | None, now: datetime.datetime) -> Delivery:
    stamp = utc_iso(now)
    return Delivery(state=DeliveryState.DELIVERED, attempts=(previous.attempts if previous else 0) + 1,
                    first_attempt_utc=previous.first_attempt_utc if previous else stamp, last_attempt_utc=stamp)


def refused(previous: Delivery | None, refusal: Refused, *, job: Mapping[str, Any],
            now: datetime.datetime) -> Delivery:
    """The record after a refused attempt: the next one after the backoff, or given up once the next would fall
    past the job's history window (or no attempt can succeed)."""
    stamp = utc_iso(now)
    attempts = (previous.attempts if previous else 0) + 1
    window_end = parse_utc(previous.give_up_after_utc) if previous else None
    window_end = window_end or give_up_after(job, now)
    next_attempt = now + backoff(attempts)
    given_up = refusal.final or next_attempt > window_end
    return Delivery(
        state=DeliveryState.GIVEN_UP if given_up else DeliveryState.REFUSED, attempts=attempts,
        first_attempt_utc=previous.first_attempt_utc if previous else stamp, last_attempt_utc=stamp,
        reason=refusal.reason.value, http_status=refusal.http_status, error_code=_cut(refusal.error_code),
        hint=refusal.hint, advice=_cut(refusal.advice), next_attempt_utc=None if given_up else utc_iso(next_attempt),
        give_up_after_utc=utc_iso(window_end),
    )


def describe(delivery: Mapping[str, Any] | None) -> str | None:
    """The delivery in words, for the status page and the report page; None when nothing is recorded."""
    recorded = Delivery.from_json(delivery)
    if recorded is None:
        return None
    if recorded.state is DeliveryState.DELIVERED:
        return f"written beside the job ({recorded.last_attempt_utc})"
    status = " ".join(str(part) for part in (recorded.http_status, recorded.error_code) if part is not None)
    words = f"not written beside the job: {recorded.reason or Refusal.STORAGE_ERROR.value}"
    if status:
        words += f" (HTTP {status})"
    if recorded.state is DeliveryState.GIVEN_UP:
        return f"{words}; given up after {recorded.attempts} attempt(s), the last at {recorded.last_attempt_utc}"
    return (f"{words}; attempt {recorded.attempts} at {recorded.last_attempt_utc}, next after "
            f"{recorded.next_attempt_utc}, given up after {recorded.give_up_after_utc}")


def in_short(delivery: Mapping[str, Any] | None) -> str | None:
    """The delivery in a few words, for a cell of the status page (the report page has the whole of it)."""
    recorded = Delivery.from_json(delivery)
    if recorded is None:
        return None
    if recorded.state is DeliveryState.DELIVERED:
        return "written beside the job"
    words = f"not written beside the job: {recorded.reason or Refusal.STORAGE_ERROR.value}"
    if recorded.state is DeliveryState.GIVEN_UP:
        return f"{words}; given up"
    return f"{words}; retrying (attempt {recorded.attempts}, next after {recorded.next_attempt_utc})"


def delivery_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report page's and the Markdown's rows about the delivery (the app's copy records it; the report
    beside the job does not): none when nothing is recorded."""
    words = describe(report.get("delivery"))
    if words is None:
        return []
    rows = [("Beside the job", words)]
    recorded = Delivery.from_json(report.get("delivery"))
    if recorded is not None and recorded.state is not DeliveryState.DELIVERED and recorded.advice:
        rows.append(("What to do", recorded.advice))
    return rows


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _cut(value: str | None) -> str | None:
    return value if value is None or len(value) <= MAX_REASON_CHARS else value[:MAX_REASON_CHARS] + "…"
