"""What the host does with a log record, as Azure's host does.

The Python worker tags a record with an invocation only through the id in its thread-local storage
(`context.thread_local_storage.invocation_id`, set on the invocation's own thread), and the host routes a
user log to the function's logger, and so to Application Insights, only while that invocation is executing
(azure-functions-python-worker dispatcher `on_logging` / `get_current_invocation_id`; azure-functions-host
`GrpcWorkerChannel`). Here: a user record whose thread carries a running invocation id goes to stderr with the
function's name and to the telemetry file (telemetry.py); any other user record is dropped from the telemetry
and shown on stderr only, marked as dropped, and counted. The host's own records (`devstack.*`) are system
logs: stderr only.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from devstack.funchost.telemetry import Running, TelemetryFile, new_running

HOST_LABEL = "host"
SYSTEM_LOGGER = "devstack"  # this host's own loggers, like the worker's `azure_functions_worker` category
DROPPED_LABEL = "dropped: no running invocation"
LOG_FORMAT = "%(asctime)s %(levelname)s [%(function)s] %(name)s: %(message)s"
INVOCATION_ID_ATTRIBUTE = "invocation_id"

# The worker's thread-local storage (its `_invocation_id_local`): every Context hands out this one object.
WORKER_STORAGE = threading.local()
_host_label: contextvars.ContextVar[str] = contextvars.ContextVar("devstack_funchost_function", default=HOST_LABEL)


class Invocations:
    """The invocations executing now, by id (the host's `_executingInvocations`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Running] = {}
        self.dropped = 0
        self.telemetry: TelemetryFile | None = None

    def start(self, function: str, invocation_id: str | None = None) -> Running:
        running = new_running(function, invocation_id)
        with self._lock:
            self._running[running.invocation_id] = running
        return running

    def end(self, invocation_id: str) -> None:
        with self._lock:
            self._running.pop(invocation_id, None)

    def current(self) -> Running | None:
        """The running invocation this thread's storage names, if any."""
        invocation_id = getattr(WORKER_STORAGE, INVOCATION_ID_ATTRIBUTE, None)
        if not isinstance(invocation_id, str):
            return None
        with self._lock:
            return self._running.get(invocation_id)

    def count_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def host_trace(self, running: Running, message: str, *, levelno: int = logging.INFO) -> None:
        """One of the host's own lines about an invocation (Executing, Executed, a timeout), which Azure's host
        also sends to Application Insights under `Function.<name>`."""
        logging.getLogger("devstack.funchost").log(levelno, "%s", message)
        if self.telemetry is not None:
            self.telemetry.trace(running, message, levelno=levelno, user=False)


INVOCATIONS = Invocations()


@contextlib.contextmanager
def executing(running: Running) -> Iterator[None]:
    """This thread runs `running`'s function: its logs belong to it, as the worker's do."""
    previous = getattr(WORKER_STORAGE, INVOCATION_ID_ATTRIBUTE, None)
    setattr(WORKER_STORAGE, INVOCATION_ID_ATTRIBUTE, running.invocation_id)
    try:
        yield
    finally:
        setattr(WORKER_STORAGE, INVOCATION_ID_ATTRIBUTE, previous)


@contextlib.contextmanager
def in_function(name: str) -> Iterator[None]:
    """The host's own lines about a function show its name."""
    token = _host_label.set(name)
    try:
        yield
    finally:
        _host_label.reset(token)


def _is_system(record: logging.LogRecord) -> bool:
    return record.name == SYSTEM_LOGGER or record.name.startswith(SYSTEM_LOGGER + ".")


class HostLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        running = INVOCATIONS.current()
        if _is_system(record):
            record.function = running.function if running else _host_label.get()
        elif running is None:
            INVOCATIONS.count_dropped()
            record.function = DROPPED_LABEL
        else:
            record.function = running.function
            telemetry = INVOCATIONS.telemetry
            if telemetry is not None:
                try:
                    telemetry.trace(running, record.getMessage(), levelno=record.levelno, user=True,
                                    created=record.created)
                except Exception:
                    self.handleError(record)
        super().emit(record)


def configure(level: int = logging.INFO, *, telemetry: Path | None = None) -> None:
    """Root handler on stderr applying the host's rule; `telemetry`: where the traces records go."""
    handler = HostLogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if telemetry is not None:
        INVOCATIONS.telemetry = TelemetryFile(telemetry)
