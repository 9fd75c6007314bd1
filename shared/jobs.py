"""IoT Hub import/export job vocabulary: statuses, types, the fields this app reads, hub names."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from shared.clock import parse_utc


class JobStatus(str, Enum):
    """`status` values of JobProperties (official schema, api-version 2021-04-12)."""

    UNKNOWN = "unknown"
    ENQUEUED = "enqueued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"
    QUEUED = "queued"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Read a status as the hub sent it; anything unrecognised counts as `unknown` (active)."""
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        return cls.UNKNOWN


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# A job the hub is working on: its hub is listed on every tick (shared/poller/cadence.py). `unknown` is not one
# here, so a job's unrecognised status cannot keep its hub at the busy cadence.
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.ENQUEUED, JobStatus.RUNNING})


def job_status(job: Mapping[str, Any]) -> JobStatus:
    return JobStatus.parse(job.get("status"))


# What is shown for a job's end while it has none (absent, or a sentinel below).
NOT_ENDED = "not ended"
# .NET's DateTime.MinValue and MaxValue: a service written in .NET may send one instead of leaving endTimeUtc out
# (hub scheduled jobs answer MaxValue while running, azure-iot-sdk-csharp issue 467; unverified for import/export
# jobs). Neither is an end: the years 1 and 9999 are never a real job's.
_SENTINEL_YEARS = frozenset({1, 9999})
_YEAR = re.compile(r"\s*(\d{4})-\d{2}-\d{2}T")


def job_end(job: Mapping[str, Any]) -> datetime.datetime | None:
    """When the job ended; None while it has not (endTimeUtc absent, unreadable, or a sentinel)."""
    ended = parse_utc(job.get("endTimeUtc"))
    return None if ended is None or ended.year in _SENTINEL_YEARS else ended


def _sentinel(raw: object) -> bool:
    # By the text's own year: parse_utc reads neither year (both are out of the range it takes as a real time).
    found = _YEAR.match(raw) if isinstance(raw, str) else None
    return found is not None and int(found.group(1)) in _SENTINEL_YEARS


def job_end_text(job: Mapping[str, Any]) -> object:
    """endTimeUtc for display: NOT_ENDED when the job has no end (absent or a sentinel), else as the hub sent it
    (an unreadable value is shown as unknown where it lands, with what the hub wrote, escaped)."""
    raw = job.get("endTimeUtc")
    return NOT_ENDED if raw is None or _sentinel(raw) else raw


def job_progress(job: Mapping[str, Any]) -> int | None:
    """`progress` as an int, whatever JSON type the hub used; None when absent or not a whole number."""
    value = job.get("progress")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# Every `type` JobProperties may carry (official schema, api-version 2021-04-12): the list route's `type` filter
# takes these and nothing else.
JOB_PROPERTIES_TYPES = (
    "unknown", "export", "import", "backup", "readDeviceProperties", "writeDeviceProperties",
    "updateDeviceConfiguration", "rebootDevice", "factoryResetDevice", "firmwareUpdate", "scheduleDeviceMethod",
    "scheduleUpdateTwin", "restoreFromBackup", "failoverDataCopy",
)


class StorageAuthenticationType(str, Enum):
    KEY_BASED = "keyBased"
    IDENTITY_BASED = "identityBased"


# JobProperties fields that carry container URIs (and so, for keyBased jobs, a SAS).
CONTAINER_URI_FIELDS = ("inputBlobContainerUri", "outputBlobContainerUri")

DEFAULT_API_VERSION = "2021-04-12"
# api-versions seen in the official SDKs' histories and the Azure CLI extension.
KNOWN_API_VERSIONS = frozenset(
    {
        "2016-02-03",
        "2016-11-14",
        "2017-06-30",
        "2018-06-30",
        "2019-03-30",
        "2019-10-01",
        "2020-03-13",
        "2020-09-30",
        "2021-04-12",
        "2024-03-31",
    }
)

# IoT Hub names: 3-50 characters, letters, digits and hyphens, starting and ending with a letter or digit.
HUB_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,48}[A-Za-z0-9]")


def is_valid_hub_name(name: str) -> bool:
    return HUB_NAME_PATTERN.fullmatch(name) is not None
