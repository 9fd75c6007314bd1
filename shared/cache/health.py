"""Whether the shared store (AzureWebJobsStorage) is worth asking: a circuit breaker with one log line per episode.

A failed storage call opens the circuit: for a while (2 s, doubling up to 30 s while probes keep failing) every
caller skips storage and goes on per instance, at once, instead of each paying a timeout. Then one caller probes;
its success closes the circuit. The first failure of an episode logs `shared_store_unavailable` (warning), the
probe that ends it logs `shared_store_recovered`: one pair per outage, however many requests it touched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.logs import log_event

logger = logging.getLogger("shared_store")

FIRST_PAUSE_SECONDS = 2.0
MAX_PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class Ticket:
    """Leave to make one storage call; `probe` says it is the call that may end an episode."""

    episode: int
    probe: bool


class StoreHealth:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 first_pause: float = FIRST_PAUSE_SECONDS, max_pause: float = MAX_PAUSE_SECONDS) -> None:
        self._clock = clock
        self._first_pause = first_pause
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._episode = 0  # number of outages so far; the current one while `_down`
        self._down = False
        self._down_since = 0.0
        self._pause = first_pause
        self._retry_at = 0.0
        self._probing = False

    @property
    def down(self) -> bool:
        with self._lock:
            return self._down

    @property
    def worth_trying(self) -> bool:
        """Up, or down with a probe due: worth a call (which may still find the probe taken, see `ticket`)."""
        with self._lock:
            return not self._down or (not self._probing and self._clock() >= self._retry_at)

    def ticket(self) -> Ticket | None:
        """Leave for one call, or None while the circuit is open (skip storage)."""
        with self._lock:
            if not self._down:
                return Ticket(self._episode, probe=False)
            if self._probing or self._clock() < self._retry_at:
                return None
            self._probing = True
            return Ticket(self._episode, probe=True)

    def succeeded(self, ticket: Ticket) -> None:
        with self._lock:
            if not (self._down and ticket.probe and ticket.episode == self._episode):
                return  # a call begun before the outage, or while the circuit was closed
            self._down, self._probing, self._pause = False, False, self._first_pause
            down_for = self._clock() - self._down_since
        log_event(logger, "shared_store_recovered", downSeconds=round(down_for, 1))

    def failed(self, ticket: Ticket, reason: str) -> None:
        with self._lock:
            now = self._clock()
            if not self._down:
                if ticket.episode != self._episode:
                    return  # begun in an earlier outage that has ended since
                self._episode += 1
                self._down, self._down_since, self._pause = True, now, self._first_pause
                self._retry_at, self._probing = now + self._pause, False
                first = True
            elif ticket.probe and ticket.episode == self._episode:
                self._pause = min(self._max_pause, self._pause * 2)
                self._retry_at, self._probing = now + self._pause, False
                first = False
            else:
                return  # another call of the same outage, already counted
            pause = self._pause
        if first:
            log_event(logger, "shared_store_unavailable", level=logging.WARNING, reason=reason,
                      retryInSeconds=round(pause, 1))
