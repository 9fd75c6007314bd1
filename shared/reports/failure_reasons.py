"""A job's `failureReason` parsed into code and text, and a plain-language hint for the usual causes.

IoT Hub words failures in several shapes (docs/iothub-evidence.md): `ErrorCode:Name;text`, a numeric
`ErrorCode:400008;text` or `400008: text`, a JSON object `{"errorCode":404001,"message":...}` (sometimes
inside `Message`), and old texts carrying `errorcode: IH400007`. All of them come out as FailureReason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.redaction import redact_text

# Numeric IoT Hub error codes and their names (docs/iothub-evidence.md).
KNOWN_CODES: dict[int, str] = {
    400004: "ArgumentInvalid",
    400008: "BlobContainerValidationError",
    400032: "ManagedIdentityNotEnabled",
    401002: "IotHubUnauthorizedAccess",
    403002: "IotHubQuotaExceeded",
    403003: "JobQuotaExceeded",
    404002: "JobNotFound",
    409104: "JobAlreadyExists",
    429001: "ThrottlingException",
    429002: "ThrottleBacklogLimitExceeded",
    429003: "ThrottlingBacklogTimeout",
    429004: "ThrottlingMaxActiveJobCountExceeded",
    500001: "ServerError",
}
_CODE_NUMBERS = {name.lower(): number for number, name in KNOWN_CODES.items()}

_ERROR_CODE_PREFIX = re.compile(r"^\s*ErrorCode\s*:\s*([A-Za-z0-9_.-]+)\s*;?\s*(.*)$", re.DOTALL | re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\s*(\d{6})\s*[:;,-]?\s*(.*)$", re.DOTALL)
_IH_CODE = re.compile(r"(?i)\b(?:errorcode\s*:\s*)?IH(\d{6})\b")
MAX_TEXT_CHARS = 4000  # a failureReason is short; anything longer is cut so a report stays readable
MAX_CODE_CHARS = 64  # an error code is a word or a number


@dataclass(frozen=True, kw_only=True)
class FailureReason:
    """`code_name` and `code_number` are filled in from each other when the code is a known one."""

    raw: str
    code_name: str | None
    code_number: int | None
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"raw": self.raw, "code": self.code_name, "number": self.code_number, "text": self.text}


def parse_failure_reason(value: object) -> FailureReason | None:
    """Parse a failureReason as the hub sent it (any of the shapes above); None when there is none."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _from_mapping(dict(value), raw=json.dumps(value, default=str))
    raw = redact_text(str(value))[:MAX_TEXT_CHARS]
    text = raw.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return _from_mapping(decoded, raw=raw)
    match = _ERROR_CODE_PREFIX.match(text)
    if match:
        return _coded(raw, match.group(1), match.group(2).strip())
    match = _LEADING_NUMBER.match(text)
    if match:
        return _coded(raw, match.group(1), match.group(2).strip())
    match = _IH_CODE.search(text)
    if match:
        return _coded(raw, match.group(1), text)
    return FailureReason(raw=raw, code_name=None, code_number=None, text=text)


def _from_mapping(body: dict[str, Any], *, raw: str) -> FailureReason:
    message = body.get("Message", body.get("message"))
    if isinstance(message, str):
        nested = parse_failure_reason(message)
        if nested is not None and (nested.code_name or nested.code_number) and body.get("errorCode") is None:
            return FailureReason(
                raw=redact_text(raw)[:MAX_TEXT_CHARS],
                code_name=nested.code_name,
                code_number=nested.code_number,
                text=nested.text,
            )
    code = body.get("errorCode", body.get("ErrorCode"))
    # Cut and redacted like the text form's: the object's fields are as untrusted and as long as they like.
    text = redact_text(message if isinstance(message, str) else "").strip()[:MAX_TEXT_CHARS]
    code_text = None if code is None else redact_text(str(code))[:MAX_CODE_CHARS]
    return _coded(redact_text(raw)[:MAX_TEXT_CHARS], code_text, text)


def _coded(raw: str, code: str | None, text: str) -> FailureReason:
    name: str | None = None
    number: int | None = None
    if code:
        if code.isdigit():
            number = int(code)
            name = KNOWN_CODES.get(number)
        else:
            name = code
            number = _CODE_NUMBERS.get(code.lower())
    return FailureReason(raw=raw, code_name=name, code_number=number, text=text)


