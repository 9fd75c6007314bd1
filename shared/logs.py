"""One JSON object per log line, in the message text: the Functions host drops `extra=` fields."""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.redaction import redact_text


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `{"event": event, **fields}` as JSON, redacted as a last line of defence."""
    if not logger.isEnabledFor(level):
        return
    line = json.dumps({"event": event, **fields}, default=str, separators=(",", ":"), sort_keys=False)
    logger.log(level, redact_text(line))
