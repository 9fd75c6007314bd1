"""One JSON object per log line, in the message text: the Functions host drops `extra=` fields.

And every line logged during an invocation carries that invocation, whichever thread logs it. The Python
worker tags a record with an invocation only through the id in its thread-local storage, which it sets on
the invocation's own thread; the host drops a user log whose invocation is not running (Learn, Python
developer reference, "Logging from created threads"; azure-functions-host GrpcWorkerChannel). So a function
enters `invocation(context)`, and a thread the app starts runs `carried(fn)`: the invocation id is set in
that thread's storage while `fn` runs, and nested threads carry it on.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from shared.redaction import redact_text

P = ParamSpec("P")
R = TypeVar("R")
INVOCATION_ID_ATTRIBUTE = "invocation_id"  # the worker reads this attribute of its thread-local storage


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `{"event": event, **fields}` as JSON, redacted as a last line of defence."""
    if not logger.isEnabledFor(level):
        return
    line = json.dumps({"event": event, **fields}, default=str, separators=(",", ":"), sort_keys=False)
    logger.log(level, redact_text(line))


@dataclass(frozen=True)
class Invocation:
    invocation_id: str
    storage: Any  # the worker's thread-local storage: `context.thread_local_storage`


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("jobmonitor_invocation", default=None)


@contextlib.contextmanager
def invocation(context: Any | None) -> Iterator[None]:
    """The function's body runs inside: threads started with `carried` then log as this invocation."""
    if context is None:
        yield
        return
    token = _current.set(Invocation(str(context.invocation_id), context.thread_local_storage))
    try:
        yield
    finally:
        _current.reset(token)


def carried(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, to run on another thread as part of the current invocation (itself when there is none)."""
    current = _current.get()
    if current is None:
        return fn

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        storage = current.storage
        previous = getattr(storage, INVOCATION_ID_ATTRIBUTE, None)
        setattr(storage, INVOCATION_ID_ATTRIBUTE, current.invocation_id)
        token = _current.set(current)
        try:
            return fn(*args, **kwargs)
        finally:
            # Pool threads outlive the invocation: a later task of another must not log as this one.
            _current.reset(token)
            setattr(storage, INVOCATION_ID_ATTRIBUTE, previous)

    return run