class Hint(Enum):
    """The likely cause of a failure, said plainly. `.value` is the stable key written in reports."""

    SAS_EXPIRED_OR_LACKS_PERMISSIONS = (
        "sasExpiredOrLacksPermissions",
        "The container's SAS token was refused: it has expired, or it lacks permissions. The output container "
        "needs Read, Write and Delete, the input container Read, and the SAS must stay valid until the job ends "
        "(jobs can take hours).",
    )
    CONTAINER_MISSING = (
        "containerMissing",
        "A blob container named in the job does not exist (or the URI names the wrong account or container). "
        "Create it, or fix the container URI, and start the job again.",
    )
    INPUT_BLOB_MISSING = (
        "inputBlobMissing",
        "The import's input blob (devices.txt or inputBlobName) is missing or not committed. Upload it completely "
        "to the input container before starting the job.",
    )
    IDENTITY_LACKS_STORAGE_ROLE = (
        "hubIdentityLacksStorageRole",
        "The IoT hub's managed identity could not use the storage account: enable the hub's identity and give it "
        "the 'Storage Blob Data Contributor' role on the account or container.",
    )
    ANOTHER_JOB_RUNNING = (
        "anotherJobRunning",
        "Another import/export job was already running on this hub; IoT Hub allows only one active job at a "
        "time. Wait for it to finish (or cancel it) and start this one again.",
    )
    THROTTLED = (
        "throttled",
        "IoT Hub throttled the job's requests. Retry later, spread jobs out, or scale the hub up.",
    )
    DEVICE_IMPORT_ERRORS = (
        "deviceImportErrors",
        "Some device lines of the import were rejected; the other lines were applied. The summary of the errors "
        "log below says what was wrong with each kind of line and what to do; fix those lines and import only "
        "them again.",
    )
    STORAGE_FIREWALL = (
        "storageFirewall",
        "The storage account's firewall or network rules refused the request (403 AuthorizationFailure). No "
        "credential gets through a firewall: a new SAS or a managed identity will not help. For IoT Hub, allow "
        "trusted Microsoft services on the account and run the job identity-based; for this monitor, give the "
        "Function app VNet integration into a subnet the account allows, or a private endpoint to the account.",
    )
    APP_IDENTITY_LACKS_STORAGE_ROLE = (
        "appIdentityLacksStorageRole",
        "Storage accepted the monitor's managed identity but refused the operation (403 "
        "AuthorizationPermissionMismatch): the identity has no data role there. Give it 'Storage Blob Data "
        "Contributor' on the container it writes to (or on its storage account).",
    )
    CANCELLED = (
        "cancelled",
        "The job was cancelled (someone or something called DELETE /jobs/{id}); it did not fail by itself.",
    )
    UNKNOWN = ("unknown", "No common cause was recognised: read the failure reason and the job's output container.")

    def __init__(self, key: str, advice: str) -> None:
        self.key = key
        self.advice = advice


# Checked in order: the specific storage and hub error names first, broad words last.
_THROTTLE_WORDS = ("throttl",)
_QUOTA_WORDS = ("jobquotaexceeded", "maxactivejobcount", "only one active")
_IDENTITY_WORDS = ("managedidentitynotenabled", "storage blob data contributor", "managed identity is not enabled")
_FIREWALL_WORDS = ("authorizationfailure",)  # a firewall or network rule (docs/operations.md), not a credential
_AUTH_WORDS = ("authenticationfailed", "authorizationpermissionmismatch", "403")
_SAS_WORDS = ("sas", "signature", "expired", "not authorized", "forbidden")
_BLOB_MISSING_WORDS = ("blobnotfound", "blob does not exist", "not committed", "unable to read blob")
_CONTAINER_MISSING_WORDS = ("containernotfound", "container does not exist", "container not found")
_IMPORT_ERROR_WORDS = ("importerrors", "importerrors.log", "failed to import")


def hint_for(
    reason: FailureReason | None,
    *,
    status: JobStatus,
    storage_authentication: StorageAuthenticationType,
    import_error_lines: int = 0,
) -> Hint:
    """The likeliest common cause of a failed (or cancelled) job."""
    if status is JobStatus.CANCELLED:
        return Hint.CANCELLED
    words = "" if reason is None else f"{reason.code_name or ''} {reason.code_number or ''} {reason.text}".lower()
    number = reason.code_number if reason is not None else None
    identity = storage_authentication is StorageAuthenticationType.IDENTITY_BASED
    if any(w in words for w in _QUOTA_WORDS) or number in (403003, 429004):
        return Hint.ANOTHER_JOB_RUNNING
    if any(w in words for w in _THROTTLE_WORDS) or (number is not None and number // 1000 == 429):
        return Hint.THROTTLED
    if any(w in words for w in _IDENTITY_WORDS) or number == 400032:
        return Hint.IDENTITY_LACKS_STORAGE_ROLE
    if any(w in words for w in _CONTAINER_MISSING_WORDS):
        return Hint.CONTAINER_MISSING
    if any(w in words for w in _BLOB_MISSING_WORDS):
        return Hint.INPUT_BLOB_MISSING
    if any(w in words for w in _FIREWALL_WORDS):
        return Hint.STORAGE_FIREWALL
    if any(w in words for w in _AUTH_WORDS):
        return Hint.IDENTITY_LACKS_STORAGE_ROLE if identity else Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    if import_error_lines > 0 or any(w in words for w in _IMPORT_ERROR_WORDS):
        return Hint.DEVICE_IMPORT_ERRORS
    if any(w in words for w in _SAS_WORDS) and not identity:
        return Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    return Hint.UNKNOWN
