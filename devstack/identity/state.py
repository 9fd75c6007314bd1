"""The endpoint's mutable state: queued faults, counters and the token lifetime (thread-safe)."""

from __future__ import annotations

import collections
import threading
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

MAX_TOKENS_KEPT = 10_000
# How long a slow answer takes: past a short budget, within azure-identity's own read timeout (3 s in the app).
SLOW_SECONDS = 1.0


class FaultKind(str, Enum):
    """Failures the endpoint can be told to serve instead of tokens."""

    # HTTP 500 with the real endpoint's "An unexpected error occured while fetching the AAD Token."
    ERROR_500 = "error500"
    SLOW = "slow"  # the token, SLOW_SECONDS late
    SLOW_500 = "slow500"  # the 500, SLOW_SECONDS late


@dataclass
class EndpointState:
    token_lifetime_seconds: int
    default_token_lifetime_seconds: int
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _faults: list[tuple[FaultKind, int]] = field(default_factory=list)
    _tokens_issued: Counter[str] = field(default_factory=Counter)
    _faults_served: Counter[str] = field(default_factory=Counter)
    _requests: int = 0
    _rejected: int = 0
    # Every access token issued (the newest MAX_TOKENS_KEPT), kept across resets so that tests can look for
    # them, literally, in everything the app writes out.
    _tokens: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=MAX_TOKENS_KEPT))

    def add_fault(self, kind: FaultKind, count: int) -> None:
        with self._lock:
            self._faults.append((kind, count))

    def take_fault(self) -> FaultKind | None:
        """Consume one queued fault for a token request, if any; count it as served."""
        with self._lock:
            self._requests += 1
            while self._faults:
                kind, remaining = self._faults[0]
                if remaining <= 0:
                    self._faults.pop(0)
                    continue
                if remaining == 1:
                    self._faults.pop(0)
                else:
                    self._faults[0] = (kind, remaining - 1)
                self._faults_served[kind.value] += 1
                return kind
            return None

    def count_issued(self, audience: str, token: str) -> None:
        with self._lock:
            self._tokens_issued[audience] += 1
            self._tokens.append(token)

    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def count_rejected(self) -> None:
        with self._lock:
            self._rejected += 1

    def lifetime(self) -> int:
        with self._lock:
            return self.token_lifetime_seconds

    def set_lifetime(self, seconds: int) -> None:
        with self._lock:
            self.token_lifetime_seconds = seconds

    def reset(self) -> None:
        """Drop faults, zero counters and restore the configured token lifetime."""
        with self._lock:
            self._faults.clear()
            self._tokens_issued.clear()
            self._faults_served.clear()
            self._requests = 0
            self._rejected = 0
            self.token_lifetime_seconds = self.default_token_lifetime_seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tokens_issued": dict(self._tokens_issued),
                "faults_served": dict(self._faults_served),
                "faults_pending": sum(count for _, count in self._faults),
                "token_requests": self._requests,
                "rejected": self._rejected,
                "token_lifetime_seconds": self.token_lifetime_seconds,
            }
