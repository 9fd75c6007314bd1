"""Timer triggers: one scheduler thread per timer function.

- The schedule (with %AppSetting% references resolved at start) is computed in UTC.
- Executions never overlap: the thread runs each execution itself, and admin runs share the same
  singleton lock (FunctionRunner).
- runOnStartup: one execution when the host starts (past_due false).
- past_due: with useMonitor (the default) an execution that starts after the FOLLOWING occurrence
  was already due — at least one whole interval late, e.g. because the previous run overran — gets
  past_due true and the missed occurrences collapse into it. Without useMonitor it is always false.
"""

from __future__ import annotations

import datetime
import logging
import threading

from devstack.funchost.discovery import TimerTrigger
from devstack.funchost.ncrontab import Schedule
from devstack.funchost.runs import FunctionRunner, RunCause

LOG = logging.getLogger("devstack.funchost")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TimerScheduler:
    def __init__(
        self, runner: FunctionRunner, trigger: TimerTrigger, schedule: Schedule, stop: threading.Event
    ) -> None:
        self._runner = runner
        self._trigger = trigger
        self._schedule = schedule
        self._stop = stop
        self._thread = threading.Thread(target=self._loop, name=f"timer-{runner.spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        name = self._runner.spec.name
        if self._trigger.run_on_startup:
            self._runner.run(self._runner.new_run(RunCause.STARTUP, past_due=False))
        anchor = utcnow()
        while not self._stop.is_set():
            due = self._schedule.next_after(anchor)
            LOG.debug("%s: next run at %s", name, due.isoformat())
            if self._stop.wait(max(0.0, (due - utcnow()).total_seconds())):
                return
            now = utcnow()
            missed = now >= self._schedule.next_after(due)
            past_due = missed and self._trigger.use_monitor
            self._runner.run(self._runner.new_run(RunCause.SCHEDULE, past_due=past_due))
            anchor = utcnow() - datetime.timedelta(seconds=1) if missed else due
