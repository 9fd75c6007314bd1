"""The filters GET /api/jobs and the status page share: status, type, free text, `since`, `top` and the
continuation `before`, all query parameters, so that a filtered page is a link anyone can share.

Every value is checked before any hub call: a value the spec does not allow is a 400 (ApiFailure), never a
silent empty list. The checklist for adding one is in docs/contributing.md ("A new list filter").
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.clock import parse_utc
from shared.jobs import JOB_PROPERTIES_TYPES, JobStatus
from shared.proxy.answers import ApiErrorCode
from shared.proxy.common import ApiFailure

# `top` accepts 1..MAX_TOP; without it, every job the hub listed.
MAX_TOP = 10_000
_TOP = re.compile(r"[1-9][0-9]{0,4}")  # openapi.yaml's pattern: no sign, no leading zero
STATUS_VALUES = tuple(status.value for status in JobStatus)
# Each rule is a regular expression that openapi.yaml repeats word for word, so that the spec accepts exactly what
# the code accepts (schemathesis checks both ways).
# `q`: a job id or a piece of a failure reason, no control character; longer is no search anyone types.
MAX_TEXT_CHARS = 100
_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,100}")
# A UTC time as the hub writes its times, of a day that exists (years 2000-2099): no parser's guess.
UTC_TIME = (r"20[0-9]{2}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
            r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,7})?)?Z"
            r"|20([02468][048]|[13579][26])-02-29T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,7})?)?Z")
# `since`: that time, or an age in hours (1-720) or days (1-30): the hub keeps a job 30 days after it ends.
_SINCE_AGE = re.compile(r"([1-9]|[1-9][0-9]|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9]|[12][0-9]|30)d")
_SINCE_TIME = re.compile(UTC_TIME)
# `before`: `<start time as listed, or empty>|<jobId>`; job ids are the hub's (up to 128 characters of any kind).
MAX_CURSOR_CHARS = 200
CURSOR_SEPARATOR = "|"
_CURSOR = re.compile(rf"({UTC_TIME})?\|[^\x00-\x1f\x7f-\x9f]+")
_EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)  # a job without times sorts last


@dataclass(frozen=True, kw_only=True)
class Cursor:
    """Where a page ended: the last job shown, by the list's order (newest first, then by jobId). The next page
    starts after it, wherever it now stands: new jobs above it shift no row of the older pages."""

    started: datetime.datetime | None
    job_id: str

    def text(self) -> str:
        # Microseconds, not utc_iso's milliseconds: a cut time would sort the cursor's own job after itself.
        started = self.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.started else ""
        return f"{started}{CURSOR_SEPARATOR}{self.job_id}"

    def precedes(self, started: datetime.datetime | None, job_id: str) -> bool:
        """Whether a job of the list comes after this cursor (older, or as old with a greater jobId)."""
        mine, theirs = self.started or _EPOCH, started or _EPOCH
        return theirs < mine or (theirs == mine and job_id > self.job_id)


@dataclass(frozen=True, kw_only=True)
class ListFilters:
    """What a caller asked for; None: no filter. Values are the spec's own spellings."""

    statuses: frozenset[str] | None = None
    types: frozenset[str] | None = None
    text: str | None = None  # lower-case; matched within the job id or the failure reason
    since: datetime.datetime | None = None  # only jobs that started (or, without a start, ended) at or after
    before: Cursor | None = None  # only jobs after this one in the list's order
    top: int | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], *, now: datetime.datetime | None = None) -> ListFilters:
        """Raises ApiFailure (400) for a value the spec does not allow: before any hub call. `now`: what an age
        in `since` counts back from."""
        return cls(statuses=_values(params, "status", STATUS_VALUES),
                   types=_values(params, "type", JOB_PROPERTIES_TYPES), text=_text(params.get("q")),
                   since=_since(params.get("since"), now), before=_cursor(params.get("before")),
                   top=_top(params.get("top")))

    def canonical(self) -> str:
        """The same text for the same filters, whatever their order: part of the answer's ETag."""
        since = self.since.isoformat() if self.since else None
        before = self.before.text() if self.before else None
        return json.dumps([sorted(self.statuses or ()), sorted(self.types or ()), self.top, self.text, since,
                           before])

    def matches(self, *, status: str, type_: str | None, search: str, started: datetime.datetime | None) -> bool:
        """Whether one job passes every filter but `before` and `top` (which depend on its place in the list).
        `search`: its job id and failure reason, lower-case."""
        return ((self.statuses is None or status in self.statuses)
                and (self.types is None or type_ in self.types)
                and (self.text is None or self.text in search)
                and (self.since is None or (started is not None and started >= self.since)))

    def query(self) -> dict[str, str]:
        """The filters as the query parameters they came from (not `before`, `top`): for the page's links."""
        out: dict[str, str] = {}
        if self.statuses:
            out["status"] = ",".join(s for s in STATUS_VALUES if s in self.statuses)
        if self.types:
            out["type"] = ",".join(t for t in JOB_PROPERTIES_TYPES if t in self.types)
        if self.text:
            out["q"] = self.text
        if self.since:
            from shared.clock import utc_iso

            out["since"] = utc_iso(self.since)
        return out


def _invalid(message: str) -> ApiFailure:
    return ApiFailure(status=400, code=ApiErrorCode.INVALID_FILTER, message=message)


def _values(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    items = raw.split(",")
    if any(item not in allowed for item in items):
        raise _invalid(f"{name} must be a comma-separated list of: {', '.join(allowed)}")
    return frozenset(items)


def _text(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if _TEXT.fullmatch(raw) is None:
        raise _invalid(f"q must be 1-{MAX_TEXT_CHARS} characters, none of them a control character")
    return raw.strip().lower() or None  # only spaces: no filter


def _since(raw: str | None, now: datetime.datetime | None) -> datetime.datetime | None:
    if raw is None or raw == "":
        return None
    age = _SINCE_AGE.fullmatch(raw)
    moment = parse_utc(raw) if age is None and _SINCE_TIME.fullmatch(raw) else None
    if age is not None:
        from shared.clock import utc_now

        hours = int(age.group(1)) if age.group(1) else 24 * int(age.group(2))
        return (now or utc_now()) - datetime.timedelta(hours=hours)
    if moment is None:
        raise _invalid("since must be a UTC time (2026-12-01T08:00:00Z) or an age of 1-720 hours or 1-30 days "
                       "(24h, 7d)")
    return moment


def _cursor(raw: str | None) -> Cursor | None:
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_CHARS or _CURSOR.fullmatch(raw) is None:
        raise _invalid("before must be the continuation an 'older' link gave: <start time>|<jobId>")
    started_text, _, job_id = raw.partition(CURSOR_SEPARATOR)
    return Cursor(started=parse_utc(started_text) if started_text else None, job_id=job_id)


def _top(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if _TOP.fullmatch(raw) is None or int(raw) > MAX_TOP:
        raise ApiFailure(status=400, code=ApiErrorCode.INVALID_TOP, message=f"top must be a whole number, 1-{MAX_TOP}")
    return int(raw)
