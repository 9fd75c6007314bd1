"""What Application Insights would store of the host's logs: one `traces` record a line, in a JSON-lines file.

The shape follows the real ingestion of a Functions app's logs (Learn, "Configure monitoring for Azure
Functions" and "Analyze Azure Functions telemetry"; the AppTraces table): the line in `message`,
`severityLevel` 0-4, `operation_Id` (the invocation's W3C trace id) and `operation_Name` (the function), and
`customDimensions` with `Category` (`Function.<name>.User` for the app's own logs, `Function.<name>` for the
host's Executing/Executed lines), `LogLevel`, `InvocationId`, `ProcessId`, `HostInstanceId` and
`prop__{OriginalFormat}`. Only lines the host attributes to a running invocation are written (logs.py).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

ITEM_TYPE = "trace"
ROLE_NAME = "devstack-funchost"
USER_CATEGORY = "Function.{name}.User"
HOST_CATEGORY = "Function.{name}"
# Application Insights' SeverityLevel: Verbose 0, Information 1, Warning 2, Error 3, Critical 4.
_SEVERITY = {logging.DEBUG: 0, logging.INFO: 1, logging.WARNING: 2, logging.ERROR: 3, logging.CRITICAL: 4}
# ILogger's level names, as customDimensions.LogLevel carries them.
_LOG_LEVEL = {logging.DEBUG: "Debug", logging.INFO: "Information", logging.WARNING: "Warning",
              logging.ERROR: "Error", logging.CRITICAL: "Critical"}


@dataclass(frozen=True)
class Running:
    """An invocation the host is executing."""

    function: str
    invocation_id: str
    operation_id: str  # the W3C trace id the host's Activity gives the invocation
    parent_id: str


def new_running(function: str, invocation_id: str | None = None) -> Running:
    return Running(function=function, invocation_id=invocation_id or str(uuid.uuid4()),
                   operation_id=uuid.uuid4().hex, parent_id=uuid.uuid4().hex[:16])


def _level(levelno: int) -> int:
    return max((level for level in _SEVERITY if level <= levelno), default=logging.DEBUG)


class TelemetryFile:
    """Appends `traces` records to `path`, one JSON object a line, flushed as written (tests read it live)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._host_instance = str(uuid.uuid4())
        self._stream = path.open("a", encoding="utf-8")

    def trace(self, running: Running, message: str, *, levelno: int, user: bool, created: float | None = None) -> None:
        level = _level(levelno)
        moment = datetime.datetime.fromtimestamp(created, datetime.UTC) if created else datetime.datetime.now(
            datetime.UTC)
        category = (USER_CATEGORY if user else HOST_CATEGORY).format(name=running.function)
        record = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "itemType": ITEM_TYPE,
            "message": message,
            "severityLevel": _SEVERITY[level],
            "operation_Id": running.operation_id,
            "operation_ParentId": running.parent_id,
            "operation_Name": running.function,
            "cloud_RoleName": ROLE_NAME,
            "customDimensions": {
                "Category": category,
                "LogLevel": _LOG_LEVEL[level],
                "InvocationId": running.invocation_id,
                "ProcessId": str(os.getpid()),
                "HostInstanceId": self._host_instance,
                "prop__{OriginalFormat}": message,
            },
        }
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            self._stream.close()
