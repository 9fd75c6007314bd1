"""Retry timing for calls to the hub: a time budget, jittered exponential backoff, Retry-After.

The hub's throttle (about 100 jobs operations a minute per S1 unit) answers 429, usually with no
Retry-After header but a body saying "Wait N seconds": both are honoured.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

_WAIT_SECONDS = re.compile(r"(?i)\bwait\s+(\d+(?:\.\d+)?)\s+seconds?\b")
# Statuses worth another try for an idempotent GET.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# A server may ask for anything ("Retry-After: 1e999"); nothing sensible waits longer than this.
MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_after_seconds(headers: Mapping[str, str], body_text: str) -> float | None:
    """Seconds the server asked us to wait: the Retry-After header, else (no header, or one that says no number,
    `NaN` included) the "Wait N seconds" text.

    Always finite and at most MAX_RETRY_AFTER_SECONDS."""
    header = headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            seconds = _bounded(float(header))
        except ValueError:
            parsed = _http_date(header)
            seconds = None if parsed is None else _bounded(parsed - time.time())
        if seconds is not None:
            return seconds
    match = _WAIT_SECONDS.search(body_text)
    return _bounded(float(match.group(1))) if match else None


def _bounded(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, kw_only=True)
class BackoffPolicy:
    """Full-jitter exponential backoff (AWS architecture blog), bounded; Retry-After wins when given."""

    base_seconds: float = 0.25
    max_seconds: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, *, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # A little jitter on top so that many waiting clients do not return in the same instant.
            return retry_after + self.rng.uniform(0, min(1.0, self.base_seconds))
        cap = min(self.max_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return self.rng.uniform(cap / 2, cap)
