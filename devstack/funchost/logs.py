"""Host logging to stderr; records logged during an invocation carry the function's name."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator

HOST_LABEL = "host"
LOG_FORMAT = "%(asctime)s %(levelname)s [%(function)s] %(name)s: %(message)s"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("devstack_funchost_function", default=HOST_LABEL)


class FunctionNameFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.function = _current.get()
        return True


@contextlib.contextmanager
def in_function(name: str) -> Iterator[None]:
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def configure(level: int = logging.INFO) -> None:
    """Root handler on stderr, so the app's `logging` calls show up with the function name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(FunctionNameFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
