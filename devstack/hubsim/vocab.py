"""The simulator's vocabulary: IoT Hub job enums, api-versions, operations and fault kinds."""

from __future__ import annotations

import enum

HUB_DOMAIN = "azure-devices.net"

# api-versions the real service and its SDKs have used (docs/iothub-evidence.md); anything else is refused.
API_VERSIONS: frozenset[str] = frozenset(
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
API_VERSION_PARAM = "api-version"

DEFAULT_DEVICES_BLOB = "devices.txt"
IMPORT_ERRORS_BLOB = "importErrors.log"
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600.0
THROTTLE_WINDOW_SECONDS = 60.0


class JobType(str, enum.Enum):
    EXPORT = "export"
    IMPORT = "import"


class JobStatus(str, enum.Enum):
    UNKNOWN = "unknown"
    ENQUEUED = "enqueued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"
    QUEUED = "queued"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class EndTimeWhileRunning(str, enum.Enum):
    """What `endTimeUtc` holds while a job has not ended. Absent by default (the REST page lists it as the job's
    end); hub scheduled jobs answer .NET's DateTime.MaxValue while running (azure-iot-sdk-csharp issue 467), and a
    default DateTime serializes as MinValue: unverified for import/export jobs, so each is a variant."""

    ABSENT = "absent"
    MIN_VALUE = "minValue"
    MAX_VALUE = "maxValue"

    @property
    def sentinel(self) -> str | None:
        return {EndTimeWhileRunning.MIN_VALUE: "0001-01-01T00:00:00Z",
                EndTimeWhileRunning.MAX_VALUE: "9999-12-31T23:59:59.9999999Z"}.get(self)


class StorageAuthenticationType(str, enum.Enum):
    KEY_BASED = "keyBased"
    IDENTITY_BASED = "identityBased"


class ImportMode(str, enum.Enum):
    CREATE = "create"
    CREATE_OR_UPDATE = "createOrUpdate"
    CREATE_OR_UPDATE_IF_MATCH_ETAG = "createOrUpdateIfMatchETag"
    DELETE = "delete"
    DELETE_IF_MATCH_ETAG = "deleteIfMatchETag"
    UPDATE = "update"
    UPDATE_IF_MATCH_ETAG = "updateIfMatchETag"
    UPDATE_TWIN = "updateTwin"
    UPDATE_TWIN_IF_MATCH_ETAG = "updateTwinIfMatchETag"


class RejectedLinesEnd(str, enum.Enum):
    """How an import whose device lines were partly or wholly rejected ends (PUT /devstack/import-errors)."""

    COMPLETED = "completed"  # the evidence: completed, progress 100, no failureReason, the log beside the output
    FAILED = "failed"  # the other reading: failed with an ImportErrors failureReason (the log is still written)


class Operation(str, enum.Enum):
    """A /jobs request as counted and as matched by queued faults."""

    ANY = "any"
    GET = "get"
    LIST = "list"
    CREATE = "create"
    CANCEL = "cancel"
    OTHER = "other"  # a /jobs request that is none of the four (unknown path, wrong method)


COUNTED_OPERATIONS = (Operation.GET, Operation.LIST, Operation.CREATE, Operation.CANCEL, Operation.OTHER)


class ErrorShape(str, enum.Enum):
    """The three error body shapes seen from IoT Hub in the wild (docs/iothub-evidence.md, "Errors")."""

    MESSAGE = "message"  # {"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:..."}
    NUMERIC = "numeric"  # {"errorCode":404002,"trackingId":"...","message":"...","timestampUtc":"..."}
    NESTED = "nested"  # the numeric form JSON-escaped inside "Message"
    HEADER_ONLY = "header-only"  # no body; only the iothub-errorcode header names the error


class FaultKind(str, enum.Enum):
    THROTTLE = "throttle"  # 429 with the real ThrottlingBacklogTimeout body (Retry-After optional)
    SERVER_ERROR = "server_error"  # 500 ServerError
    UNAVAILABLE = "unavailable"  # 503 ServiceUnavailable
    SLOW = "slow"  # wait delay_ms, then answer normally
    DROP = "drop"  # close the connection without any response
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    QUOTA_EXCEEDED = "quota_exceeded"  # 403 IotHubQuotaExceeded: the hub's daily quota, not the caller's rights
    TRICKLE = "trickle"  # answer normally, but send the body one byte every delay_ms (default 250)
    # A list that names every job twice, the second copy behind (active jobs 10 points less progress): a hub
    # anomaly the poller must count once (no evidence the real service does it; the harder case).
    DUPLICATE = "duplicate"
    REDIRECT = "redirect"  # 307 Temporary Redirect to the fault's `location` (a client must not follow it)
    # The answer is made, then held until POST /devstack/release (or `delay_ms`, default 30 s, has passed): a
    # gate that keeps a call in flight for exactly as long as a test needs.
    HOLD = "hold"


class Header(str, enum.Enum):
    REQUEST_ID = "x-ms-request-id"
    ERROR_CODE = "iothub-errorcode"
    RETRY_AFTER = "Retry-After"
    AUTHORIZATION = "Authorization"
    CONTENT_TYPE = "Content-Type"
    CONTENT_LENGTH = "Content-Length"
