"""Per-hub test knobs: queued faults, the per-minute throttle, added latency and request counters."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass

from devstack.hubsim.vocab import COUNTED_OPERATIONS, THROTTLE_WINDOW_SECONDS, ErrorShape, FaultKind, Operation

DEFAULT_WAIT_SECONDS = 10
DEFAULT_HOLD_MS = 30_000
SHAPING_POLL_SECONDS = 0.05  # how often a request held by the shaping throttle looks for room


@dataclass(kw_only=True)
class Fault:
    kind: FaultKind
    count: int = 1
    operation: Operation = Operation.ANY
    retry_after: int | None = None
    wait_seconds: int = DEFAULT_WAIT_SECONDS
    delay_ms: int = 0
    location: str = ""  # REDIRECT: where to

    def matches(self, operation: Operation) -> bool:
        return self.operation in (Operation.ANY, operation)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["operation"] = self.operation.value
        return data


MAX_CREDENTIALS = 10_000


@dataclass(frozen=True, kw_only=True)
class Shaping:
    """The throttle as traffic shaping (IoT Hub quotas and throttling doc: requests over the limit are held first,
    answered 429 only once the queue is full; medium confidence on the timing): up to `queue` requests over the
    limit wait, each up to `max_hold_ms`, for room in the window; the rest, and those still waiting then, get 429."""

    queue: int
    max_hold_ms: int


class HubKnobs:
    """Thread-safe knobs of one hub; `reset()` turns everything off and zeroes the counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._window: collections.deque[float] = collections.deque()
        self._counters: dict[Operation, int] = {}
        self.rate_limit_per_minute: int | None = None
        self.shaping: Shaping | None = None  # None: over the limit is 429 at once
        self._shaped = 0  # requests held by the shaping throttle right now
        self._throttle_generation = 0  # a new limit (or a reset) lets every held request go, with 429
        self.latency_ms = 0
        self.error_shape = ErrorShape.MESSAGE
        # "Shared access policies: Deny": SAS tokens refused, only Entra (bearer) tokens accepted.
        self.local_auth_disabled = False
        # Whether IoT Hub compresses answers is not documented: on, a /jobs answer is gzipped for a client
        # that accepts gzip (as requests does by default).
        self.gzip = False
        # Every distinct Authorization value received (the newest MAX_CREDENTIALS), kept across resets so
        # that tests can look for them, literally, in everything the app writes out.
        self._credentials: collections.OrderedDict[str, None] = collections.OrderedDict()
        # HOLD: answers waiting for a release (each waits on the generation's event it arrived in).
        self._release = threading.Event()
        self._held = 0
        self._connections = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._window.clear()
            self._counters = dict.fromkeys(COUNTED_OPERATIONS, 0)
            self.rate_limit_per_minute = None
            self.shaping = None
            self._throttle_generation += 1
            self.latency_ms = 0
            self.error_shape = ErrorShape.MESSAGE
            self.local_auth_disabled = False
            self.gzip = False
            self._connections = 0
        self.release()

    def hold(self, max_ms: int) -> None:
        """Hold the calling request's answer until `release()` (or `max_ms`)."""
        with self._lock:
            gate = self._release
            self._held += 1
        try:
            gate.wait((max_ms or DEFAULT_HOLD_MS) / 1000)
        finally:
            with self._lock:
                self._held -= 1

    def release(self) -> int:
        """Let every held answer go; later HOLD faults hold again. Returns how many were held."""
        with self._lock:
            gate, self._release = self._release, threading.Event()
            held = self._held
        gate.set()
        return held

    def count_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def remember_credential(self, authorization: str | None) -> None:
        if not authorization:
            return
        with self._lock:
            self._credentials[authorization] = None
            self._credentials.move_to_end(authorization)
            while len(self._credentials) > MAX_CREDENTIALS:
                self._credentials.popitem(last=False)

    def credentials(self) -> list[str]:
        with self._lock:
            return list(self._credentials)

    def queue(self, fault: Fault) -> None:
        if fault.count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def faults(self) -> list[Fault]:
        with self._lock:
            return [Fault(**asdict(f)) for f in self._faults]

    def set_rate_limit(self, per_minute: int | None, shaping: Shaping | None = None) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError("per_minute must be positive or null")
        if shaping is not None and (shaping.queue < 1 or shaping.max_hold_ms < 1):
            raise ValueError("shaping needs a positive queue and max_hold_ms")
        with self._lock:
            self.rate_limit_per_minute = per_minute
            self.shaping = shaping
            self._throttle_generation += 1
            self._window.clear()

    def arrive(self, operation: Operation) -> tuple[Fault | None, bool]:
        """Count one /jobs request; return the fault to apply (if any) and whether the throttle refuses it.

        Every arrival enters the sliding window, throttled ones included: a client that keeps calling
        while throttled stays throttled (the harder case; the real service's accounting is unknown).
        """
        now = time.monotonic()
        with self._lock:
            self._counters[operation] += 1
            fault = None
            for candidate in self._faults:
                if candidate.matches(operation):
                    candidate.count -= 1
                    if candidate.count == 0:
                        self._faults.remove(candidate)
                    fault = Fault(**asdict(candidate))
                    break
            throttled = False
            if self.rate_limit_per_minute is not None:
                while self._window and self._window[0] <= now - THROTTLE_WINDOW_SECONDS:
                    self._window.popleft()
                throttled = len(self._window) >= self.rate_limit_per_minute
                if not (throttled and self.shaping is not None):  # a held request counts once admitted
                    self._window.append(now)
            return fault, throttled

    def slide_window(self) -> int:
        """Drop the oldest arrival from the throttle's window, as a minute passing would (a held request may then
        be admitted). Returns the arrivals left in the window."""
        with self._lock:
            if self._window:
                self._window.popleft()
            return len(self._window)

    def shape(self) -> bool:
        """Hold a request over the limit until the window has room (True: serve it, now counted), or until its
        hold ends, when the queue is full, or once the throttle is set anew (False: answer 429). Without shaping:
        False at once."""
        with self._lock:
            shaping = self.shaping
            if shaping is None or self._shaped >= shaping.queue:
                return False
            self._shaped += 1
            generation = self._throttle_generation
        deadline = time.monotonic() + shaping.max_hold_ms / 1000
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    if self._throttle_generation != generation:
                        return False
                    while self._window and self._window[0] <= now - THROTTLE_WINDOW_SECONDS:
                        self._window.popleft()
                    limit = self.rate_limit_per_minute
                    if limit is None or len(self._window) < limit:
                        self._window.append(now)
                        return True
                if now >= deadline:
                    return False
                time.sleep(min(SHAPING_POLL_SECONDS, deadline - now))
        finally:
            with self._lock:
                self._shaped -= 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            data = {op.value: n for op, n in self._counters.items()}
            held, connections, shaped = self._held, self._connections, self._shaped
        data["total"] = sum(data.values())
        # Not requests: answers held right now (HOLD), and the TCP connections that carried /jobs requests
        # since the last reset (control requests not counted).
        data["held"], data["connections"], data["shaped"] = held, connections, shaped
        return data
