"""The names of the error codes IoT Hub and Azure Storage write, as their own lists give them (no I/O).

Every number and name here comes from a source listed in docs/hints.md, "Where the names come from": the C# service
SDK's `ErrorCode.cs` (main) and the v2 SDK's `IotHubServiceErrorCode.cs` for IoT Hub, Microsoft's "Understand and
resolve Azure IoT Hub errors" and "IoT Hub API common error codes" pages, and the Azure Storage REST error-code
lists. A code none of them names gets no name from this monitor (error_codes.unknown_code_info).
"""

from __future__ import annotations

from enum import Enum

ERRORCODE_CS = "C# SDK ErrorCode.cs"
V2_ERRORCODE_CS = "C# SDK v2 IotHubServiceErrorCode.cs"
IOTHUB_ERRORS_PAGE = "IoT Hub docs: Understand and resolve Azure IoT Hub errors"
# The name is in the service's REST spec (its DeviceRegistryOperationError enum); the number is the one the
# monitor's evidence gives (docs/iothub-evidence.md).
SPEC_AND_EVIDENCE = "IoT Hub REST spec (name), docs/iothub-evidence.md (number)"

# IoT Hub's six-digit codes: number -> (name, where the name comes from).
IOTHUB_CODES: dict[int, tuple[str, str]] = {
    400001: ("InvalidProtocolVersion", ERRORCODE_CS),
    400002: ("DeviceInvalidResultCount", ERRORCODE_CS),
    400003: ("InvalidOperation", ERRORCODE_CS),
    400004: ("ArgumentInvalid", ERRORCODE_CS),
    400005: ("ArgumentNull", ERRORCODE_CS),
    400006: ("IotHubFormatError", ERRORCODE_CS),
    # 400007 is left unnamed: ErrorCode.cs calls it DeviceStorageEntitySerializationError and says the service never
    # returns it, yet hubs wrote "Unable to access blob ... errorcode: IH400007" (Azure CLI IoT extension issue 93).
    400008: ("BlobContainerValidationError", ERRORCODE_CS),
    400009: ("ImportWarningExistsError", ERRORCODE_CS),
    400010: ("InvalidSchemaVersion", ERRORCODE_CS),
    400011: ("DeviceDefinedMultipleTimes", ERRORCODE_CS),
    400012: ("DeserializationError", ERRORCODE_CS),
    400013: ("BulkRegistryOperationFailure", ERRORCODE_CS),
    400020: ("IotHubSuspended", V2_ERRORCODE_CS),
    400032: ("ManagedIdentityNotEnabled", SPEC_AND_EVIDENCE),
    400301: ("CannotRegisterModuleToModule", ERRORCODE_CS),
    401001: ("IotHubNotFound", ERRORCODE_CS),
    401002: ("IotHubUnauthorizedAccess", ERRORCODE_CS),
    401003: ("IotHubUnauthorized", ERRORCODE_CS),
    # ErrorCode.cs names 403001 IotHubSuspended (marked unused); the v2 SDK names it JobQuotaExceeded ("another job
    # running"), and the CLI's maintainers see 403001 when a job already runs: the v2 name is the one seen in use.
    403001: ("JobQuotaExceeded", V2_ERRORCODE_CS),
    403002: ("IotHubQuotaExceeded", ERRORCODE_CS),
    403003: ("JobQuotaExceeded", ERRORCODE_CS),
    403004: ("DeviceMaximumQueueDepthExceeded", ERRORCODE_CS),
    403005: ("IotHubMaxCbsTokenExceeded", ERRORCODE_CS),
    403006: ("DeviceMaximumActiveFileUploadLimitExceeded", IOTHUB_ERRORS_PAGE),
    404001: ("DeviceNotFound", ERRORCODE_CS),
    404002: ("JobNotFound", ERRORCODE_CS),
    404010: ("ModuleNotFound", ERRORCODE_CS),
    404103: ("DeviceNotOnline", ERRORCODE_CS),
    404104: ("DeviceConnectionClosedRemotely", IOTHUB_ERRORS_PAGE),
    409001: ("DeviceAlreadyExists", ERRORCODE_CS),
    409002: ("LinkCreationConflict", IOTHUB_ERRORS_PAGE),
    409104: ("JobAlreadyExists", SPEC_AND_EVIDENCE),
    409301: ("ModuleAlreadyExistsOnDevice", ERRORCODE_CS),
    412001: ("PreconditionFailed", ERRORCODE_CS),
    412002: ("DeviceMessageLockLost", ERRORCODE_CS),
    413001: ("MessageTooLarge", ERRORCODE_CS),
    413002: ("TooManyDevices", ERRORCODE_CS),
    413003: ("TooManyModulesOnDevice", ERRORCODE_CS),
    429000: ("GenericTooManyRequests", ERRORCODE_CS),
    429001: ("ThrottlingException", ERRORCODE_CS),
    429002: ("ThrottleBacklogLimitExceeded", ERRORCODE_CS),
    429003: ("ThrottlingBacklogTimeout", ERRORCODE_CS),
    429004: ("ThrottlingMaxActiveJobCountExceeded", ERRORCODE_CS),
    429005: ("DeviceThrottlingLimitExceeded", ERRORCODE_CS),
    500001: ("ServerError", ERRORCODE_CS),
    500002: ("JobCancelled", ERRORCODE_CS),
    500008: ("GenericTimeout", IOTHUB_ERRORS_PAGE),
    500009: ("InvalidThrottleParameter", ERRORCODE_CS),
    503001: ("ServiceUnavailable", ERRORCODE_CS),
    503003: ("PartitionNotFound", ERRORCODE_CS),
    504101: ("GatewayTimeout", IOTHUB_ERRORS_PAGE),
}

