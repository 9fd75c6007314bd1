"""IoT Hub import/export job vocabulary: statuses, types and the fields this app reads."""

from __future__ import annotations

from enum import Enum


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


class JobType(str, Enum):
    EXPORT = "export"
    IMPORT = "import"


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
