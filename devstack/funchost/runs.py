"""Executing non-HTTP functions: one execution at a time per function (singleton), with the retry policy,
recorded so the admin status route can report them.

Turns are taken in arrival order, one attempt at a time: a failed run waiting for its retry gives the function
up, and a run that arrived meanwhile (a run-now) goes first. At most one run-now waits at a time: another
request while it waits joins it. So a run-now answers within the attempt running when it came (each bounded by
functionTimeout) plus its own, never behind a chain of retries; its record names the run it was queued behind.
"""

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
    RETRYING = "retrying"  # an attempt failed; the next waits for its delay and its turn
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
    queued_behind: dict[str, Any] | None = None  # the run that had the function when this one was queued
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    attempted: threading.Event = field(default_factory=threading.Event, repr=False)  # its first attempt ended

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "cause": self.cause.value, "state": self.state.value, "attempts": self.attempts}

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
            "queuedBehind": self.queued_behind,
        }


class _Turns:
    """The function's singleton, granted in arrival order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self.holder: RunRecord | None = None

    def take(self, record: RunRecord) -> None:
        with self._cond:
            self._waiting.append(record.id)
            self._cond.wait_for(lambda: self.holder is None and self._waiting[0] == record.id)
            self._waiting.popleft()
            self.holder = record

    def give_back(self) -> None:
        with self._cond:
            self.holder = None
            self._cond.notify_all()


class FunctionRunner:
    """Runs one non-HTTP function: never two executions at once; failed ones retried per policy."""

    _ids = itertools.count(1)

    def __init__(self, spec: FunctionSpec, invoke: Callable[[bool, int, RunCause], Any], stop: threading.Event) -> None:
        self.spec = spec
        self._invoke = invoke  # (past_due, retry_count, cause) -> result
        self._stop = stop
        self._turns = _Turns()
        self._lock = threading.Lock()
        self._runs: deque[RunRecord] = deque(maxlen=KEPT_RUNS)
        self._counts = {state: 0 for state in RunState}
        self._waiting_admin: RunRecord | None = None
        self._admin_lock = threading.Lock()

    def new_run(self, cause: RunCause, past_due: bool) -> RunRecord:
        record = RunRecord(id=next(self._ids), function=self.spec.name, cause=cause, past_due=past_due)
        holder = self._turns.holder
        if holder is not None:
            record.queued_behind = holder.brief()
        with self._lock:
            self._runs.append(record)
        return record

    def run_now(self) -> tuple[RunRecord, bool]:
        """A run-now: a new run started in the background, or the one already waiting (joined: True)."""
        with self._admin_lock:  # two requests at once must not both start a run
            with self._lock:
                waiting = self._waiting_admin
                if waiting is not None and waiting.state is RunState.QUEUED:
                    return waiting, True
            record = self.new_run(RunCause.ADMIN, past_due=False)
            with self._lock:
                self._waiting_admin = record
        self.run_in_background(record)
        return record, False

    def run(self, record: RunRecord) -> RunRecord:
        """Execute `record` on this thread, each attempt in its turn."""
        retries = 0
        while True:
            self._turns.take(record)
            with self._lock:
                if self._waiting_admin is record:
                    self._waiting_admin = None
            record.state = RunState.RUNNING
            record.attempts += 1
            try:
                self._invoke(record.past_due, retries, record.cause)
            except Exception as exc:
                record.error = f"{type(exc).__name__}: {exc}"
                with in_function(self.spec.name):
                    LOG.error("%s: execution failed (attempt %d)\n%s", self.spec.name, record.attempts,
                              traceback.format_exc())
            else:
                record.state, record.error = RunState.SUCCEEDED, None
            finally:
                self._turns.give_back()
            if record.state is RunState.SUCCEEDED:
                break
            policy = self.spec.retry
            if policy is None or not policy.allows(retries) or self._stop.is_set():
                record.state = RunState.FAILED
                break
            retries += 1
            delay = policy.delay(retries)
            record.state = RunState.RETRYING
            record.attempted.set()
            LOG.info("%s: retry %d in %.3gs", self.spec.name, retries, delay)
            if self._stop.wait(delay):
                record.state = RunState.FAILED
                break
        record.finished_at = datetime.datetime.now(datetime.UTC).isoformat()
        with self._lock:
            self._counts[record.state] += 1
        record.attempted.set()
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