# Both 403001 and 403003 are named JobQuotaExceeded: a name stands for the number ErrorCode.cs gives it (403003).
IOTHUB_NUMBERS: dict[str, int] = {
    name.lower(): number for number, (name, source) in sorted(IOTHUB_CODES.items(), key=lambda item: (
        item[1][1] == ERRORCODE_CS, item[0]))
}


class StorageCode(str, Enum):
    """Azure Storage's error codes that decide a hint (REST API "Common REST API error codes", "Blob service error
    codes" and "Shared access signature error codes"). Storage codes are names only; they carry no number."""

    AUTHENTICATION_FAILED = "AuthenticationFailed"
    AUTHORIZATION_FAILURE = "AuthorizationFailure"
    AUTHORIZATION_PERMISSION_MISMATCH = "AuthorizationPermissionMismatch"
    AUTHORIZATION_RESOURCE_TYPE_MISMATCH = "AuthorizationResourceTypeMismatch"
    AUTHORIZATION_SERVICE_MISMATCH = "AuthorizationServiceMismatch"
    AUTHORIZATION_PROTOCOL_MISMATCH = "AuthorizationProtocolMismatch"
    AUTHORIZATION_SOURCE_IP_MISMATCH = "AuthorizationSourceIPMismatch"
    BLOB_NOT_FOUND = "BlobNotFound"
    CONTAINER_NOT_FOUND = "ContainerNotFound"


STORAGE_CODES: dict[str, StorageCode] = {code.value.lower(): code for code in StorageCode}

# HTTP families of IoT Hub's codes: the first three digits are the HTTP status.
FAMILIES: dict[int, str] = {
    400: "bad request", 401: "unauthorized", 403: "forbidden (a quota or limit)", 404: "not found",
    409: "conflict", 412: "precondition failed", 413: "request entity too large", 429: "too many requests",
    500: "internal server error", 503: "service unavailable", 504: "gateway time-out",
}


def iothub_name(number: int | None) -> str | None:
    """The name a source gives `number`; None for a number none names."""
    entry = IOTHUB_CODES.get(number) if number is not None else None
    return entry[0] if entry is not None else None


def code_family(number: int | None) -> str | None:
    """"400 bad request" for a six-digit code of a known HTTP family; None otherwise."""
    if number is None or not 100000 <= number <= 999999:
        return None
    status = number // 1000
    return f"{status} {FAMILIES[status]}" if status in FAMILIES else None


def known_name(word: str) -> bool:
    """Whether `word` is a code name some source gives (IoT Hub's or Storage's)."""
    return word.lower() in IOTHUB_NUMBERS or word.lower() in STORAGE_CODES
