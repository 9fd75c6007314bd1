"""Times for people: "3 min ago", with the exact UTC time in the text a screen reader reads, which the stylesheet
shows on hover (shared/pages/layout.py, `time i`).

A time the hub wrote in a form no parser takes is None here and shows as "unknown", never a guess.
"""

from __future__ import annotations

import datetime

from shared.clock import UNKNOWN_TIME
from shared.pages.layout import plain

# Past this, a relative time says the date instead ("3 Dec"): "412 h ago" reads worse than a date.
MAX_RELATIVE_SECONDS = 7 * 86400
_UNITS = ((86400, "d"), (3600, "h"), (60, "min"))


def relative_text(moment: datetime.datetime, now: datetime.datetime) -> str:
    """`moment` against `now`: "just now", "42 s ago", "3 min ago", "2 h ago", "in 5 min", or its date."""
    seconds = (now - moment).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds > MAX_RELATIVE_SECONDS:
        return moment.strftime("%d %b %Y")
    if seconds < 5:
        return "just now"
    amount, unit = int(seconds), "s"
    for size, name in _UNITS:
        if seconds >= size:
            amount, unit = int(seconds // size), name
            break
    return f"in {amount} {unit}" if ahead else f"{amount} {unit} ago"


def exact_text(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_html(moment: datetime.datetime | None, now: datetime.datetime, *, raw: object = None) -> str:
    """A `<time>`: relative text, the exact UTC time on hover and, hidden from sight only, for screen readers.
    None: "-" when there is no value; "unknown" for a time no parser takes (a sentinel, an overflow, text): what
    the hub wrote there is no time, and is not shown as one."""
    if moment is None:
        return "-" if raw in (None, "") else UNKNOWN_TIME
    exact = exact_text(moment)
    # The exact time is text, hidden from sight and shown on hover by the stylesheet (`time i`), not a `title` as
    # well: a default status page has 2,000 of these (issue 23: its HTML at most 300 KB).
    return f"<time>{plain(relative_text(moment, now))}<i> ({exact})</i></time>"
