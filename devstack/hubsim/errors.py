"""IoT Hub-shaped errors: `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:..."}`."""

from __future__ import annotations

import datetime
import enum
import json
import uuid

from devstack.hubsim.vocab import ErrorShape

THROTTLE_TEXT = "The request has been throttled. Wait {seconds} seconds and try again. Operation type: CRUD"


class ErrorCode(enum.Enum):
    """IoT Hub error names with their numeric codes and HTTP statuses (docs/iothub-evidence.md)."""

    ARGUMENT_INVALID = ("ArgumentInvalid", 400004, 400)
    BLOB_CONTAINER_VALIDATION_ERROR = ("BlobContainerValidationError", 400008, 400)
    MANAGED_IDENTITY_NOT_ENABLED = ("ManagedIdentityNotEnabled", 400032, 400)
    UNAUTHORIZED = ("IotHubUnauthorizedAccess", 401002, 401)
    IOTHUB_QUOTA_EXCEEDED = ("IotHubQuotaExceeded", 403002, 403)
    JOB_QUOTA_EXCEEDED = ("JobQuotaExceeded", 403003, 403)
    NOT_FOUND = ("NotFound", 404000, 404)
    JOB_NOT_FOUND = ("JobNotFound", 404002, 404)
    METHOD_NOT_ALLOWED = ("MethodNotAllowed", 405000, 405)
    JOB_ALREADY_EXISTS = ("JobAlreadyExists", 409104, 409)
    THROTTLING_BACKLOG_TIMEOUT = ("ThrottlingBacklogTimeout", 429003, 429)
    SERVER_ERROR = ("ServerError", 500001, 500)
    SERVICE_UNAVAILABLE = ("ServiceUnavailable", 503000, 503)

    def __init__(self, code_name: str, number: int, http_status: int) -> None:
        self.code_name = code_name
        self.number = number
        self.http_status = http_status


class DeviceErrorCode(enum.IntEnum):
    """Numeric codes written to importErrors.log."""

    INVALID_DEVICE_FORMAT = 400012
    ARGUMENT_INVALID = 400004
    DEVICE_NOT_FOUND = 404001
    DEVICE_ALREADY_EXISTS = 409001
    PRECONDITION_FAILED = 412002


class HubError(Exception):
    """An error answered to the caller in IoT Hub's shape."""

    def __init__(self, code: ErrorCode, text: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code.code_name}: {text}")
        self.code = code
        self.text = text
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return self.code.http_status

    def body(self, shape: ErrorShape = ErrorShape.MESSAGE) -> bytes:
        return error_body(self.code, self.text, shape=shape)


def tracking_timestamp(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%m/%d/%Y %H:%M:%S")


def error_body(code: ErrorCode, text: str, *, shape: ErrorShape = ErrorShape.MESSAGE) -> bytes:
    tracking_id = uuid.uuid4().hex
    if shape is ErrorShape.HEADER_ONLY:
        return b""
    if shape is ErrorShape.MESSAGE:
        return json.dumps({
            "Message": f"ErrorCode:{code.code_name};{text}",
            "ExceptionMessage": f"Tracking ID:{tracking_id}-G:0-TimeStamp:{tracking_timestamp()}",
        }).encode()
    numeric = {
        "errorCode": code.number,
        "trackingId": tracking_id,
        "message": text,
        "timestampUtc": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
    }
    if shape is ErrorShape.NUMERIC:
        return json.dumps(numeric).encode()
    return json.dumps({"Message": json.dumps(numeric), "ExceptionMessage": ""}).encode()


def throttle_error(wait_seconds: int, *, retry_after: int | None = None) -> HubError:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return HubError(ErrorCode.THROTTLING_BACKLOG_TIMEOUT, THROTTLE_TEXT.format(seconds=wait_seconds), headers=headers)
