"""Executing non-HTTP functions: one at a time per function (singleton), with the retry policy,
recorded so the admin status route can report them."""

from __future__ import annotations

import datetime
import itertools
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from devstack.funchost.discovery import FunctionSpec
from devstack.funchost.logs import in_function

LOG = logging.getLogger("devstack.funchost")
KEPT_RUNS = 50


class RunState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunCause(str, Enum):
    SCHEDULE = "schedule"
    STARTUP = "startup"
    ADMIN = "admin"


@dataclass
class RunRecord:
    id: int
    function: str
    cause: RunCause
    past_due: bool
    state: RunState = RunState.QUEUED
    attempts: int = 0
    queued_at: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat())
    finished_at: str | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function": self.function,
            "cause": self.cause.value,
            "past_due": self.past_due,
            "state": self.state.value,
            "attempts": self.attempts,
            "queued_at": self.queued_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


class FunctionRunner:
    """Runs one non-HTTP function: never two executions at once; failed ones retried per policy."""

    _ids = itertools.count(1)

    def __init__(self, spec: FunctionSpec, invoke: Callable[[bool, int, RunCause], Any], stop: threading.Event) -> None:
        self.spec = spec
        self._invoke = invoke  # (past_due, retry_count, cause) -> result
        self._stop = stop
        self._singleton = threading.Lock()
        self._lock = threading.Lock()
        self._runs: deque[RunRecord] = deque(maxlen=KEPT_RUNS)
        self._counts = {state: 0 for state in RunState}

    def new_run(self, cause: RunCause, past_due: bool) -> RunRecord:
        record = RunRecord(id=next(self._ids), function=self.spec.name, cause=cause, past_due=past_due)
        with self._lock:
            self._runs.append(record)
        return record

    def run(self, record: RunRecord) -> RunRecord:
        """Execute `record` now on this thread (waiting for any running execution first)."""
        with self._singleton:
            record.state = RunState.RUNNING
            retries = 0
            while True:
                record.attempts += 1
                try:
                    self._invoke(record.past_due, retries, record.cause)
                except Exception as exc:
                    record.error = f"{type(exc).__name__}: {exc}"
                    with in_function(self.spec.name):
                        LOG.error(
                            "%s: execution failed (attempt %d)\n%s",
                            self.spec.name,
                            record.attempts,
                            traceback.format_exc(),
                        )
                    policy = self.spec.retry
                    if policy is None or not policy.allows(retries) or self._stop.is_set():
                        record.state = RunState.FAILED
                        break
                    retries += 1
                    delay = policy.delay(retries)
                    LOG.info("%s: retry %d in %.3gs", self.spec.name, retries, delay)
                    if self._stop.wait(delay):
                        record.state = RunState.FAILED
                        break
                else:
                    record.state = RunState.SUCCEEDED
                    record.error = None
                    break
            record.finished_at = datetime.datetime.now(datetime.UTC).isoformat()
            with self._lock:
                self._counts[record.state] += 1
            record.done.set()
            return record

    def run_in_background(self, record: RunRecord) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(record,), name=f"run-{self.spec.name}", daemon=True)
        thread.start()
        return thread

    def status(self) -> dict[str, Any]:
        with self._lock:
            runs = [record.to_json() for record in self._runs]
            counts = {state.value: self._counts[state] for state in (RunState.SUCCEEDED, RunState.FAILED)}
        running = sum(1 for run in runs if run["state"] == RunState.RUNNING.value)
        return {"name": self.spec.name, **counts, "running": running, "runs": runs}
